"""The exercise checks: each accepts the solution (computed here another way: numpy, a closed form, a
loop of the sampler), rejects the blank and the typical wrong answers with the hint that fits, and
turns bad input into a hint, never a traceback."""
import math

import numpy as np
import pytest
import torch

import latentlab as ll
from latentlab import exercises as ex
from latentlab.geometry import SVD
from helpers import gen


def hint(fb: ex.Feedback, *words: str) -> None:
    assert isinstance(fb, ex.Feedback) and not fb.ok, fb
    for w in words:
        assert w in fb.message, fb


def right(fb: ex.Feedback) -> None:
    assert isinstance(fb, ex.Feedback) and fb.ok, fb


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
    hint(ex.check_topk_svd(M, SVD(svd.U, 2 * svd.S, svd.V)), "dense SVD")
    hint(ex.check_topk_svd(M, SVD(svd.U, svd.S, svd.V.T)), "one direction per row")


def test_kernel_direction():
    J = torch.tensor([[1.0, 2.0, 0.5], [0.0, 1.0, -1.0]], dtype=torch.float64)
    vh = np.linalg.svd(J.numpy())[2]
    right(ex.check_kernel_direction(J, vh[2]))
    assert np.abs(J.numpy() @ vh[2]).max() < 1e-12  # the oracle is a kernel vector
    hint(ex.check_kernel_direction(J, vh[0]), "v_1")
    hint(ex.check_kernel_direction(J, [0.0, 0.0, 0.0]), "unit vector")
    hint(ex.check_kernel_direction(J, 3 * vh[2]), "unit vector")
    hint(ex.check_kernel_direction(J, vh[:, :2]), "shape")


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


def test_glasses_t_edit(model):
    """A constructed world: the 'probe' sees glasses where a face moved far from its unedited sample,
    with the threshold set between the changes of two t_edit values, so the answer is known."""
    x_T = torch.randn(4, *model.sample_shape, generator=gen(4))
    dh = 4 * torch.randn(model.h_shape, generator=gen(5))
    editor = lambda t, h: dh.expand_as(h)  # noqa: E731
    base = ll.ddim_sample(model, x_T, 10, progress=False)
    largest = {t: (ll.ddim_sample(model, x_T, 10, dh=editor, t_edit=t, progress=False) - base).flatten(1).norm(dim=1).max()
               for t in (0, 200, 400, 600, 800)}  # the largest change of a face, by t_edit
    tried = 0
    for t_true in (600, 800):  # a threshold that makes every t_edit >= t_true add nothing, and the rest add some
        above, below = max(largest[t] for t in largest if t >= t_true), min(largest[t] for t in largest if t < t_true)
        if not above < below:
            continue
        tried += 1
        thr = (above + below) / 2
        probe = lambda x, thr=thr: {"glasses": ((x - base).flatten(1).norm(dim=1) > thr).float()}  # noqa: E731
        check = lambda t, probe=probe: ex.check_glasses_t_edit(model, x_T, t, editor=editor, probe=probe)  # noqa: E731
        right(check(t_true))
        hint(check(None), "Fill in")
        hint(check(t_true - 200), "still adds glasses")
        if t_true < 800:
            hint(check(t_true + 200), "already add glasses to none")
    assert tried, f"no threshold separates the t_edit values: {largest}"
    hint(check(300), "candidates")
    hint(ex.check_glasses_t_edit(model, x_T[0], t_true, editor=editor, probe=probe), "batch")


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
    return SVD(U.reshape(k, *h_shape), torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64), V.reshape(k, *x_shape))


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
    right(ex.check_transport_meaning(u, svd, v, cos + 0.02, np.bool_(cos >= 0.7)))  # a finite difference is close enough
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
        "glasses": lambda a: ex.check_glasses_t_edit(model, x, a, editor=f, probe=lambda x: {"glasses": x.mean((1, 2, 3))}),
        "mix": lambda a: ex.check_editor_mix(f, f, a),
        "dependence": lambda a: ex.check_editor_dependence(f, f, torch.randn(2, 4, 2, 2), 500, a, 1.0),
        "pca": lambda a: ex.check_pca_direction(torch.randn(10, 2, 2), a, 0.5),
        "pca explained": lambda a: ex.check_pca_direction(torch.eye(4)[:, :, None], torch.tensor([[1.0], [0], [0], [0]]), a),
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
