"""The implement-it exercises of labs 06-10 and the reworked 10.2: each checker accepts a reference
solution written here independently of the package (a plain loop, numpy, a hook), rejects the blank and
each typical wrong answer with its own hint, and turns bad input into a hint, never a traceback.
The oracles the checkers compare with are the package's calls, scipy's `brentq` and `permutation_test`,
and tensorly's HOOI; the solutions here are written out the way a student would."""
import numpy as np
import pandas as pd
import pytest
import torch

import latentlab as ll
from latentlab.course import exercises as ex

from helpers import gen, right
from helpers import hint as some_hint


def hint(fb: ex.Feedback, *words: str) -> None:
    some_hint(fb, *words)
    assert "\n" not in fb.message and fb.message.count(". ") <= 3, fb  # a sentence or two


BAD = ["nonsense", 3, float("nan"), [1.0, 2.0], {"a": 1}, torch.zeros(2)]


# ----------------------------------------------------------------------------- 06.3 x-space guidance


def _guide(model, x_t, t, v, gamma, n, *, sign=1.0, fresh=True, minus=True):
    x, step = x_t, None
    for _ in range(n):
        if fresh or step is None:
            step = ll.eps_of(model, x + v, t) - (ll.eps_of(model, x, t) if minus else 0)
        x = x + sign * gamma * step
    return x


@pytest.fixture
def guidance_case(model):
    x = torch.randn(model.sample_shape, generator=gen(3))
    v = torch.randn(model.sample_shape, generator=gen(4))
    return model, x, 600, v / v.norm()


def test_x_space_guidance_accepts_a_loop(guidance_case):
    model, x, t, v = guidance_case
    fb = ex.check_x_space_guidance(model, x, t, v, _guide)
    right(fb)
    # the message names the setting of each cosine it prints (the lab compares the first with its section 4)
    assert " at (0.1, 16)" in fb.message and " at (0.3, 2)" in fb.message, fb.message
    batched = lambda m, x, t, v, g, n: _guide(m, x[None], t, v, g, n)  # noqa: E731  (returns (1, C, H, W))
    right(ex.check_x_space_guidance(model, x, t, v, batched))


@pytest.mark.slow  # a full DDIM run or the bundled model: `make test` runs it, `make check` does not
def test_x_space_guidance_names_each_slip(guidance_case):
    model, x, t, v = guidance_case
    check = lambda f: ex.check_x_space_guidance(model, x, t, v, f)  # noqa: E731
    hint(check(None), "Fill in `guide`")
    hint(check(lambda m, x, t, v, g, n: _guide(m, x, t, v, g, n, sign=-1.0)), "Wrong sign")
    hint(check(lambda m, x, t, v, g, n: _guide(m, x, t, v, g, n, fresh=False)), "computed once")
    hint(check(lambda m, x, t, v, g, n: _guide(m, x, t, v, g, n, minus=False)), "*difference*")
    hint(check(lambda m, x, t, v, g, n: _guide(m, x, t, v, 1.0, n)), "not scaled")
    hint(check(lambda m, x, t, v, g, n: _guide(m, x, t, v, 0.1, 16)), "not numbers written into the loop")
    hint(check(lambda m, x, t, v, g, n: _guide(m, x, t, v, g, n - 1)), "after 15 step(s), not 16")
    hint(check(lambda m, x, t, v, g, n: x + g * n * v), "along v itself")
    hint(check(lambda m, x, t, v, g, n: x), "unchanged")
    hint(check(lambda m, x, t, v, g, n: None), "returned None")
    hint(check(lambda m, x, t, v, g, n: x[0]), "shape")
    hint(check(lambda m, x, t, v, g, n: 1 / 0), "raised ZeroDivisionError")
    hint(check(3), "should be a function")
    hint(ex.check_x_space_guidance("model", x, t, v, _guide), "pass the notebook's `model`")


# ----------------------------------------------------------------------------- 07.3 HOOI


def _unfold(T, n):
    return T.movedim(n, 0).reshape(T.shape[n], -1)


def _hooi_numpy(T, ranks, n_iter, *, jacobi=False, project=True):
    """HOOI in numpy (einsum over the other modes), the way the lab asks for it."""
    X = T.numpy()
    A = [np.linalg.svd(_unfold(T, n).numpy(), full_matrices=False)[0][:, :r] for n, r in enumerate(ranks)]
    proj = {0: "ijk,jb,kc->ibc", 1: "ijk,ia,kc->ajc", 2: "ijk,ia,jb->abk"}
    for _ in range(n_iter):
        old = list(A)
        for n, r in enumerate(ranks):
            use = old if jacobi else A
            Y = np.einsum(proj[n], X, *[use[m] for m in range(3) if m != n]) if project else X
            A[n] = np.linalg.svd(np.moveaxis(Y, n, 0).reshape(Y.shape[n], -1), full_matrices=False)[0][:, :r]
    core = np.einsum("ijk,ia,jb,kc->abc", X, *A)
    return torch.from_numpy(core), [torch.from_numpy(a) for a in A]


@pytest.fixture
def noise_tensor():
    return torch.randn(6, 7, 8, generator=gen(72), dtype=torch.float64)


def test_hooi_accepts_a_numpy_sweep(noise_tensor):
    T = noise_tensor
    right(ex.check_hooi(T, (2, 2, 2), _hooi_numpy))
    # the check is not vacuous: HOOI keeps more than the HOSVD here
    assert _energy(*_hooi_numpy(T, (2, 2, 2), 8), T) > _energy(*_hooi_numpy(T, (2, 2, 2), 0), T) + 0.01


def _energy(core, factors, T):
    return float(core.norm() ** 2 / T.norm() ** 2)


def test_hooi_names_each_slip(noise_tensor):
    T = noise_tensor
    check = lambda f: ex.check_hooi(T, (2, 2, 2), f)  # noqa: E731
    hint(check(None), "Fill in `hooi`")
    hint(check(lambda T, r, n: _hooi_numpy(T, r, n, project=False)), "*other* modes")
    hint(check(lambda T, r, n: _hooi_numpy(T, r, n, jacobi=True)), "previous sweep")
    rows = lambda T, r, n: (lambda c, A: (c, [a.T for a in A]))(*_hooi_numpy(T, r, n))  # noqa: E731
    hint(check(rows), "columns")
    hint(check(lambda T, r, n: (lambda c, A: (2 * c, A))(*_hooi_numpy(T, r, n))), "`core` is not")
    hint(check(lambda T, r, n: (lambda c, A: (c, [2 * a for a in A]))(*_hooi_numpy(T, r, n))), "orthonormal")
    hint(check(lambda T, r, n: _hooi_numpy(T, r, n)[1]), "factors")
    hint(check(lambda T, r, n: 3), "pair `(core, factors)`")
    hint(check(lambda T, r, n: None), "returned None")
    random_A = [torch.linalg.qr(torch.randn(s, 2, generator=gen(s), dtype=torch.float64))[0] for s in T.shape]
    fixed = lambda T, r, n: (torch.einsum("ijk,ia,jb,kc->abc", T, *random_A), random_A)  # noqa: E731
    hint(check(fixed), "n_iter = 0", "truncated HOSVD")


# ----------------------------------------------------------------------------- 08.4 a strength for a budget


def bisect(pixels_at, budget, lo, hi, tol):
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if pixels_at(mid) < budget else (lo, mid)
    return (lo + hi) / 2


@pytest.fixture
def budget_world(model):
    """A tiny model, a constant dh as the 'editor', one face, and the strength (by scipy) that meets 0.05."""
    from scipy.optimize import brentq

    from latentlab.metrics import pixel_change

    x_T = torch.randn(1, *model.sample_shape, generator=gen(8))
    dh = torch.randn(model.h_shape, generator=gen(9))
    editor = lambda t, h: dh.expand_as(h)  # noqa: E731
    base = ll.ddim_sample(model, x_T, 4, progress=False)

    def pixels_at(c):
        x = ll.ddim_sample(model, x_T, 4, dh=lambda t, h: c * editor(t, h), t_edit=200, asymmetric=True,
                           progress=False)
        return float(pixel_change(x, base).mean())

    budget = 0.5 * pixels_at(1.0)
    c = brentq(lambda c: pixels_at(c) - budget, 0.0, 1.0, xtol=1e-6)
    return model, x_T, editor, budget, c


def test_strength_for_budget_accepts_a_bisection(budget_world):
    model, x_T, editor, budget, c = budget_world
    right(ex.check_strength_for_budget(model, x_T, bisect, c, budget, editor=editor, steps=4))


def test_strength_for_budget_names_each_slip(budget_world):
    model, x_T, editor, budget, c = budget_world
    check = lambda f, c: ex.check_strength_for_budget(model, x_T, f, c, budget, editor=editor, steps=4)  # noqa: E731

    def reversed_(pixels_at, budget, lo, hi, tol):
        while hi - lo > tol:
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if pixels_at(mid) > budget else (lo, mid)
        return (lo + hi) / 2

    def three_halvings(pixels_at, budget, lo, hi, tol):
        return bisect(pixels_at, budget, lo, hi, (hi - lo) / 8)

    def scan(pixels_at, budget, lo, hi, tol):
        grid = np.arange(lo, hi, tol / 2)
        return float(min(grid, key=lambda c: abs(pixels_at(c) - budget)))

    hint(check(None, None), "Fill in `strength_for_budget`")
    hint(check(reversed_, c), "reversed")
    hint(check(lambda p, b, lo, hi, tol: p(bisect(p, b, lo, hi, tol)), c), "a pixel change", "return the strength")
    hint(check(three_halvings, c), "halve [lo, hi]")
    hint(check(scan, c), "bisection halves")
    hint(check(bisect, 1.5 * c), "not", f"{budget:g}")
    hint(check(bisect, -1.0), "positive")
    hint(check(lambda *a: 1 / 0, c), "raised ZeroDivisionError")
    hint(check(lambda *a: None, c), "returned None")


# ----------------------------------------------------------------------------- 09.4 h by a hook


def h_by_hook(unet, x, t):
    seen = []
    handle = unet.mid_block.register_forward_hook(lambda module, args, output: seen.append(output))
    try:
        unet(x, t)
    finally:
        handle.remove()
    return seen[0]


def _hooked(block, *, keep="output", remove=True):
    def read(unet, x, t):
        seen = []
        module = block(unet)
        handle = module.register_forward_hook(lambda m, args, out: seen.append(args[0] if keep == "input" else out))
        unet(x, t)
        if remove:
            handle.remove()
        return seen[0]
    return read


def test_h_by_hook_accepts_a_hook(model):
    right(ex.check_h_by_hook(model, h_by_hook))
    h = h_by_hook(model.unet, torch.randn(2, *model.sample_shape, generator=gen(1)), 500)
    assert tuple(h.shape[1:]) == tuple(model.h_shape)


def test_h_by_hook_names_each_slip(model):
    check = lambda f: ex.check_h_by_hook(model, f)  # noqa: E731
    hint(check(None), "Fill in `h_by_hook`")
    hint(check(_hooked(lambda u: u.mid_block, remove=False)), "left 1 hook(s)")
    assert not any(m._forward_hooks for m in model.unet.modules())  # the checker removed it
    right(check(h_by_hook))  # and the model works as before
    hint(check(_hooked(lambda u: u.mid_block, keep="input")), "*input*")
    hint(check(_hooked(lambda u: u.up_blocks[0])), "not another block")
    hint(check(lambda unet, x, t: unet(x, t).sample), "x's shape")
    hint(check(lambda unet, x, t: h_by_hook(unet, x, t)[0]), "Keep the batch")
    hint(check(lambda unet, x, t: [h_by_hook(unet, x, t)]), "not the list")
    hint(check(lambda unet, x, t: None), "returned None")
    hint(check(lambda unet, x, t: h_by_hook(unet, x, 900)), "Right shape, other numbers")
    hint(ex.check_h_by_hook(ll.tiny_model(conditional=True), h_by_hook), "unconditional")


# ----------------------------------------------------------------------------- 10.2 and 10.4


def _samples():
    rows = [{"attr": "hair_color", "method": m, "sample": i, "movable": True, "change": d + 0.01 * i}
            for m, d in (("good", 1.0), ("random", 0.0), ("bad", -1.0)) for i in range(20)]
    rng = np.random.default_rng(0)  # "weak": p between 0.05 / 28 and 0.05, a positive difference
    rows += [{"attr": "hair_color", "method": "weak", "sample": i, "movable": True,
              "change": 0.01 * i + e} for i, e in enumerate(rng.normal(0.06, 0.1, 20))]
    return pd.DataFrame(rows)


def test_beats_random_assesses_all_three_answers():
    from scipy.stats import wilcoxon

    s = _samples()
    w = s.pivot(index="sample", columns="method", values="change")
    p_weak = wilcoxon(w["weak"] - w["random"]).pvalue
    assert 0.05 / 28 < p_weak < 0.05 and wilcoxon(w["bad"] - w["random"]).pvalue < 0.05
    check = lambda a, u, b: ex.check_beats_random(s, "hair_color", a, u, b)  # noqa: E731
    right(check({"good"}, {"good", "weak"}, {"bad"}))
    hint(check({"good"}, None, None), "Fill in `answer`, `uncorrected` and `worse`")
    hint(check({"good"}, {"good"}, {"bad"}), "corrected list again")
    hint(check({"good"}, {"good", "weak", "bad"}, {"bad"}), "*negative* difference")
    hint(check({"good"}, {"good", "weak"}, set()), "`worse` should hold the 1")
    hint(check({"good"}, {"good", "weak"}, {"bad", "weak"}), "*more* than random")
    hint(check({"good", "weak"}, {"good", "weak"}, {"bad"}), "uncorrected 0.05")
    hint(check({"good"}, {"good", "weak"}, {"random"}), "baseline itself")
    hint(check({"good"}, "nope", {"bad"}), "not methods")
    hint(check({"good"}, {"good", "weak"}, 3), "set of method names")


def permutation_p(a, b, n_resamples, seed):
    d = np.asarray(a) - np.asarray(b)
    flips = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n_resamples, len(d)))
    return (1 + np.sum((flips * d).mean(1) >= d.mean())) / (n_resamples + 1)


def test_paired_permutation_accepts_sign_flips():
    right(ex.check_paired_permutation(permutation_p))


def test_paired_permutation_names_each_slip():
    def flips(a, b, n, seed):
        return np.random.default_rng(seed).choice([-1.0, 1.0], size=(n, len(a))) * (np.asarray(a) - np.asarray(b))

    def no_plus_one(a, b, n, seed):
        return float(np.mean(flips(a, b, n, seed).mean(1) >= np.mean(a - b)))

    def two_sided(a, b, n, seed):
        return (1 + np.sum(np.abs(flips(a, b, n, seed).mean(1)) >= abs(np.mean(a - b)))) / (n + 1)

    def reversed_(a, b, n, seed):
        return (1 + np.sum(flips(a, b, n, seed).mean(1) <= np.mean(a - b))) / (n + 1)

    def unpaired(a, b, n, seed):
        rng, x, k = np.random.default_rng(seed), np.concatenate([a, b]), len(a)
        obs, hits = a.mean() - b.mean(), 0
        for _ in range(n):
            rng.shuffle(x)
            hits += x[:k].mean() - x[k:].mean() >= obs
        return (hits + 1) / (n + 1)

    check = ex.check_paired_permutation
    hint(check(None), "Fill in `permutation_p`")
    hint(check(no_plus_one), "(k + 1) / (n_resamples + 1)")
    hint(check(two_sided), "two-sided")
    hint(check(reversed_), "reversed")
    hint(check(unpaired), "paired")
    hint(check(lambda a, b, n, seed: 1.5), "lies in (0, 1]")
    hint(check(lambda a, b, n, seed: None), "returned None")
    hint(check(lambda a, b, n, seed: "0.03"), "number")


# ----------------------------------------------------------------------------- bad input


def test_bad_input_gets_a_hint_not_a_traceback(model, guidance_case, noise_tensor):
    _, x, t, v = guidance_case
    calls = {
        "guidance": lambda a: ex.check_x_space_guidance(model, x, t, v, a),
        "guidance x": lambda a: ex.check_x_space_guidance(model, a, t, v, _guide),
        "hooi": lambda a: ex.check_hooi(noise_tensor, (2, 2, 2), a),
        "budget": lambda a: ex.check_strength_for_budget(model, torch.zeros(1, *model.sample_shape), bisect, a,
                                                         editor=lambda t, h: h, steps=2),
        "hook": lambda a: ex.check_h_by_hook(model, a),
        "permutation": lambda a: ex.check_paired_permutation(a),
        "beats random": lambda a: ex.check_beats_random(_samples(), "hair_color", {"good"}, a, {"bad"}),
    }
    for name, call in calls.items():
        for bad in BAD:
            fb = call(bad)
            assert isinstance(fb, ex.Feedback) and not fb.ok and len(fb.message) > 20, (name, bad, fb)
            assert "\n" not in fb.message and fb.message.count(". ") <= 3, (name, bad, fb)
