"""The implement-it exercises of lectures 01-05 and the reworked 03.2: each checker accepts a solution
written here independently of the package's own route (a hand-written loop, a dense SVD, a dense
Jacobian), rejects the blank and the typical wrong answers with the hint that fits, and turns a broken
answer into a hint, never a traceback."""
import pytest
import torch

import latentlab as ll
from latentlab.course import exercises as ex
from latentlab.jacobians import jacobian_products
from latentlab.linalg import dense_jacobian

from helpers import LinearProbe, gen, hint, right

# ----------------------------------------------------------------------------- 01.4


def power_iteration(jvp, vjp, v0, iters, normalise=True, swap=False, square=False):
    v = v0 / v0.norm()
    for _ in range(iters):
        v = jvp(vjp(v)) if swap else vjp(jvp(v))
        if normalise:
            v = v / v.norm()
    s = jvp(v).norm()
    return (vjp(jvp(v)).norm() if square else s), v


def test_power_iteration():
    right(ex.check_power_iteration(power_iteration))
    hint(ex.check_power_iteration(None), "Fill in")
    hint(ex.check_power_iteration(lambda *a: None), "returned None")
    hint(ex.check_power_iteration(lambda *a: power_iteration(*a, swap=True)), "swapped")
    hint(ex.check_power_iteration(lambda jvp, vjp, v0, iters: (1.0, jvp(jvp(v0)))), "missing")
    hint(ex.check_power_iteration(lambda *a: power_iteration(*a, normalise=False)), "divide it by its norm")
    hint(ex.check_power_iteration(lambda jvp, vjp, v0, n: power_iteration(jvp, vjp, v0, 2000, normalise=False)),
         "inf or NaN")
    hint(ex.check_power_iteration(lambda *a: power_iteration(*a, square=True)), "s_1^2")
    hint(ex.check_power_iteration(lambda jvp, vjp, v0, iters: power_iteration(jvp, vjp, v0, 1)), "not yet")
    hint(ex.check_power_iteration(lambda jvp, vjp, v0, iters: (1.0, v0)), "nothing was iterated")
    hint(ex.check_power_iteration(lambda jvp, vjp, v0, iters: (1.0, jvp(v0))), "output direction")
    hint(ex.check_power_iteration(lambda jvp, vjp, v0, iters: 3.0), "two things")
    hint(ex.check_power_iteration(lambda jvp, vjp, v0, iters: 1 / 0), "ZeroDivisionError")


# ----------------------------------------------------------------------------- 02.3


def ddim_loop(model, x_T, steps, clip=True):
    """Song et al.'s Eq. 12 with eta = 0, written from the scheduler's alphas_cumprod."""
    a = model.scheduler.alphas_cumprod.double()
    x = x_T.double()
    for t in range(model.num_train_timesteps - model.num_train_timesteps // steps, -1,
                   -(model.num_train_timesteps // steps)):
        eps = ll.eps_of(model, x.float(), t).double()
        t_prev = t - model.num_train_timesteps // steps
        a_prev = a[t_prev] if t_prev >= 0 else torch.tensor(1.0, dtype=torch.float64)
        p = (x - (1 - a[t]).sqrt() * eps) / a[t].sqrt()
        x = a_prev.sqrt() * (p.clamp(-1, 1) if clip else p) + (1 - a_prev).sqrt() * eps
    return x


def test_ddim_loop(model):
    assert model.scheduler.final_alpha_cumprod == 1 and model.scheduler.config.clip_sample  # as ddim_loop assumes
    right(ex.check_ddim_loop(model, ddim_loop))
    hint(ex.check_ddim_loop(model, None), "Fill in")
    hint(ex.check_ddim_loop(model, lambda *a: None), "returned None")
    hint(ex.check_ddim_loop(model, lambda model, x_T, steps: x_T), "unchanged")
    hint(ex.check_ddim_loop(model, lambda *a: ddim_loop(*a, clip=False)), "clip P_t")
    hint(ex.check_ddim_loop(model, lambda model, x_T, steps: ll.ddim_sample(model, x_T, 50, progress=False)), "50-step")
    hint(ex.check_ddim_loop(model, lambda model, x_T, steps: x_T[0]), "shape")
    hint(ex.check_ddim_loop(model, lambda model, x_T, steps: x_T + 1), "differs")


# ----------------------------------------------------------------------------- 03.2 and 03.3


def asyrp_sample(model, x_T, steps, editor, t_edit, mode="asyrp"):
    """Kwon et al.'s Eq. 4 from t_edit up, plain DDIM below, written from alphas_cumprod."""
    a = model.scheduler.alphas_cumprod.double()
    x = x_T.double()
    stride = model.num_train_timesteps // steps
    for t in range(model.num_train_timesteps - stride, -1, -stride):
        xf = x.float()
        eps = ll.eps_of(model, xf, t).double()
        edit = t >= t_edit if mode != "every step" else True
        eps_edit = ll.eps_of(model, xf, t, dh=editor(t, ll.h_of(model, xf, t))).double() if edit else eps
        eps_p, eps_d = {"asyrp": (eps_edit, eps), "every step": (eps_edit, eps), "symmetric": (eps_edit, eps_edit),
                        "swapped": (eps, eps_edit)}[mode]
        a_prev = a[t - stride] if t >= stride else torch.tensor(1.0, dtype=torch.float64)
        p = ((x - (1 - a[t]).sqrt() * eps_p) / a[t].sqrt()).clamp(-1, 1)
        x = a_prev.sqrt() * p + (1 - a_prev).sqrt() * eps_d
    return x


@pytest.mark.slow  # a full DDIM run or the bundled model: `make test` runs it, `make check` does not
def test_asyrp_loop(model):
    dh = 4 * torch.randn(model.h_shape, generator=gen(5))
    editor = lambda t, h: dh.expand_as(h)  # noqa: E731
    check = lambda fn: ex.check_asyrp_loop(model, fn, editor, t_edit=500)  # noqa: E731
    right(check(asyrp_sample))
    hint(check(None), "Fill in")
    hint(check(lambda *a: None), "returned None")
    hint(check(lambda *a: asyrp_sample(*a, mode="symmetric")), "symmetric")
    hint(check(lambda *a: asyrp_sample(*a, mode="swapped")), "other way round")
    hint(check(lambda *a: asyrp_sample(*a, mode="every step")), "edited every step")
    hint(check(lambda m, x, s, e, t: asyrp_sample(m, x, s, e, t + 1)), "t >= t_edit, not t > t_edit")
    hint(check(lambda m, x, s, e, t: ll.ddim_sample(m, x, s, progress=False)), "no edit")
    hint(check(lambda m, x, s, e, t: ll.ddim_sample(m, x, s, dh=e, t_edit=t, clip=False, progress=False)), "clip")


@pytest.mark.slow  # a full DDIM run or the bundled model: `make test` runs it, `make check` does not
def test_glasses_t_half(model):
    """A constructed world: the 'probe' sees glasses on a face that moved far from its unedited sample,
    the threshold set between two faces' changes at one t_edit, so that half the faces switch there."""
    x_T = torch.randn(4, *model.sample_shape, generator=gen(4))
    dh = 4 * torch.randn(model.h_shape, generator=gen(5))
    editor = lambda t, h: dh.expand_as(h)  # noqa: E731
    steps = 20
    base = ll.ddim_sample(model, x_T, steps, progress=False)
    changes = {}

    def change(t):  # per face, from t_edit = t; a DDIM run each, so only the grid timesteps looked at
        if t not in changes:
            edited = ll.ddim_sample(model, x_T, steps, dh=editor, t_edit=t, progress=False)
            changes[t] = (edited - base).flatten(1).norm(dim=1)
        return changes[t]

    for t_true in (500, 400, 600, 300, 700):  # a threshold with >= 2 of 4 above it at t_true, < 2 the step above
        thr_hi = change(t_true).sort(descending=True).values[1]
        thr_lo = change(t_true + 50).sort(descending=True).values[1]
        if thr_lo < thr_hi:
            break
    else:
        pytest.fail(f"no grid timestep separates the changes: {changes}")
    thr = (thr_lo + thr_hi) / 2
    probe = lambda x: {"glasses": ((x - base).flatten(1).norm(dim=1) > thr).float()}  # noqa: E731
    check = lambda t: ex.check_glasses_t_half(model, x_T, t, editor=editor, probe=probe)  # noqa: E731
    change(t_true - 50)
    assert set(changes) <= set(ll.ddim_timesteps(model, steps).tolist())
    # a search: not only the first grid point (counted on grid timesteps computed here, a subset of the grid)
    assert sum(int(c.gt(thr).sum()) >= 2 for c in changes.values()) >= 2
    right(check(t_true))
    hint(check(None), "Fill in")
    hint(check(t_true + 50), "lies below")
    if int(change(t_true - 50).gt(thr).sum()) >= 2:
        hint(check(t_true - 50), "t_half is larger")
    hint(check(t_true + 10), "grid")
    hint(check(t_true + 0.5), "integer")
    hint(ex.check_glasses_t_half(model, x_T[0], t_true, editor=editor, probe=probe), "batch")


# ----------------------------------------------------------------------------- 04.3


def editor_loss(model, probe, x_t, t, dh, goal, l1, slip=""):
    """train_editor's loss for smile, from its description: |smile - goal| / range on P_t(eps_edit),
    plus l1 * mean|P_t(eps_edit) - P_t(eps)|, P_t unclipped."""
    a = model.scheduler.alphas_cumprod[t]
    with torch.no_grad():
        eps = ll.eps_of(model, x_t, t)
    eps_edit = ll.eps_of(model, x_t, t, dh=dh)
    p_edit = (x_t - (1 - a).sqrt() * eps_edit) / a.sqrt()
    p = (x_t - (1 - a).sqrt() * eps) / a.sqrt()
    if slip == "clip":
        p_edit, p = p_edit.clamp(-1, 1), p.clamp(-1, 1)
    attr = (probe(p_edit)["smile"] - goal).abs().mean() / 2.0
    if slip == "no l1":
        return attr
    if slip == "eps":
        return attr + l1 * (eps_edit - eps).abs().mean()
    return attr + l1 * (p_edit - p).abs().mean()


def test_editor_loss(tiny):
    probe = LinearProbe()
    dh = 0.5 * torch.randn(2, *tiny.h_shape, generator=gen(3))
    check = lambda fn: ex.check_editor_loss(tiny, probe, fn, dh)  # noqa: E731
    right(check(editor_loss))
    hint(check(None), "Fill in")
    hint(check(lambda *a: None), "returned None")
    hint(check(lambda *a: editor_loss(*a, slip="no l1")), "probe's term alone")
    hint(check(lambda *a: editor_loss(*a, slip="eps")), "not the noises")
    hint(check(lambda *a: editor_loss(*a, slip="clip")), "unclipped")
    hint(check(lambda *a: editor_loss(*a).item()), "no .item()")
    hint(check(lambda m, p, x, t, d, g, w: editor_loss(m, p, x, t, d.detach(), g, w)), "does not depend on dh")
    hint(check(lambda m, p, x, t, d, g, w: editor_loss(m, p, x, t, d, g, w) * torch.ones(2)), "one number")
    hint(check(lambda m, p, x, t, d, g, w: editor_loss(m, p, x, t, d, g, 2 * w)), "package's")


def test_editor_loss_is_train_editors_loss(tiny):
    """The oracle against the package: at its first step a raw-dh editor is 0, and train_editor's
    logged loss is then the probe's term on that step's x_T, which editor_loss must give too."""
    probe, history = LinearProbe(), []
    ll.train_editor(tiny, "smile", 1.0, "dh", probe=probe, progress=False, history=history, steps=4, t_edit=750,
                    trajectories=1, batch=2, seed=7)
    x_T = torch.randn(2, *tiny.sample_shape, generator=gen(7))
    first = editor_loss(tiny, probe, x_T, 750, torch.zeros(2, *tiny.h_shape), 1.0, 3.0)
    assert history[0]["t"] == 750 and abs(first.item() - history[0]["loss"]) < 1e-5 * max(1.0, abs(first.item()))


# ----------------------------------------------------------------------------- 05.3


def test_haas_power_iteration(model):
    x_t = torch.randn(model.sample_shape, generator=gen(8))
    J = dense_jacobian(lambda dh: ll.eps_of(model, x_t, 600, dh=dh.reshape(model.h_shape)).flatten(),
                       torch.zeros(model.h_shape).flatten())  # (768, 1024): the oracle
    dense = torch.linalg.svd(J.double(), full_matrices=False)
    S, V = dense.S[:2], dense.Vh[:2].reshape(2, *model.h_shape)
    check = lambda S, V: ex.check_haas_power_iteration(model, x_t, 600, S, V)  # noqa: E731
    right(check(S, V))
    right(check(S, -V))  # a singular vector's sign is free
    hint(check(None, V), "Fill in")
    hint(check(S, V[0]), "stack")
    hint(check(S, dense.U[:2].T.reshape(2, *model.sample_shape)), "swapped")
    hint(check(S, 2 * V), "unit norm")
    hint(check(S, torch.stack([V[0], V[0]])), "parallel")
    hint(check(S.flip(0), V.flip(0)), "wrong order")
    hint(check(S ** 2, V), "s_i^2")
    hint(check(S[:1], V), "2 singular values")
    hint(check(1.5 * S, V), "V is right")
    other = torch.randn(2, *model.h_shape, generator=gen(9), dtype=torch.float64)
    hint(check(S, torch.linalg.qr(other.flatten(1).T)[0].T.reshape(2, *model.h_shape)), "iterate more")


def test_haas_power_iteration_accepts_a_block_power_iteration(model):
    """The route the lab teaches, on the package's products: 30 iterations of QR(J^T J V) pass."""
    x_t = torch.randn(model.sample_shape, generator=gen(8))
    jvp, vjp, h_shape = jacobian_products(model, x_t, 600, which="eps")
    V = torch.randn(2, *h_shape, generator=gen(0))
    for _ in range(30):
        V = torch.linalg.qr(vjp(jvp(V)).flatten(1).T)[0].T.reshape(V.shape)
    S = jvp(V).flatten(1).norm(dim=1)
    right(ex.check_haas_power_iteration(model, x_t, 600, S, V))
