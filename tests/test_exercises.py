"""The exercise checks: each accepts the solution (computed here another way: numpy, a closed form, a
loop of the sampler), rejects the blank and the typical wrong answers with the hint that fits, and
turns bad input into a hint, never a traceback."""
import math

import numpy as np
import pytest
import torch

import latentlab as ll
from latentlab.course import exercises as ex

from helpers import LinearProbe, gen, hint, right


def test_feedback_reads_well():
    fb = ex.Feedback(False, "try again with A^T A.", "01.1")
    assert not fb and repr(fb) == "Not yet (01.1): try again with A^T A."
    assert "Right" in ex.Feedback(True, "ok")._repr_markdown_()


# ----------------------------------------------------------------------------- 01


A = torch.tensor([[3.0, 0.0], [4.0, 5.0]])


def test_svd_by_hand():
    _, s, vh = np.linalg.svd(A.numpy().astype(float))
    right(ex.check_svd_by_hand(A, s.tolist(), (-vh[0]).tolist()))  # the sign of v_1 is free
    hint(ex.check_svd_by_hand(A, None, None), "Fill in")
    hint(ex.check_svd_by_hand(A, (s**2).tolist(), vh[0]), "eigenvalues of A^T A")
    hint(ex.check_svd_by_hand(A, [5.0, 3.0], vh[0]), "A's eigenvalues")
    hint(ex.check_svd_by_hand(A, s[::-1].tolist(), vh[0]), "wrong order")
    hint(ex.check_svd_by_hand(A, s, 2 * vh[0]), "divide it by its norm")
    u1 = A.numpy() @ vh[0] / s[0]
    hint(ex.check_svd_by_hand(A, s, u1), "u_1")


def test_topk_svd():
    M = torch.randn(6, 4, generator=gen(1), dtype=torch.float64)
    svd = ll.topk_svd(lambda v: M @ v, lambda u: M.T @ u, (4,), k=2, dtype=torch.float64)
    right(ex.check_topk_svd(M, svd))
    hint(ex.check_topk_svd(M, None), "Fill in")
    swapped = ll.topk_svd(lambda v: M.T @ v, lambda u: M @ u, (6,), k=2, dtype=torch.float64)
    hint(ex.check_topk_svd(M, swapped), "swapped")
    hint(ex.check_topk_svd(M, (svd, {})), "return_info")
    hint(ex.check_topk_svd(M, ll.SVD(svd.U, 2 * svd.S, svd.V)), "dense SVD")
    hint(ex.check_topk_svd(M, ll.SVD(svd.U, svd.S, svd.V.T)), "one direction per row")


def test_kernel_direction():
    J = torch.tensor([[1.0, 2.0, 0.5], [0.0, 1.0, -1.0]], dtype=torch.float64)
    vh = np.linalg.svd(J.numpy())[2]
    right(ex.check_kernel_direction(J, vh[2]))
    assert np.abs(J.numpy() @ vh[2]).max() < 1e-12  # the oracle is a kernel vector
    hint(ex.check_kernel_direction(J, vh[0]), "v_1")
    hint(ex.check_kernel_direction(J, [0.0, 0.0, 0.0]), "unit vector")
    hint(ex.check_kernel_direction(J, 3 * vh[2]), "unit vector")
    hint(ex.check_kernel_direction(J, vh[:, :2]), "shape")
    rounded = np.round(vh[2], 4)
    hint(ex.check_kernel_direction(J, rounded / np.linalg.norm(rounded)), "nearly 0")  # typed in: close, not exact


# ----------------------------------------------------------------------------- 02


def _a(model, t):
    return model.scheduler.alphas_cumprod[t].double()


def test_ddim_step(model):
    x = 1.5 * torch.randn(2, *model.sample_shape, generator=gen(0))
    eps = ll.eps_of(model, x, 800).double()
    p = (x.double() - (1 - _a(model, 800)).sqrt() * eps) / _a(model, 800).sqrt()
    assert p.abs().max() > 1  # so that clipping matters
    step = lambda p_, a: a.sqrt() * p_ + (1 - a).sqrt() * eps  # noqa: E731
    right(ex.check_ddim_step(model, x, 800, step(p.clamp(-1, 1), _a(model, 780))))
    hint(ex.check_ddim_step(model, x, 800, None), "Fill in")
    hint(ex.check_ddim_step(model, x, 800, step(p, _a(model, 780))), "clips")
    hint(ex.check_ddim_step(model, x, 800, p.clamp(-1, 1)), "predicted x_0")
    hint(ex.check_ddim_step(model, x, 800, x), "nothing")
    hint(ex.check_ddim_step(model, x, 800, step(p.clamp(-1, 1), _a(model, 799))), "t - 20")
    hint(ex.check_ddim_step(model, x, 800, x[0]), "shape")
    hint(ex.check_ddim_step(model, x, 801, x), "grid")


def test_noise_amplification(model):
    grid = ll.ddim_timesteps(model, 50)
    a = model.scheduler.alphas_cumprod[grid].double()
    gain = np.sqrt((1 - a.numpy()) / a.numpy())
    t_cross = int(max(t for t, g in zip(grid.tolist(), gain) if g < 1))
    right(ex.check_noise_amplification(model, gain, t_cross))
    hint(ex.check_noise_amplification(model, None, None), "Fill in")
    hint(ex.check_noise_amplification(model, 1 / gain, t_cross), "inverse")
    hint(ex.check_noise_amplification(model, gain**2, t_cross), "square root")
    hint(ex.check_noise_amplification(model, np.ones(1000), t_cross), "grid")
    hint(ex.check_noise_amplification(model, gain, t_cross + 20), "t_cross")


# ----------------------------------------------------------------------------- 03


def test_asymmetric_step(model):
    x = 1.5 * torch.randn(2, *model.sample_shape, generator=gen(2))
    dh = 3 * torch.randn(model.h_shape, generator=gen(3))
    eps, eps_e = ll.eps_of(model, x, 500).double(), ll.eps_of(model, x, 500, dh=dh).double()
    a_t, a_prev = _a(model, 500), _a(model, 400)

    def step(e_p, e_d, clip=True):
        p = (x.double() - (1 - a_t).sqrt() * e_p) / a_t.sqrt()
        return a_prev.sqrt() * (p.clamp(-1, 1) if clip else p) + (1 - a_prev).sqrt() * e_d

    right(ex.check_asymmetric_step(model, x, 500, dh, step(eps_e, eps)))
    hint(ex.check_asymmetric_step(model, x, 500, dh, None), "Fill in")
    hint(ex.check_asymmetric_step(model, x, 500, dh, step(eps_e, eps_e)), "symmetric")
    hint(ex.check_asymmetric_step(model, x, 500, dh, step(eps, eps)), "no edit")
    hint(ex.check_asymmetric_step(model, x, 500, dh, step(eps, eps_e)), "other way round")
    hint(ex.check_asymmetric_step(model, x, 500, dh, step(eps_e, eps, clip=False)), "clip")


# ----------------------------------------------------------------------------- 04


@pytest.fixture(scope="module")
def editors():
    return {k: ll.load_editor(a, 1.0, k2) for k, (a, k2) in
            {"smile": ("smile", "f"), "glasses": ("glasses", "f"), "smile_dh": ("smile", "dh")}.items()}


def test_editor_mix(editors):
    s, g = editors["smile"], editors["glasses"]
    right(ex.check_editor_mix(s, g, lambda t, h: 1.5 * s(t, h) + 0.5 * g(t, h)))
    hint(ex.check_editor_mix(s, g, None), "Fill in")
    hint(ex.check_editor_mix(s, g, lambda t, h: s(t, h) + g(t, h)), "1.00 smile + 1.00 glasses")
    hint(ex.check_editor_mix(s, g, lambda t, h: 1.5 * s(t, 1.5 * h) + 0.5 * g(t, 0.5 * h)), "scaled h")
    hint(ex.check_editor_mix(s, g, lambda t, h: h), "not a combination")
    hint(ex.check_editor_mix(s, g, lambda t, h: s(t, h)[0]), "shape")
    hint(ex.check_editor_mix(s, g, lambda t: 0), "Could not check")
    hint(ex.check_editor_mix(s, g, 1.5), "function")


def test_editor_dependence(editors):
    h = torch.randn(2, 128, 4, 4, generator=gen(6))
    d = {k: editors[k](500, h).detach().flatten(1).numpy().astype(float) for k in ("smile", "smile_dh")}
    cos = {k: float(v[0] @ v[1] / np.linalg.norm(v[0]) / np.linalg.norm(v[1])) for k, v in d.items()}
    assert abs(cos["smile_dh"] - 1) < 1e-6 and cos["smile"] < 0.999  # the lesson holds for these editors
    f, dh = editors["smile"], editors["smile_dh"]
    right(ex.check_editor_dependence(f, dh, h, 500, cos["smile"], cos["smile_dh"]))
    hint(ex.check_editor_dependence(f, dh, h, 500, None, None), "Fill in")
    hint(ex.check_editor_dependence(f, dh, h, 500, cos["smile"], 0.5), "one dh per timestep")
    hint(ex.check_editor_dependence(f, dh, h, 500, cos["smile"] - 0.2, 1.0), "f editor")
    hint(ex.check_editor_dependence(f, dh, h, 500, 2.0, 1.0), "not a cosine")
    hint(ex.check_editor_dependence(f, dh, h[:1], 500, 0.5, 1.0), "two faces")


# ----------------------------------------------------------------------------- 05


def test_pca_direction():
    h = torch.randn(40, 4, 2, 2, generator=gen(7)) * torch.linspace(3, 0.5, 16).reshape(4, 2, 2) + 5
    X = h.flatten(1).numpy().astype(float)
    _, s, vh = np.linalg.svd(X - X.mean(0), full_matrices=False)
    pc1, share = vh[0].reshape(4, 2, 2), float(s[0] ** 2 / (s**2).sum())
    right(ex.check_pca_direction(h, pc1, share))
    hint(ex.check_pca_direction(h, None, None), "Fill in")
    hint(ex.check_pca_direction(h, np.linalg.svd(X, full_matrices=False)[2][0].reshape(4, 2, 2), share), "mean")
    hint(ex.check_pca_direction(h, vh[0], share), "reshape")
    hint(ex.check_pca_direction(h, 2 * pc1, share), "unit norm")
    hint(ex.check_pca_direction(h, pc1, float(s[0] / s.sum())), "squared")
    hint(ex.check_pca_direction(h, pc1, 100 * share), "per cent")


def test_supervised_direction():
    h, scores = torch.randn(50, 3, 2, 2, generator=gen(8)), torch.rand(50, generator=gen(9))
    order = np.argsort(scores.numpy())
    want = h.numpy()[order[-5:]].mean(0) - h.numpy()[order[:5]].mean(0)
    right(ex.check_supervised_direction(h, scores, want))
    hint(ex.check_supervised_direction(h, scores, None), "Fill in")
    hint(ex.check_supervised_direction(h, scores, -want), "sign")
    above = scores > scores.median()
    hint(ex.check_supervised_direction(h, scores, h[above].mean(0) - h[~above].mean(0)), "median")
    hint(ex.check_supervised_direction(h, scores, want / np.linalg.norm(want)), "length")
    hint(ex.check_supervised_direction(h, scores, want[0]), "shape")


# ----------------------------------------------------------------------------- 06


def _svd(k=3, h_shape=(4, 2), x_shape=(3, 2, 2), seed=10):
    U = torch.linalg.qr(torch.randn(math.prod(h_shape), k, generator=gen(seed), dtype=torch.float64))[0].T
    V = torch.linalg.qr(torch.randn(math.prod(x_shape), k, generator=gen(seed + 1), dtype=torch.float64))[0].T
    return ll.SVD(U.reshape(k, *h_shape), torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64), V.reshape(k, *x_shape))


def test_transport():
    svd, u = _svd(), torch.randn(4, 2, generator=gen(12), dtype=torch.float64)
    c = svd.U.flatten(1).numpy() @ u.flatten().numpy()
    v = (c @ svd.V.flatten(1).numpy()).reshape(3, 2, 2)
    right(ex.check_transport(u, svd, v / np.linalg.norm(v)))
    hint(ex.check_transport(u, svd, None), "Fill in")
    hint(ex.check_transport(u, svd, 2 * v / np.linalg.norm(v)), "normalise")
    vs = ((c * svd.S.numpy()) @ svd.V.flatten(1).numpy()).reshape(3, 2, 2)
    hint(ex.check_transport(u, svd, vs / np.linalg.norm(vs)), "drop S")
    hint(ex.check_transport(u, svd, u), "x-space")
    hint(ex.check_transport(u, "svd", v), "pullback")


def test_transport_meaning():
    svd, u = _svd(), torch.randn(4, 2, generator=gen(13), dtype=torch.float64)
    v = ll.transport(u, svd)
    Jv = (svd.S.numpy() * (svd.V.flatten(1).numpy() @ v.flatten().numpy())) @ svd.U.flatten(1).numpy()
    cos = float(u.flatten().numpy() @ Jv / np.linalg.norm(Jv) / np.linalg.norm(u.numpy()))
    right(ex.check_transport_meaning(u, svd, v, cos, cos >= 0.7))
    right(ex.check_transport_meaning(u, svd, v, cos + 0.02, np.bool_(cos >= 0.7)))  # a finite difference is near enough
    hint(ex.check_transport_meaning(u, svd, v, None, None), "Fill in")
    hint(ex.check_transport_meaning(u, svd, v, cos, not cos >= 0.7), "keeps_meaning should be")
    hint(ex.check_transport_meaning(u, svd, v, cos, "yes"), "True or False")
    hint(ex.check_transport_meaning(u, svd, v, cos - 0.5, cos >= 0.7), "J_B v")


# ----------------------------------------------------------------------------- 07


def test_hosvd_energy():
    T = torch.randn(3, 4, 5, generator=gen(14), dtype=torch.float64)
    Tn = T.numpy()
    A = [np.linalg.svd(np.moveaxis(Tn, n, 0).reshape(Tn.shape[n], -1))[0][:, :2] for n in range(3)]
    core = np.einsum("ijk,ia,jb,kc->abc", Tn, *A)
    energy = float((core**2).sum() / (Tn**2).sum())
    right(ex.check_hosvd_energy(T, (2, 2, 2), A, energy))
    right(ex.check_hosvd_energy(T, (2, 2, 2), [a @ np.array([[0.0, 1.0], [1.0, 0.0]]) for a in A], energy))
    hint(ex.check_hosvd_energy(T, (2, 2, 2), None, None), "Fill in")
    hint(ex.check_hosvd_energy(T, (2, 2, 2), [a.T for a in A], energy), "columns")
    hint(ex.check_hosvd_energy(T, (2, 2, 2), A, energy**0.5), "squared norm")
    hint(ex.check_hosvd_energy(T, (2, 2, 2), [A[1], A[1], A[2]], energy), "shape")
    hint(ex.check_hosvd_energy(T, (2, 2, 2), A[:2], energy), "list of 3")
    rot = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 2)))[0]
    hint(ex.check_hosvd_energy(T, (2, 2, 2), [rot, A[1], A[2]], energy), "does not span")


def test_parameter_budget():
    shape, ranks = (128, 4, 4, 3, 32, 32), (16, 4, 4, 3, 8, 8)
    n = 16 * 4 * 4 * 3 * 8 * 8 + 128 * 16 + 4 * 4 + 4 * 4 + 3 * 3 + 32 * 8 + 32 * 8  # written out
    k = n // (2048 + 3072 + 1)
    right(ex.check_parameter_budget(shape, ranks, n, k))
    hint(ex.check_parameter_budget(shape, ranks, None, None), "Fill in")
    hint(ex.check_parameter_budget(shape, ranks, 16 * 4 * 4 * 3 * 8 * 8, k), "core alone")
    hint(ex.check_parameter_budget(shape, ranks, n - 16 * 4 * 4 * 3 * 8 * 8, k), "factors alone")
    hint(ex.check_parameter_budget(shape, ranks, n, k + 1), "round down")


# ----------------------------------------------------------------------------- bad input, everywhere


BAD = ["nonsense", 3, float("nan"), [[1.0, 2.0], [3.0]], {"a": 1}, torch.full((2,), float("nan")), ...]


def _calls(model):
    """Each checker with one answer slot `a` (the others filled in with something plausible)."""
    M, J = torch.randn(6, 4, generator=gen(1)), torch.tensor([[1.0, 2.0, 0.5], [0.0, 1.0, -1.0]])
    x = torch.randn(1, *model.sample_shape, generator=gen(0))
    svd, u = _svd(), torch.randn(4, 2, generator=gen(12), dtype=torch.float64)
    f = lambda t, h: h  # noqa: E731
    f.h_shape, f.t_edit = (4, 2, 2), 0
    return {
        "svd_by_hand S": lambda a: ex.check_svd_by_hand(A, a, [1.0, 0.0]),
        "svd_by_hand v1": lambda a: ex.check_svd_by_hand(A, [45 ** 0.5, 5 ** 0.5], a),
        "topk_svd": lambda a: ex.check_topk_svd(M, a),
        "kernel": lambda a: ex.check_kernel_direction(J, a),
        "ddim_step": lambda a: ex.check_ddim_step(model, x, 800, a),
        "ddim_step t": lambda a: ex.check_ddim_step(model, x, a, x),
        "amplification gain": lambda a: ex.check_noise_amplification(model, a, 240),
        "amplification t_cross": lambda a: ex.check_noise_amplification(
            model, ((1 - (ac := model.scheduler.alphas_cumprod[ll.ddim_timesteps(model, 50)])) / ac).sqrt(), a),
        "asymmetric": lambda a: ex.check_asymmetric_step(model, x, 500, torch.zeros(model.h_shape), a),
        "asymmetric dh": lambda a: ex.check_asymmetric_step(model, x, 500, a, x),
        "glasses": lambda a: ex.check_glasses_t_half(model, x, a, editor=f,
                                                     probe=lambda x: {"glasses": x.mean((1, 2, 3))}),
        "mix": lambda a: ex.check_editor_mix(f, f, a),
        "dependence": lambda a: ex.check_editor_dependence(f, f, torch.randn(2, 4, 2, 2), 500, a, 1.0),
        "pca": lambda a: ex.check_pca_direction(torch.randn(10, 2, 2), a, 0.5),
        "pca explained": lambda a: ex.check_pca_direction(torch.eye(4)[:, :, None], torch.eye(4)[0, :, None], a),
        "supervised": lambda a: ex.check_supervised_direction(torch.randn(10, 2), torch.rand(10), a),
        "transport": lambda a: ex.check_transport(u, svd, a),
        "transport svd": lambda a: ex.check_transport(u, a, torch.zeros(3, 2, 2)),
        "meaning": lambda a: ex.check_transport_meaning(u, svd, ll.transport(u, svd), a, True),
        "hosvd": lambda a: ex.check_hosvd_energy(torch.randn(3, 4, 5), (2, 2, 2), a, 0.5),
        "budget": lambda a: ex.check_parameter_budget((4, 2, 3), (2, 2, 2), a, 2),
    }


def test_bad_input_gets_a_hint_not_a_traceback(model):
    for name, call in _calls(model).items():
        for bad in BAD:
            fb = call(bad)
            assert isinstance(fb, ex.Feedback) and not fb.ok and len(fb.message) > 20, (name, bad, fb)
            assert "\n" not in fb.message and fb.message.count(". ") <= 3, (name, bad, fb)  # a sentence or two


def test_wrong_call_gets_a_hint():
    fb = ex.check_kernel_direction(torch.eye(2))
    hint(fb, "wrong arguments", "check_kernel_direction")


# ----------------------------------------------------------------------------- 08


@pytest.fixture(scope="module")
def smile_editor():
    """The notebook's editor (the shipped smile editor needs the bundled model's h), at 10 steps."""
    from latentlab.course.widget import EditWidget

    ed = EditWidget(ll.load_model(), probe=ll.load_probe(), seed=1, steps=10, preview_steps=0, method="Asyrp f",
                    target="smile -> +1", strength=0.5)
    assert ed.wait()
    yield ed
    ed.close()


@pytest.mark.slow  # a full DDIM run or the bundled model: `make test` runs it, `make check` does not
def test_strength_reading(smile_editor):
    ed = smile_editor
    ed.strength.value = 0.5
    assert ed.wait()
    stale = ed.readings_after["smile"] - ed.readings_before["smile"]
    ed.strength.value = 1.5
    assert ed.wait()
    change = ed.readings_after["smile"] - ed.readings_before["smile"]
    assert abs(change - stale) > 0.1  # the stale answer is a different number
    right(ex.check_strength_reading(ed, change))
    hint(ex.check_strength_reading(ed, None), "Fill in")
    hint(ex.check_strength_reading(ed, ed.readings_after["smile"]), "edited face's reading")
    hint(ex.check_strength_reading(ed, -change), "wrong sign")
    hint(ex.check_strength_reading(ed, change / 2), "fraction")
    hint(ex.check_strength_reading(ed, stale), "editor.wait()")
    ed.strength.value = 0.5
    assert ed.wait()
    hint(ex.check_strength_reading(ed, stale), "editor.strength.value = 1.5")
    hint(ex.check_strength_reading(None, change), "pass the notebook's `editor`")


GRID8 = (0.5, 1.0, 1.5, 2.0)


def _tiny_world(model, seed: int = 8):
    """A tiny model, a constant dh as the 'editor', the faces' x_T and their unedited image."""
    x_T = torch.randn(1, *model.sample_shape, generator=gen(seed))
    dh = 3 * torch.randn(model.h_shape, generator=gen(seed + 1))
    editor = lambda t, h: dh.expand_as(h)  # noqa: E731
    return x_T, editor, ll.ddim_sample(model, x_T, 4, progress=False)


def test_glasses_off(model):
    """A constructed world: the 'probe' sees glasses while a face stays near its unedited image, with the
    threshold set between the changes of two strengths, so the answer is known."""
    x_T, editor, base = _tiny_world(model)
    lin = LinearProbe(size=model.sample_shape[-1])
    edited = {c: ll.ddim_sample(model, x_T, 4, dh=lambda t, h, c=c: c * editor(t, h), t_edit=200, progress=False)
              for c in GRID8}
    moved = [float((edited[c] - base).norm()) for c in GRID8]
    assert moved == sorted(moved), moved  # larger strength, larger change
    thr = (moved[1] + moved[2]) / 2  # the glasses go at c = 1.5
    probe = lambda x: {"glasses": ((x - base).flatten(1).norm(dim=1) < thr).float(), "smile": lin(x)["smile"]}  # noqa: E731
    smile = lambda x: float(lin(x)["smile"].detach())  # noqa: E731
    kept = smile(edited[1.0])
    check = lambda c, s: ex.check_glasses_off(model, x_T, c, s, editor=editor, probe=probe, strengths=GRID8, steps=4)  # noqa: E731
    right(check(1.5, kept))
    hint(check(None, None), "Fill in")
    hint(check(1.0, kept), "still reads glasses")
    hint(check(2.0, kept), "already off")
    hint(check(1.5, smile(edited[1.5])), "where the glasses are gone")
    hint(check(1.5, kept - smile(base)), "change of smile")
    hint(check(1.5, kept + 0.5), "not the smile reading")
    hint(check(1.25, kept), "grid's strengths")
    hint(ex.check_glasses_off(model, x_T[0, 0], 1.5, kept, editor=editor, probe=probe, strengths=GRID8, steps=4), "x_T")


def test_additivity(model):
    x_T, a, base = _tiny_world(model, seed=10)
    db = 2 * torch.randn(model.h_shape, generator=gen(12))
    b = lambda t, h: db.expand_as(h)  # noqa: E731
    probe = LinearProbe(size=model.sample_shape[-1])
    runs = [ll.ddim_sample(model, x_T, 4, dh=dh, t_edit=200, progress=False)
            for dh in (None, a, b, ll.combine(a, b))]
    r = probe(torch.cat(runs))
    ranges = np.array([hi - lo for lo, hi in ll.ATTRIBUTES.values()])
    R = np.stack([r[k].detach().numpy().astype(float) for k in ll.ATTRIBUTES], 1)  # (4 images, attributes)
    D = (R[1:] - R[0]) / ranges  # each change on its attribute's range
    error = float(np.linalg.norm(D[2] - D[0] - D[1]) / np.linalg.norm(D[0] + D[1]))
    assert error > 0.01  # not additive: the checker's hints can tell the answers apart
    check = lambda e: ex.check_additivity(model, x_T, e, edits=(a, b), probe=probe, steps=4)  # noqa: E731
    right(check(error))
    hint(check(None), "Fill in")
    raw = R[1:] / ranges
    hint(check(float(np.linalg.norm(raw[2] - raw[0] - raw[1]) / np.linalg.norm(raw[0] + raw[1]))), "readings")
    hint(check(float(np.linalg.norm((R[3] - R[0]) - (R[1] - R[0]) - (R[2] - R[0])))), "Divide by")
    U = R[1:] - R[0]
    hint(check(float(np.linalg.norm(U[2] - U[0] - U[1]) / np.linalg.norm(U[0] + U[1]))), "range first")
    hint(check(error + 0.2), "does not match")


def test_widget_checks_turn_bad_input_into_hints(model, smile_editor):
    x_T, editor, _ = _tiny_world(model)
    probe = LinearProbe(size=model.sample_shape[-1])
    tiny = dict(editor=editor, probe=probe, strengths=GRID8, steps=4)
    calls = {
        "strength": lambda v: ex.check_strength_reading(smile_editor, v),
        "glasses c_off": lambda v: ex.check_glasses_off(model, x_T, v, 0.1, **tiny),
        "glasses smile_kept": lambda v: ex.check_glasses_off(model, x_T, 1.0, v, **tiny),
        "glasses x_T": lambda v: ex.check_glasses_off(model, v, 1.0, 0.1, **tiny),
        "additivity": lambda v: ex.check_additivity(model, x_T, v, edits=(editor, editor), probe=probe, steps=4),
    }
    for name, call in calls.items():
        for bad in BAD:
            fb = call(bad)
            assert isinstance(fb, ex.Feedback) and not fb.ok and len(fb.message) > 20, (name, bad, fb)
            assert "\n" not in fb.message and fb.message.count(". ") <= 3, (name, bad, fb)


# ----------------------------------------------------------------------------- 09 (appended as one block)


def test_h_scaling():
    # the oracle: the U-Net's own bottleneck, built at reduced width (not the checker's config arithmetic)
    from latentlab.architectures import random_model

    shapes = {s: tuple(ll.h_of(m := random_model("celebahq-256", width=16, sample_size=s),
                                torch.zeros(1, *m.sample_shape), 500).shape[1:]) for s in (256, 128)}
    right(ex.check_h_scaling(shapes[256], shapes[128], 256 // shapes[256][-1]))
    right(ex.check_h_scaling(torch.Size(shapes[256]), list(shapes[128]), 32.0))
    hint(ex.check_h_scaling(None, None, None), "Fill in")
    hint(ex.check_h_scaling((512, 8, 8), (32, 4, 4), 32), "full-size", "divided by 16")
    hint(ex.check_h_scaling((1, 32, 8, 8), (32, 4, 4), 32), "batch dimension")
    hint(ex.check_h_scaling((32, 4, 4), (32, 2, 2), 64), "downsample 5 times")
    hint(ex.check_h_scaling((32, 8, 8), (32, 8, 8), 32), "sample_size=128")
    hint(ex.check_h_scaling((32, 8, 8), (32, 4, 4), 64), "2^5")
    hint(ex.check_h_scaling(torch.zeros(1, 32, 8, 8), (32, 4, 4), 32), "not the tensor h")


def test_pullback_cost():
    info = {"iterations": 2, "products": 12}
    right(ex.check_pullback_cost(1.2, info, 6, 27 * 6 * 1.2 / 12))
    right(ex.check_pullback_cost(1.2, info, 6, 27 * 1.2 / 2))  # per iteration: the same number
    hint(ex.check_pullback_cost(None, None, None, None), "Fill in")
    hint(ex.check_pullback_cost(1.2, info, 3, 16.2), "reverse-mode")
    hint(ex.check_pullback_cost(1.2, info, 2, 16.2), "per direction")
    hint(ex.check_pullback_cost(1.2, info, 6, 27 * 1.2), "divide by them")
    hint(ex.check_pullback_cost(1.2, info, 6, 27 * 3 * 1.2 / 12), "not k")
    hint(ex.check_pullback_cost(1.2, {"S": 1}, 6, 16.2), "return_info=True")
    hint(ex.check_pullback_cost(-1.0, info, 6, 16.2), "positive")


def test_checkpoint_folder(tmp_path):
    from latentlab.architectures import random_model, write_pipeline

    small = random_model("celebahq-256", width=16, sample_size=64)
    folder = write_pipeline(small, tmp_path / "pipeline", "celebahq-256")
    loaded = ll.load_model(folder)
    small.unet.save_pretrained(tmp_path / "pickles", safe_serialization=False)
    with pytest.raises(ValueError) as refused:
        ll.load_model(tmp_path / "pickles")
    right(ex.check_checkpoint_folder(small, folder, loaded, refused.value))
    right(ex.check_checkpoint_folder(small, str(folder), loaded, refused.value))
    hint(ex.check_checkpoint_folder(small, None, None, None), "Fill in")
    hint(ex.check_checkpoint_folder(small, folder, small, refused.value), "load it back")
    hint(ex.check_checkpoint_folder(small, tmp_path / "pickles", loaded, refused.value), "pipeline folder")
    other = random_model("celebahq-256", width=16, sample_size=64, seed=1)
    hint(ex.check_checkpoint_folder(small, folder, other, refused.value), "something else")
    hint(ex.check_checkpoint_folder(small, folder, loaded, loaded), "exception load_model raised")
    with pytest.raises(FileNotFoundError) as missing:
        ll.load_model(tmp_path / "nope")
    hint(ex.check_checkpoint_folder(small, folder, loaded, missing.value), "Save the pickle copy first")
    hint(ex.check_checkpoint_folder(small, folder, loaded, RuntimeError("boom")), "not the refusal")
    hint(ex.check_checkpoint_folder(small, tmp_path / "nope", loaded, refused.value), "exists")
    for bad in BAD:  # bad input to any slot: a hint, never a traceback
        for fb in (ex.check_h_scaling(bad, (32, 4, 4), 32),
                   ex.check_pullback_cost(1.0, {"iterations": 1, "products": 6}, bad, 1.0),
                   ex.check_checkpoint_folder(small, folder, bad, refused.value)):
            assert isinstance(fb, ex.Feedback) and not fb.ok and len(fb.message) > 20, (bad, fb)
            assert "\n" not in fb.message and fb.message.count(". ") <= 3, (bad, fb)


# ----------------------------------------------------------------------------- 10 which direction method


def _ex10_samples():
    import pandas as pd
    g = gen(21)
    rows = []
    for m, shift in (("good", 0.5), ("weak", 0.11), ("random", 0.0), ("bad", -0.5)):
        noise = torch.randn(40, generator=g).tolist()
        rows += [{"attr": "hair_color", "method": m, "sample": i, "movable": i < 36, "right_way": False,
                  "change": shift + 0.2 * noise[i]} for i in range(40)]
    return pd.DataFrame(rows)


def test_ex10_bootstrap_interval():
    import numpy as np
    s = _ex10_samples()
    x = s[(s.method == "good") & s.movable].change.to_numpy()
    rng = np.random.default_rng(1)
    means = x[rng.integers(0, len(x), (2000, len(x)))].mean(1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    assert ex.check_bootstrap_interval(s, "hair_color", "good", x.mean(), lo, hi).ok
    assert "Fill in `mean`" in ex.check_bootstrap_interval(s, "hair_color", "good", None, None, None).message
    everyone = s[s.method == "good"].change.mean()
    assert "counts every face" in ex.check_bootstrap_interval(s, "hair_color", "good", everyone, lo, hi).message
    spread = np.quantile(x, [0.025, 0.975])  # quantiles of the faces, not of the mean
    assert "much wider" in ex.check_bootstrap_interval(s, "hair_color", "good", x.mean(), *spread).message
    se = x.std(ddof=1) / len(x) ** 0.5
    one_se = (x.mean() - se, x.mean() + se)
    assert "narrower" in ex.check_bootstrap_interval(s, "hair_color", "good", x.mean(), *one_se).message
    assert "pandas DataFrame" in ex.check_bootstrap_interval([1, 2], "hair_color", "good", 0.1, 0, 1).message
    assert "one number" in ex.check_bootstrap_interval(s, "hair_color", "good", [1.0, 2.0], 0, 1).message


def test_ex10_beats_random():
    from scipy.stats import wilcoxon
    s = _ex10_samples()
    m = s[s.movable]
    d = m[m.method == "weak"].change.to_numpy() - m[m.method == "random"].change.to_numpy()
    p_weak = wilcoxon(d).pvalue
    assert 0.05 / 28 < p_weak < 0.05  # the constructed case: "weak" passes only uncorrected
    assert ex.check_beats_random(s, "hair_color", {"good"}).ok
    assert "uncorrected 0.05" in ex.check_beats_random(s, "hair_color", {"good", "weak"}).message
    assert "less* than random" in ex.check_beats_random(s, "hair_color", {"good", "bad"}).message
    assert "missing" in ex.check_beats_random(s, "hair_color", set()).message
    assert "baseline itself" in ex.check_beats_random(s, "hair_color", {"good", "random"}).message
    assert "not methods" in ex.check_beats_random(s, "hair_color", {"nope"}).message
    assert "Fill in `answer`" in ex.check_beats_random(s, "hair_color", None).message
    assert "set of method names" in ex.check_beats_random(s, "hair_color", 3).message


def test_ex10_rank_correlation():
    import pandas as pd
    from scipy.stats import spearmanr
    names = ["Asyrp f", "Asyrp dh", "a", "b", "c", "d", "e"]
    t1 = pd.DataFrame({"attr": "smile", "method": names, "change": [0.9, 0.8, 0.1, 0.3, 0.2, 0.05, 0.4]})
    t2 = pd.DataFrame({"attr": "smile", "method": names[::-1], "change": [0.1, 0.0, 0.35, 0.3, 0.2, 0.7, 0.6]})
    a = t1.set_index("method").change[names[2:]]
    b = t2.set_index("method").change[names[2:]]
    rho = spearmanr(a, b).statistic
    assert ex.check_rank_correlation(t1, t2, "smile", rho).ok
    with_editors = spearmanr(t1.set_index("method").change[names], t2.set_index("method").change[names]).statistic
    assert "Asyrp editors" in ex.check_rank_correlation(t1, t2, "smile", with_editors).message
    t1r = pd.concat([t1, pd.DataFrame({"attr": ["smile"], "method": ["random"], "change": [0.25]})])
    t2r = pd.concat([t2, pd.DataFrame({"attr": ["smile"], "method": ["random"], "change": [0.05]})])
    assert ex.check_rank_correlation(t1r, t2r, "smile", spearmanr(a, b).statistic).message.startswith("Keep the random")
    assert "Fill in `rho`" in ex.check_rank_correlation(t1, t2, "smile", None).message
    assert "pandas DataFrame" in ex.check_rank_correlation("t1", t2, "smile", 0.5).message
