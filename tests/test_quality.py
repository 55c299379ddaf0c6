"""Quality measures against closed forms, scipy and numpy."""
import numpy as np
import pytest
import torch
from scipy import linalg, stats

import latentlab as ll
from latentlab.probe import Probe, ProbeConfig
from latentlab.quality import (
    frechet_distance,
    image_correlation,
    model_quality,
    neighbour_correlation,
    null_quality,
    psnr,
    rerender,
)
from latentlab.stats import ks_critical_value, ks_distance, proportion_critical_difference


def whitened(n, d, seed):
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    z = z - z.mean(0)
    L = torch.linalg.cholesky(z.T @ z / (n - 1))
    return z @ torch.linalg.inv(L).T  # empirical mean 0, covariance exactly I


def test_frechet_distance_closed_form():
    """Between N(0, I) and N(m, s^2 I) in d dims: |m|^2 + d (1 - s)^2."""
    a = whitened(500, 4, 0)
    m, s = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64), 1.7
    b = s * whitened(500, 4, 1) + m
    expected = (m @ m).item() + 4 * (1 - s) ** 2
    assert abs(frechet_distance(a, b) - expected) < 1e-6
    assert abs(frechet_distance(a, a)) < 1e-6


def test_psnr():
    x = torch.zeros(2, 3, 4, 4)
    y = x + torch.tensor([0.2, 0.02]).view(2, 1, 1, 1)
    assert torch.allclose(psnr(x, y), torch.tensor([20.0, 40.0]))  # 10 log10(4 / 0.04), 10 log10(4 / 4e-4)


def test_rerender_shapes():
    x, _ = ll.render_faces(3, seed=0)
    assert rerender(x, Probe(ProbeConfig.tiny())).shape == x.shape


# --- detectability: oracles from scipy (the Kolmogorov distribution, the exact two-sample KS test,
# chi-square) and numpy, none of which latentlab.quality uses.


def test_frechet_distance_matches_scipy_sqrtm():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(300, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64)
    b = torch.randn(300, 6, generator=g, dtype=torch.float64) * 2 + 0.3
    ca, cb = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    mu = a.numpy().mean(0) - b.numpy().mean(0)
    expected = mu @ mu + np.trace(ca + cb - 2 * np.real(linalg.sqrtm(ca @ cb)))
    assert abs(frechet_distance(a, b) - expected) < 1e-8 * max(1.0, abs(expected))


def test_frechet_distance_with_fewer_samples_than_dimensions():
    """n <= d gives singular covariances: a set against itself is still exactly 0."""
    a = torch.randn(10, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(frechet_distance(a, a)) < 1e-9
    assert frechet_distance(a, a + 1) == pytest.approx(40.0, abs=1e-9)  # only the means differ, by 1 in each of 40 dims


def test_neighbour_correlation_matches_numpy():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 5, 6, generator=g)
    x[1] = x[1].cumsum(-1)  # a random walk along each row: strongly correlated neighbours
    ours = neighbour_correlation(x)
    for i in range(3):
        left, right = x[i, ..., :-1].flatten().numpy(), x[i, ..., 1:].flatten().numpy()
        assert ours[i].item() == pytest.approx(np.corrcoef(left, right)[0, 1], abs=1e-6)
    assert ours[1] > 0.5
    noise = torch.randn(4, 3, 32, 32, generator=g)
    assert neighbour_correlation(noise).abs().max() < 0.1


def test_image_correlation_matches_numpy():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(3, 3, 4, 4, generator=g), torch.randn(3, 3, 4, 4, generator=g)
    y[0] = 0.5 * x[0] + y[0]
    ours = image_correlation(x, y)
    for i in range(3):
        expected = np.corrcoef(x[i].flatten().numpy(), y[i].flatten().numpy())[0, 1]
        assert ours[i].item() == pytest.approx(expected, abs=1e-6)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="alpha must be a number in \\(0, 1\\).*got 1.5"):
        ks_critical_value(64, 64, 1.5)
    with pytest.raises(ValueError, match="n must be a positive integer.*got 0"):
        ks_critical_value(0, 64)
    with pytest.raises(ValueError, match="rate must be a number in \\[0, 1\\].*got 2"):
        proportion_critical_difference(64, 64, rate=2)
    with pytest.raises(ValueError, match="a must be a non-empty set of finite numbers"):
        ks_distance([], [1.0])
    with pytest.raises(ValueError, match="x must be a tensor \\(B, C, H, W\\), got \\(3, 4\\)"):
        neighbour_correlation(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="x and y must have the same shape"):
        image_correlation(torch.zeros(1, 3, 4, 4), torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="a and b must have the same feature dimension"):
        frechet_distance(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="repeats must be an integer >= 1, got 0"):
        null_quality(Probe(ProbeConfig.tiny()), repeats=0)


def test_null_quality_follows_the_kolmogorov_distribution():
    """Two independent render sets from one distribution: sqrt(n/2) D is Kolmogorov-distributed
    (mean 0.869), and about 5 % of the distances exceed the 5 % critical value."""
    torch.manual_seed(0)
    probe = Probe(ProbeConfig.tiny())
    null = null_quality(probe, n=64, repeats=30, seed=5, progress=False)
    d = torch.cat(list(null["ks"].values())).numpy()  # 300 distances
    assert d.shape == (300,)
    assert np.sqrt(64 / 2) * d.mean() == pytest.approx(stats.kstwobign.mean(), abs=0.1)
    assert (d > ks_critical_value(64, 64, 0.05)).mean() <= 0.1
    assert null["frechet"].shape == null["glasses_diff"].shape == null["rerender_ratio"].shape == (30,)
    again = null_quality(probe, n=64, repeats=2, seed=5, progress=False)
    assert torch.equal(again["frechet"], null["frechet"][:2])


def test_model_quality_returns_the_readings_it_scored():
    model = ll.tiny_model(sample_size=32)  # the faces world renders from 32 px
    torch.manual_seed(0)
    probe = Probe(ProbeConfig.tiny())
    q = model_quality(model, probe, n=8, steps=2, n_invert=2, progress=False)
    rs, rr = q["readings"]["samples"], q["readings"]["renders"]
    assert rs["smile"].shape == rr["smile"].shape == (8,)
    for k, v in q["ks"].items():
        assert v == pytest.approx(stats.ks_2samp(rs[k].numpy(), rr[k].numpy()).statistic)
    assert q["glasses_rate"][0] == pytest.approx((rs["glasses"] > 0.5).float().mean().item())
