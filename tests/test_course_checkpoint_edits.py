"""Lecture 09's cost counts against a counter on a tiny U-Net's forward calls, the relative change
against numpy's norms, and the noise floor of PCA against numpy's SVD."""
import numpy as np
import pytest
import torch

import latentlab as ll
from latentlab.course.checkpoint_edits import (
    asyrp_calls,
    guidance_calls,
    noise_top_share,
    noise_top_share_draws,
    relative_change,
    unet_calls,
)


def counted(model, run) -> int:
    n = {"calls": 0}
    hook = model.unet.register_forward_pre_hook(lambda m, args: n.__setitem__("calls", n["calls"] + len(args[0])))
    try:
        run()
    finally:
        hook.remove()
    return n["calls"]


def test_the_counts_are_the_unet_calls_ddim_and_guidance_make(model):
    steps = 5
    grid = ll.ddim_timesteps(model, steps).tolist()
    x_T = torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(0))
    t_edit, t_pb = grid[2], grid[1]
    dh = lambda t, h: 0.1 * torch.ones_like(h)  # noqa: E731
    assert counted(model, lambda: ll.ddim_sample(model, x_T, steps, dh=dh, t_edit=t_edit, progress=False)) == \
        asyrp_calls(grid, t_edit)
    v = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(1))
    for strength, want in ((0.1, guidance_calls(grid, t_pb, n=4)), (0.0, sum(t <= t_pb for t in grid))):
        got = counted(model, lambda: ll.edit_and_denoise(model, x_T[0], t_pb, v / v.norm(), steps=steps,
                                                         strength=strength, n=4,
                                                         generator=torch.Generator().manual_seed(2)))
        assert got == want
    parts = unet_calls(grid, n_pca=3, n_random=2, t_edit=t_edit, t_pullback=t_pb, faces=2)
    assert parts["h edits"] == 2 * (len(grid) + 4 * asyrp_calls(grid, t_edit))
    with pytest.raises(ValueError, match="t_edit must be a timestep"):
        guidance_calls(grid, t_pb + 1)


def test_relative_change_is_numpys_norm_ratio():
    x = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(3))
    ref = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(4))
    want = [np.linalg.norm((a - b).numpy()) / np.linalg.norm(b.numpy()) for a, b in zip(x, ref)]
    np.testing.assert_allclose(relative_change(x, ref).numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(relative_change(x, ref[0]).numpy(),
                               [np.linalg.norm((a - ref[0]).numpy()) / np.linalg.norm(ref[0].numpy()) for a in x],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="ref must have"):
        relative_change(x, ref[:, :2])


def test_noise_top_share_matches_numpys_svd_and_the_1_over_n_scale():
    g = torch.Generator().manual_seed(0)
    shares = []
    for _ in range(3):
        x = torch.randn(16, 400, generator=g, dtype=torch.float64).numpy()
        s = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
        shares.append(s[:2] / s.sum())
    np.testing.assert_allclose(noise_top_share(16, 400, k=2, draws=3).numpy(), np.mean(shares, 0), rtol=1e-10)
    assert float(noise_top_share(32, 2048, k=1)[0]) == pytest.approx(1 / 31, rel=0.3)  # far above 1 / 2048
    with pytest.raises(ValueError, match="k must be at most"):
        noise_top_share(2, 10, k=3)


def test_noise_top_share_draws_are_numpys_per_draw_shares():
    g = torch.Generator().manual_seed(0)
    shares = []
    for _ in range(4):
        x = torch.randn(16, 400, generator=g, dtype=torch.float64).numpy()
        s = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
        shares.append(s[:2] / s.sum())
    np.testing.assert_allclose(noise_top_share_draws(16, 400, k=2, draws=4).numpy(), np.array(shares), rtol=1e-10)
    with pytest.raises(ValueError, match="draws"):
        noise_top_share_draws(16, 400, draws=0)


@pytest.mark.parametrize("name, width, size", [("celebahq-256", 16, 64), ("sd-2.1-base", 40, 32)])
def test_architecture_row_agrees_with_the_model_built_with_numbers(name, width, size):
    from latentlab.architectures import random_model
    from latentlab.course.checkpoint_edits import architecture_row

    row = architecture_row(name, width=width)
    small = random_model(name, width=width)
    assert row["parameters"] == sum(p.numel() for p in small.unet.parameters())
    x = torch.zeros(1, *small.sample_shape)
    if name == "sd-2.1-base":
        small.cond = torch.zeros(1, 77, small.unet.config.cross_attention_dim)
    h = ll.h_of(small, x, 500)
    assert row["h"] == " x ".join(map(str, h.shape[-3:])) and row["h numbers"] == h[0].numel()
    with pytest.raises(ValueError, match="name must be one of"):
        architecture_row("sd-9")
