"""Lab 11's exercise checks (latentlab.course.exercises.ex11): a right answer passes, the usual wrong ones
get a hint; the references are numpy's projection and a finite difference of the posterior mean."""
import torch

import latentlab as ll
from latentlab.course import exercises as ex
from latentlab.ddim import P_t, alpha_bar, eps_from_output
from latentlab.hspace import eps_of_batch
from latentlab.loco import loco_directions


def _face():
    m = ll.tiny_model()
    x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[4:8, 4:12] = True
    return m, x, mask, loco_directions(m, x, 600, mask, null_rank=3)


def _right(v, V_out):
    p = v - V_out.T @ (V_out @ v)
    return p / p.norm()


def test_null_project_passes_the_right_answer_and_hints_the_usual_mistakes():
    *_, d = _face()
    assert ex.check_null_project(_right, d).ok
    wrong = {"unnormalised": lambda v, W: 2 * _right(v, W), "kept the span": lambda v, W: W.T @ (W @ v),
             "not projected": lambda v, W: v / v.norm(), "crashes": lambda v, W: 1 / 0, "blank": None}
    for name, fn in wrong.items():
        assert not ex.check_null_project(fn, d).ok, name


def test_null_space_effect_against_a_finite_difference():
    m, x, mask, d = _face()
    a = alpha_bar(m, 600)

    def x0_hat(z):
        tb = torch.full((1,), 600, dtype=torch.long)
        return P_t(z[None], eps_from_output(m, eps_of_batch(m, z[None], tb), z[None], 600), a)[0]

    ratios = []
    for v in (d.V_in[0], d.V[0]):
        with torch.no_grad():
            Jv = (x0_hat(x + 1e-3 * v) - x0_hat(x - 1e-3 * v)) / 2e-3
        M = mask.float().expand_as(Jv)
        ratios.append(float(((1 - M) * Jv).norm() / (M * Jv).norm()))
    assert ex.check_null_space_effect(m, x, 600, mask, d, *ratios).ok
    assert not ex.check_null_space_effect(m, x, 600, mask, d, 1 / ratios[0], 1 / ratios[1]).ok
    assert not ex.check_null_space_effect(m, x, 600, mask, d, ratios[1], ratios[0] * 2).ok
