"""Figures the notebooks show: image grids, attribute sweeps, trajectories. Matplotlib only."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, render_faces

__all__ = ["to_image", "show_images", "show_attribute_sweeps", "show_rows"]


def to_image(x: Tensor):
    """(C, H, W) in [-1, 1] -> (H, W, C) numpy array in [0, 1], for `imshow`."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()


def show_images(images: Tensor, nrow: int = 8, titles: Sequence[str] | None = None, scale: float = 0.9, suptitle: str | None = None):
    """A grid of images `(n, C, H, W)`; returns the figure.

    >>> fig = show_images(torch.zeros(4, 3, 8, 8), nrow=2); plt.close(fig)
    """
    n = len(images)
    ncol = min(nrow, n)
    rows = (n + ncol - 1) // ncol
    fig, axes = plt.subplots(rows, ncol, figsize=(scale * ncol, scale * rows * (1.25 if titles else 1)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(to_image(images[i]), interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout(pad=0.2)
    return fig


def show_rows(rows: dict[str, Tensor], col_titles: Sequence[str] | None = None, scale: float = 0.9):
    """Rows of images with a label on the left: `{label: (k, C, H, W)}`, all with the same k."""
    k = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), k, figsize=(scale * k + 1.0, scale * len(rows)), squeeze=False)
    for r, (label, imgs) in enumerate(rows.items()):
        for c in range(k):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if c < len(imgs):
                ax.imshow(to_image(imgs[c]), interpolation="nearest")
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
            if r == 0 and col_titles is not None:
                ax.set_title(col_titles[c], fontsize=7)
    fig.tight_layout(pad=0.2)
    return fig


def show_attribute_sweeps(n_values: int = 7, seed: int = 0, size: int = 32):
    """One face, each attribute swept over its range (a row per attribute); returns the figure."""
    _, base = render_faces(1, seed=seed, size=size)
    rows = {}
    for name, (lo, hi) in ATTRIBUTES.items():
        values = torch.tensor([lo, hi]) if name in BINARY_ATTRIBUTES else torch.linspace(lo, hi, n_values)
        fixed = {k: v.expand(len(values)) for k, v in base.items()}
        fixed[name] = values
        rows[name] = render_faces(len(values), size=size, **fixed)[0]
    return show_rows(rows, col_titles=["low"] + [""] * (n_values - 2) + ["high"])
