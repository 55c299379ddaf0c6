"""Quality measures against closed forms."""
import torch

import latentlab as ll
from latentlab.quality import frechet_distance, psnr, rerender
from latentlab.probe import Probe, ProbeConfig


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
