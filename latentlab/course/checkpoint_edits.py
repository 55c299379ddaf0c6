"""What lecture 09 measures on any checkpoint: how many U-Net calls its edits cost (so a run on a real
model can be planned before it starts), how much an edit changes an image, and how much of h's
variance the top principal components of isotropic noise already "explain" (the floor a PCA fit on
few samples must beat).

Counts are in single-image U-Net calls: an unedited DDIM step is one call, an asymmetric step
(Asyrp, Kwon et al. 2023, arXiv 2210.10960) with t >= t_edit two (the edited and the unedited eps),
Park et al.'s x-space guidance (arXiv 2307.12868) 2 n (n repeats of a difference of two eps).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["architecture_row", "asyrp_calls", "guidance_calls", "unet_calls", "relative_change", "noise_top_share",
           "noise_top_share_draws"]


def architecture_row(name: str, *, width: int = 1) -> dict[str, Any]:
    """A real checkpoint's U-Net (`latentlab.architectures.ARCHITECTURES[name]`) described from its config
    alone, built on PyTorch's `meta` device (shapes, no memory, no numbers): hub id, class, parameters,
    input shape, channels per level, where attention sits, and h's shape (the middle block's output).

    >>> r = architecture_row("celebahq-256", width=16); r["h"], r["input"]
    ('32 x 8 x 8', '3 x 256 x 256')
    """
    from diffusers import DDIMScheduler, UNet2DConditionModel, UNet2DModel

    from latentlab.architectures import ARCHITECTURES, architecture_config
    from latentlab.hspace import h_of_batch
    from latentlab.model import Model

    if name not in ARCHITECTURES:
        raise ValueError(f"name must be one of {', '.join(map(repr, ARCHITECTURES))}, got {name!r}")
    hub_id = ARCHITECTURES[name][3]
    config = architecture_config(name, width=width)
    conditional = ARCHITECTURES[name][0]["_class_name"] == "UNet2DConditionModel"
    cls = UNet2DConditionModel if conditional else UNet2DModel
    with torch.device("meta"):
        m = Model(cls(**config), DDIMScheduler())
        h = h_of_batch(m, torch.zeros(1, *m.sample_shape), torch.tensor([500]))  # h_of's checks need numbers
    c, side = m.unet.config, m.sample_shape[1]
    attn = [side // 2 ** i for i, b in enumerate(c.down_block_types) if "Attn" in b]
    return {"model": hub_id, "class": type(m.unet).__name__,
            "parameters": sum(p.numel() for p in m.unet.parameters()),
            "input": " x ".join(map(str, m.sample_shape)), "levels": " ".join(map(str, c.block_out_channels)),
            "attention at": ", ".join(map(str, attn)) + (" + middle" if any(
                a is not None for a in m.unet.mid_block.attentions) else ""),
            "h": " x ".join(map(str, h.shape[1:])), "h numbers": h[0].numel()}


def _grid(grid: Sequence[int]) -> list[int]:
    g = [int(t) for t in grid]
    if not g:
        raise ValueError("grid must hold the sampler's timesteps, got an empty sequence")
    return g


def asyrp_calls(grid: Sequence[int], t_edit: int) -> int:
    """U-Net calls of one face sampled with Asyrp's asymmetric step at t >= t_edit on `grid`.

    >>> asyrp_calls([900, 600, 300, 0], 500)
    6
    """
    g = _grid(grid)
    return len(g) + sum(t >= t_edit for t in g)


def guidance_calls(grid: Sequence[int], t_edit: int, n: int = 16) -> int:
    """U-Net calls of one face edited by x-space guidance (n repeats) at `t_edit` and denoised from
    there on `grid` (the steps with t <= t_edit).

    >>> guidance_calls([900, 600, 300, 0], 600, n=16)
    35
    """
    g = _grid(grid)
    if t_edit not in g:
        raise ValueError(f"t_edit must be a timestep of the grid ({g[0]}, ..., {g[-1]}), got {t_edit!r}")
    return 2 * n + sum(t <= t_edit for t in g)


def unet_calls(grid: Sequence[int], *, n_pca: int, n_random: int, t_edit: int, t_pullback: int,
               faces: int = 4) -> dict[str, int]:
    """The U-Net calls of lecture 09's run, part by part (the pullback's products apart): plain
    samples of `faces` faces, two PCA fits on `n_pca` trajectories each, the h edits (unedited, +-pc 1
    and `n_random` random directions per face, Asyrp's step) and the pullback edits of face 1 (its
    trajectory, a zero edit, which skips the guidance, then +-v_1..3 and `n_random` random directions,
    by guidance).

    >>> unet_calls([900, 600, 300, 0], n_pca=2, n_random=1, t_edit=500, t_pullback=600, faces=1)
    {'samples': 4, 'two PCA fits': 16, 'h edits': 22, 'pullback edits': 252}
    """
    g = _grid(grid)
    s = len(g)
    return {"samples": faces * s, "two PCA fits": 2 * n_pca * s,
            "h edits": faces * (s + (2 + n_random) * asyrp_calls(g, t_edit)),
            "pullback edits": s + sum(t <= t_pullback for t in g) + (6 + n_random) * guidance_calls(g, t_pullback)}


def relative_change(x: Tensor, ref: Tensor) -> Tensor:
    """Per image, ||x - ref|| / ||ref||: `(N, ...)` against `(N, ...)` (or one ref for all), `(N,)`.

    >>> relative_change(torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 5.0]]))
    tensor([0.6325])
    """
    x, ref = torch.as_tensor(x).float(), torch.as_tensor(ref).float()
    if x.dim() < 1 or (ref.shape != x.shape and ref.shape != x.shape[1:]):
        raise ValueError(f"ref must have x's shape {tuple(x.shape)} or one image's {tuple(x.shape[1:])}, "
                         f"got {tuple(ref.shape)}")
    ref = ref.expand_as(x)
    return (x - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)


def noise_top_share_draws(n: int, dim: int, *, k: int = 3, draws: int = 20, seed: int = 0) -> Tensor:
    """The share of the total variance along the top k principal components of n isotropic Gaussian
    samples in `dim` dimensions, one row per draw: `(draws, k)`. Its quantiles over the draws are the
    floor a PCA fit on n samples must clear (e.g. `torch.quantile(s[:, 0], 0.95)`).

    >>> s = noise_top_share_draws(8, 500, k=2, draws=5); tuple(s.shape), bool((s[:, 0] >= s[:, 1]).all())
    ((5, 2), True)
    """
    for name, v in (("n", n), ("dim", dim), ("k", k), ("draws", draws)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if k > min(n, dim):
        raise ValueError(f"k must be at most min(n, dim) = {min(n, dim)}, got {k}")
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(draws):
        x = torch.randn(n, dim, generator=g, dtype=torch.float64)
        s = torch.linalg.svdvals(x - x.mean(0)) ** 2
        out.append(s[:k] / s.sum())
    return torch.stack(out)


def noise_top_share(n: int, dim: int, *, k: int = 3, draws: int = 20, seed: int = 0) -> Tensor:
    """The share of the total variance along the top k principal components of n isotropic Gaussian
    samples in `dim` dimensions, averaged over `draws` draws: `(k,)`. With n << dim it is about 1 / n
    each, not k / dim: a PCA of few samples always finds some "structure".

    >>> s = noise_top_share(8, 500, k=2, draws=5); tuple(s.shape), bool((s > 1 / 500).all())
    ((2,), True)
    """
    return noise_top_share_draws(n, dim, k=k, draws=draws, seed=seed).mean(0)
