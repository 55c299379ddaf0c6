"""latentlab.directions against oracles built here: numpy means and interpolation, h_of on the
sampler's own trajectory, and a hand-written per-step callable."""
import numpy as np
import pytest
import torch

import latentlab as ll
from latentlab.directions import StepDirection, combine, h_trajectory, mean_difference, paired_direction

from helpers import gen


def test_mean_difference_equals_numpy():
    h = torch.randn(10, 4, 2, 2, generator=gen(0), dtype=torch.float64)
    labels = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0, 0], dtype=bool)
    expected = h.numpy()[labels].mean(0) - h.numpy()[~labels].mean(0)
    np.testing.assert_allclose(mean_difference(h, torch.tensor(labels)).numpy(), expected)
    np.testing.assert_allclose(mean_difference(h, labels.astype(int).tolist()).numpy(), expected)


@pytest.mark.parametrize("labels, match", [
    ([True, False], r"labels must have shape \(3,\)"),
    ([True, True, True], "both classes, got 3 true of 3"),
    ([0, 1, 2], "booleans or 0/1"),
])
def test_mean_difference_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        mean_difference(torch.zeros(3, 2), labels)


def test_h_trajectory_is_h_of_along_the_trajectory(model):
    x_T = torch.randn(3, 3, 16, 16, generator=gen(1))
    tr = h_trajectory(model, x_T, 4, batch_size=2, progress=False)
    x0, xs = ll.ddim_sample(model, x_T, 4, return_trajectory=True, progress=False)
    torch.testing.assert_close(tr.x0, x0)
    for s, t in enumerate(tr.timesteps.tolist()):
        torch.testing.assert_close(tr.h[:, s], ll.h_of(model, xs[s], t))


def test_step_direction_interpolates_like_numpy():
    ts = torch.tensor([900, 500, 100])
    vals = torch.randn(3, 2, 1, 1, generator=gen(2), dtype=torch.float64)
    d = StepDirection(ts, vals)
    for t in (950, 900, 700, 321, 100, 0):
        for j in range(2):
            expected = np.interp(t, ts.flip(0).numpy(), vals[:, j, 0, 0].flip(0).numpy())
            assert d.at(t)[j, 0, 0].item() == pytest.approx(expected)
    torch.testing.assert_close((d + 2 * d).directions, 3 * vals)


def test_step_direction_edits_like_a_hand_written_callable(model):
    grid = ll.ddim_timesteps(model, 4)
    dirs = torch.randn(4, *model.h_shape, generator=gen(3))
    table = {int(t): dirs[i] for i, t in enumerate(grid)}
    x_T = torch.randn(2, 3, 16, 16, generator=gen(4))
    ours = ll.ddim_sample(model, x_T, 4, dh=StepDirection(grid, dirs), progress=False)
    ref = ll.ddim_sample(model, x_T, 4, dh=lambda t, h: table[t], progress=False)
    torch.testing.assert_close(ours, ref)


def test_combine_sums_weighted_edits():
    h = torch.randn(2, 3, generator=gen(5))
    f = combine(torch.ones(3), lambda t, h: t * h, weights=[0.5, 2.0])
    torch.testing.assert_close(f(3, h), 0.5 + 6 * h)
    with pytest.raises(ValueError, match="one entry per dh"):
        combine(torch.ones(3), weights=[1.0, 2.0])
    with pytest.raises(TypeError, match=r"dhs\[0\] must be a tensor or a callable"):
        combine("smile")


def test_paired_direction_is_the_mean_of_h_differences_and_antisymmetric():
    model = ll.tiny_model(sample_size=32)
    d = paired_direction(model, "smile", 2, n=3, low=-0.5, high=0.5, seed=7)
    back = paired_direction(model, "smile", 2, n=3, low=0.5, high=-0.5, seed=7)
    torch.testing.assert_close(back.directions, -d.directions)
    # the oracle: renders that differ in smile only, forward-noised alike by q_sample
    x_lo = ll.render_faces(3, seed=7, smile=-0.5)[0]
    x_hi = ll.render_faces(3, seed=7, smile=0.5)[0]
    for s, t in enumerate(d.timesteps.tolist()):
        h_hi = ll.h_of(model, ll.q_sample(model, x_hi, t, generator=gen(7)), t)
        h_lo = ll.h_of(model, ll.q_sample(model, x_lo, t, generator=gen(7)), t)
        torch.testing.assert_close(d.directions[s], (h_hi - h_lo).mean(0))


@pytest.mark.parametrize("kwargs, match", [
    (dict(attr="beard"), "attr must be one of"),
    (dict(attr="glasses", low=0.5), "low must be 0 or 1 for glasses"),
    (dict(attr="smile", high=3.0), r"high must be a number in \[-1.0, 1.0\]"),
    (dict(attr="smile", low=0.2, high=0.2), "low and high must differ"),
    (dict(attr="smile", n=0), "n must be a positive integer"),
])
def test_paired_direction_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        paired_direction(ll.tiny_model(sample_size=32), steps=2, **kwargs)


def test_step_direction_bad_input():
    with pytest.raises(ValueError, match="distinct timesteps"):
        StepDirection([500, 500], torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"S = 2 \(one per timestep\)"):
        StepDirection([500, 400], torch.zeros(3, 3))


def test_random_direction_has_the_given_norms_and_independent_draws():
    from latentlab.directions import random_direction
    norms = torch.tensor([2.0, 5.0])
    d = random_direction([800, 200], norms, n=3, h_shape=(4, 2, 2), generator=gen(6))
    assert d.directions.shape == (2, 3, 4, 2, 2)
    torch.testing.assert_close(d.directions.flatten(2).norm(dim=2), norms[:, None].expand(2, 3))
    assert abs(float((d.directions[0, 0] * d.directions[0, 1]).sum())) < 2.0 * 2.0  # not the same draw
    with pytest.raises(ValueError, match=r"norms must have shape \(2,\)"):
        random_direction([800, 200], torch.ones(3), h_shape=(4, 2, 2))
