"""Figures the notebooks show: image grids, attribute sweeps, trajectories, the U-Net's layout, the
channels of h, two samples' distributions with their KS distance, and the method comparison.
Matplotlib only."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

import latentlab as ll
from latentlab.faces import BINARY_ATTRIBUTES
from latentlab.stats import ks_distance

__all__ = [
    "to_image", "show_images", "show_attribute_sweeps", "show_rows",
    "UNetStage", "UNetSkip", "UNetLayout", "unet_layout", "show_unet", "show_channels", "show_ks",
    "show_comparison", "show_pushforward", "lecture_style", "show_kernel", "show_trajectory",
    "show_singular_values",
]


def to_image(x: Tensor):
    """(C, H, W) in [-1, 1] -> (H, W, C) numpy array in [0, 1], for `imshow`."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()


def show_images(images: Tensor, nrow: int = 8, titles: Sequence[str] | None = None, scale: float = 0.9,
                suptitle: str | None = None):
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
    _, base = ll.render_faces(1, seed=seed, size=size)
    rows = {}
    for name, (lo, hi) in ll.ATTRIBUTES.items():
        values = torch.tensor([lo, hi]) if name in BINARY_ATTRIBUTES else torch.linspace(lo, hi, n_values)
        fixed = {k: v.expand(len(values)) for k, v in base.items()}
        fixed[name] = values
        rows[name] = ll.render_faces(len(values), size=size, **fixed)[0]
    return show_rows(rows, col_titles=["low"] + [""] * (n_values - 2) + ["high"])


@dataclass(frozen=True)
class UNetStage:
    """One stage of a diffusers U-Net, as its config describes it."""

    kind: str  # "in" (conv_in), "down", "mid" or "up"
    block: str  # diffusers' block type, e.g. "AttnDownBlock2D"; "conv_in" for the input convolution
    channels: int  # channels of the stage's output
    size: tuple[int, int]  # spatial size its layers run at (that of its input)
    out_size: tuple[int, int]  # spatial size of its output: halved by a downsampler, doubled by an upsampler
    attention: bool  # the block has (self- or cross-) attention layers


@dataclass(frozen=True)
class UNetSkip:
    """One skip connection: a tensor stored on the way down and concatenated on the way up."""

    src: int  # index in `stages` of the stage that stores it
    dst: int  # index in `stages` of the up stage that takes it
    channels: int
    size: tuple[int, int]


class UNetLayout(NamedTuple):
    stages: list[UNetStage]
    skips: list[UNetSkip]


def _unet_config(unet_or_config: Any) -> Mapping:
    obj = getattr(unet_or_config, "unet", unet_or_config)  # a latentlab Model
    cfg = getattr(obj, "config", obj)  # a diffusers U-Net
    if not isinstance(cfg, Mapping) or "block_out_channels" not in cfg or "down_block_types" not in cfg:
        raise ValueError("unet_or_config must be a Model, a diffusers UNet2DModel / UNet2DConditionModel or its "
                         f"config (with block_out_channels and down_block_types), got {type(unet_or_config).__name__}")
    return cfg


def unet_layout(unet_or_config: Any) -> UNetLayout:
    """The stages and skip connections of a diffusers U-Net, read from its config (no forward pass).

    Follows `UNet2DModel.forward` (and `UNet2DConditionModel`'s): `conv_in` and every ResNet layer of
    a down block, and each downsampler, store one skip tensor; up block i takes the last
    `layers_per_block + 1` of them. h is the output of the `mid` stage.

    Args:
        unet_or_config: a `Model`, a diffusers U-Net, or its `config`.

    >>> from latentlab import tiny_model
    >>> layout = unet_layout(tiny_model())
    >>> [(s.kind, s.channels, s.out_size[0]) for s in layout.stages]
    [('in', 8, 16), ('down', 8, 8), ('down', 16, 8), ('mid', 16, 8), ('up', 16, 16), ('up', 8, 16)]
    >>> len(layout.skips)  # conv_in, down 0's ResNet and downsampler, down 1's ResNet
    4
    """
    cfg = _unet_config(unet_or_config)
    s = cfg["sample_size"]
    size = (s, s) if isinstance(s, int) else tuple(s)
    ch = list(cfg["block_out_channels"])
    n = len(ch)
    lpb = cfg["layers_per_block"]
    lpb = [lpb] * n if isinstance(lpb, int) else list(lpb)
    stages = [UNetStage("in", "conv_in", ch[0], size, size, False)]
    stored: list[tuple[int, int, tuple[int, int]]] = [(0, ch[0], size)]  # (src, channels, size), in order
    for i, block in enumerate(cfg["down_block_types"]):
        out = size if i == n - 1 else ((size[0] + 1) // 2, (size[1] + 1) // 2)
        stages.append(UNetStage("down", block, ch[i], size, out, "Attn" in block))
        stored += [(len(stages) - 1, ch[i], size)] * lpb[i] + ([(len(stages) - 1, ch[i], out)] if i < n - 1 else [])
        size = out
    mid = cfg.get("mid_block_type", "UNetMidBlock2D")
    if mid is not None:
        attention = "CrossAttn" in mid or bool(cfg.get("add_attention", True))
        stages.append(UNetStage("mid", mid, ch[-1], size, size, attention))
    skips = []
    for j, block in enumerate(cfg["up_block_types"]):
        out = size if j == n - 1 else (size[0] * 2, size[1] * 2)
        stages.append(UNetStage("up", block, ch[::-1][j], size, out, "Attn" in block))
        take = lpb[::-1][j] + 1
        skips += [UNetSkip(src, len(stages) - 1, c, sz) for src, c, sz in stored[-take:]]
        stored = stored[:-take]
        size = out
    return UNetLayout(stages, skips)


def show_unet(unet_or_config: Any, scale: float = 1.0):
    """The U-Net drawn from its config: blocks by resolution, skip connections, and h marked.

    Down blocks on the left, one row per resolution; up blocks on the right; the middle block at
    the bottom, its output h highlighted; a dashed arrow per resolution for the skip tensors stored
    there. Returns the figure.

    >>> from latentlab import tiny_model
    >>> fig = show_unet(tiny_model()); plt.close(fig)
    """
    cfg = _unet_config(unet_or_config)
    stages, skips = unet_layout(cfg)
    sizes = sorted({s.size for s in stages if s.kind in ("in", "down")}, key=lambda hw: -hw[0] * hw[1])
    level = {hw: i for i, hw in enumerate(sizes)}
    fig, ax = plt.subplots(figsize=(scale * 8.0, scale * (1.1 * len(sizes) + 1.6)))
    x_down, x_up, x_mid, w, hgt = 0.0, 5.0, 2.5, 2.1, 0.62
    pos = {}

    def box(i, x, y, face):
        st = stages[i]
        ax.add_patch(plt.Rectangle((x - w / 2, y - hgt / 2), w, hgt, facecolor=face, edgecolor="0.3", lw=0.8))
        label = f"{st.block}\n{st.channels} ch, {st.size[0]}x{st.size[1]}"
        ax.text(x, y, label, ha="center", va="center", fontsize=8)
        pos[i] = (x, y)

    arrow = dict(arrowstyle="-|>", color="0.25", lw=0.9, shrinkA=0, shrinkB=0)
    attn, plain = "#d9e8f5", "#f2f2f2"
    last_down = None
    for i, st in enumerate(stages):
        if st.kind == "down":
            box(i, x_down, -level[st.size], attn if st.attention else plain)
            if last_down is not None:
                (x0, y0), (x1, y1) = pos[last_down], pos[i]
                ax.annotate("", (x1, y1 + hgt / 2), (x0, y0 - hgt / 2), arrowprops=arrow)
                ax.text(x0 - 0.08, (y0 + y1) / 2, f"down to {st.size[0]}x{st.size[1]}",
                        ha="right", va="center", fontsize=6)
            last_down = i
    y_mid = -len(sizes) + 0.05
    mid = next((i for i, st in enumerate(stages) if st.kind == "mid"), None)
    if mid is not None:
        st = stages[mid]
        box(mid, x_mid, y_mid, "#f7c98b")
        ax.text(x_mid, y_mid - hgt / 2 - 0.08, f"h = its output, {st.channels} x {st.out_size[0]} x {st.out_size[1]}",
                ha="center", va="top", fontsize=8, fontweight="bold", color="#a0522d")
        ax.annotate("", (x_mid - w / 2, y_mid), pos[last_down],
                    arrowprops=dict(arrow, connectionstyle="angle,angleA=-90,angleB=180"))
    prev = mid if mid is not None else last_down
    for i, st in enumerate(stages):
        if st.kind == "up":
            box(i, x_up, -level[st.size], attn if st.attention else plain)
            (x0, y0), (x1, y1) = pos[prev], pos[i]
            if stages[prev].kind == "up":
                ax.annotate("", (x1, y1 - hgt / 2), (x0, y0 + hgt / 2), arrowprops=arrow)
                ax.text(x1 + w / 2 + 0.08, (y0 + y1) / 2, f"up to {st.size[0]}x{st.size[1]}",
                        ha="left", va="center", fontsize=6)
            else:
                ax.annotate("", (x1, y1 - hgt / 2), (x0 + (w / 2 if prev == mid else 0), y0),
                            arrowprops=dict(arrow, connectionstyle="angle,angleA=0,angleB=-90"))
            prev = i
    for hw, lev in level.items():
        here = [sk for sk in skips if sk.size == hw]
        if here:
            y = -lev + 0.12
            ax.annotate("", (x_up - w / 2, y), (x_down + w / 2, y), arrowprops=dict(arrow, ls="--", color="0.5"))
            chans = " + ".join(str(sk.channels) for sk in here)
            ax.text(x_mid, y + 0.04, f"{len(here)} skips ({chans} ch)",
                    ha="center", va="bottom", fontsize=7, color="0.35")
    first, last = pos[1], pos[prev]
    c_in, c_out = cfg.get("in_channels", 3), cfg.get("out_channels", 3)
    y_box, y_text = first[1] + hgt / 2, first[1] + hgt / 2 + 0.4
    ax.annotate("", (first[0], y_box), (first[0], y_text), arrowprops=arrow)
    ax.annotate("", (last[0], y_text), (last[0], y_box), arrowprops=arrow)
    side = f"{sizes[0][0]} x {sizes[0][1]}"
    ax.text(first[0], y_text + 0.03, f"x_t: {c_in} x {side}", ha="center", va="bottom", fontsize=8)
    ax.text(last[0], y_text + 0.03, f"eps: {c_out} x {side}", ha="center", va="bottom", fontsize=8)
    ax.text(x_up + w / 2, y_mid - hgt / 2, "blue: blocks with attention\nt enters every ResNet layer\n"
            "as a time embedding", ha="right", va="bottom", fontsize=6, color="0.35")
    ax.set_xlim(x_down - w / 2 - 0.9, x_up + w / 2 + 0.9)
    ax.set_ylim(y_mid - hgt / 2 - 0.4, y_text + 0.3)
    ax.axis("off")
    fig.tight_layout(pad=0.2)
    return fig


def show_channels(h: Tensor, images: Tensor | None = None, k: int = 8, channels: Sequence[int] | None = None,
                  scale: float = 0.8):
    """Channels of h as heat maps: a row per sample, a column per channel (shared colour scale per channel).

    Args:
        h: `(B, C, H, W)` or one sample's `(C, H, W)`.
        images: optional `(B, 3, H', W')` shown in a first column, e.g. the faces h came from.
        k: how many channels, when `channels` is not given: the k whose values vary most over the
            batch and the positions.
        channels: the channel indices to show.

    >>> fig = show_channels(torch.randn(2, 16, 4, 4), k=3); plt.close(fig)
    """
    if not isinstance(h, Tensor) or h.dim() not in (3, 4):
        got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise ValueError(f"h must be a tensor (B, C, H, W) or (C, H, W), got {got}")
    h = (h if h.dim() == 4 else h[None]).detach().float().cpu()
    if channels is None:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= h.shape[1]:
            raise ValueError(f"k must be an integer from 1 to the {h.shape[1]} channels of h, got {k!r}")
        channels = h.transpose(0, 1).flatten(1).var(1).topk(k).indices.tolist()
    elif not all(isinstance(c, int) and 0 <= c < h.shape[1] for c in channels):
        raise ValueError(f"channels must be indices from 0 to {h.shape[1] - 1}, got {list(channels)!r}")
    if images is not None and len(images) != len(h):
        raise ValueError(f"images must have one image per sample of h ({len(h)}), got {len(images)}")
    extra = images is not None
    cols = len(channels) + extra
    fig, axes = plt.subplots(len(h), cols, figsize=(scale * cols, scale * len(h) + 0.3), squeeze=False)
    for r in range(len(h)):
        if extra:
            axes[r, 0].imshow(to_image(images[r]), interpolation="nearest")
        for j, c in enumerate(channels):
            lim = h[:, c].abs().max().item() or 1.0
            axes[r, j + extra].imshow(h[r, c].numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            if r == 0:
                axes[r, j + extra].set_title(f"ch {c}", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout(pad=0.2)
    return fig


def show_ks(a: Mapping[str, Tensor], b: Mapping[str, Tensor], names: Sequence[str],
            labels: tuple[str, str] = ("samples", "renders"), bins: int = 16, critical: float | None = None,
            scale: float = 1.0):
    """Two sets' values of each named quantity: histograms, and the empirical CDFs with the KS gap marked.

    The Kolmogorov-Smirnov distance is the largest vertical gap between the two empirical CDFs; it is
    drawn as a black segment (Line2D gid "ks_gap") and written in the title, with `critical` if given.

    >>> g = torch.Generator().manual_seed(0)
    >>> fig = show_ks({"x": torch.randn(50, generator=g)}, {"x": torch.randn(60, generator=g)}, ["x"]); plt.close(fig)
    """
    missing = [n for n in names if n not in a or n not in b]
    if not names or missing:
        raise ValueError(f"names must be keys of both a and b, got {list(names)!r} (missing: {missing})")
    fig, axes = plt.subplots(len(names), 2, figsize=(scale * 6.4, scale * 1.9 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        va = np.asarray(torch.as_tensor(a[name]).detach().double().cpu()).ravel()
        vb = np.asarray(torch.as_tensor(b[name]).detach().double().cpu()).ravel()
        edges = np.histogram_bin_edges(np.concatenate([va, vb]), bins=bins)
        ax = axes[r, 0]
        ax.hist(va, edges, histtype="step", lw=1.2, label=f"{labels[0]} ({len(va)})")
        ax.hist(vb, edges, histtype="step", lw=1.2, label=f"{labels[1]} ({len(vb)})")
        ax.set_ylabel("count", fontsize=7)
        ax.set_title(f"{name}: histograms", fontsize=8)
        ax.legend(fontsize=6, frameon=False)
        ax = axes[r, 1]
        for v, lab in ((va, labels[0]), (vb, labels[1])):
            xs = np.sort(v)
            ax.step(np.concatenate([[xs[0]], xs]), np.arange(len(xs) + 1) / len(xs), where="post", lw=1.2, label=lab)
        d, x = ks_distance(va, vb)
        fa, fb = (va <= x).mean(), (vb <= x).mean()
        (gap,) = ax.plot([x, x], [fa, fb], color="k", lw=2)
        gap.set_gid("ks_gap")
        title = f"{name}: empirical CDFs, KS = {d:.2f}"
        ax.set_title(title + (f" (critical {critical:.2f})" if critical is not None else ""), fontsize=8)
        ax.set_ylabel("fraction <= value", fontsize=7)
        for ax in axes[r]:
            ax.tick_params(labelsize=6)
    fig.tight_layout(pad=0.3)
    return fig


def show_comparison(iv, baseline: str | None = "random", scale: float = 1.0):
    """The method comparison: each method's mean change towards the goal with its interval, per attribute.

    `iv` is `compare.intervals(...)`'s DataFrame (attr, method, change, lo, hi), optionally with a
    `seed` column for repeated runs (drawn side by side, one marker per seed). Methods are sorted by
    their change in the first seed; the `baseline` method's interval is shaded across the panel.

    >>> import pandas as pd
    >>> iv = pd.DataFrame({"attr": "smile", "method": ["a", "random"], "change": [0.5, 0.0],
    ...                    "lo": [0.4, -0.1], "hi": [0.6, 0.1]})
    >>> fig = show_comparison(iv); plt.close(fig)
    """
    need = {"attr", "method", "change", "lo", "hi"}
    if not need <= set(getattr(iv, "columns", ())):
        raise ValueError(f"iv must be compare.intervals' DataFrame with columns {sorted(need)}")
    iv = iv.assign(seed=iv["seed"] if "seed" in iv else 0)
    seeds = sorted(iv.seed.unique())
    attrs = list(dict.fromkeys(iv.attr))
    fig, axes = plt.subplots(1, len(attrs), figsize=(scale * 3.3 * len(attrs), scale * 3.2), squeeze=False)
    markers = "os^Dv"
    for ax, attr in zip(axes[0], attrs):
        a = iv[iv.attr == attr]
        order = a[a.seed == seeds[0]].sort_values("change").method.tolist()
        order += [m for m in dict.fromkeys(a.method) if m not in order]
        y = {m: i for i, m in enumerate(order)}
        if baseline is not None and baseline in y:
            b = a[(a.method == baseline) & (a.seed == seeds[0])].iloc[0]
            ax.axvspan(b.lo, b.hi, color="0.85", lw=0, label=f"{baseline} ({seeds[0]})" if len(seeds) > 1 else baseline)
        ax.axvline(0, color="0.5", lw=0.6)
        for j, s in enumerate(seeds):
            r = a[a.seed == s]
            ys = np.array([y[m] for m in r.method]) + (j - (len(seeds) - 1) / 2) * 0.25
            ax.errorbar(r.change, ys, xerr=[r.change - r.lo, r.hi - r.change], fmt=markers[j % 5], ms=3.5, lw=1,
                        capsize=1.5, label=f"seed {s}" if len(seeds) > 1 else None)
        ax.set_yticks(range(len(order)), order, fontsize=7)
        ax.set_title(attr, fontsize=9)
        ax.set_xlabel("change towards the goal", fontsize=7)
        ax.tick_params(axis="x", labelsize=6)
    labelled = {label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels())}
    if labelled:  # one legend for all panels (a panel may lack the baseline)
        axes[0, -1].legend(labelled.values(), labelled.keys(), fontsize=6, frameon=False, loc="lower right")
    fig.tight_layout(pad=0.3)
    return fig


def show_pushforward(phi: Callable[[Tensor], Tensor], p: Tensor, r: float = 0.4, scale: float = 1.0):
    """The pushforward of a circle to an ellipse: the SVD `J = U S V^T` of phi's Jacobian at `p`, drawn.

    Left, at `p`: the circle of tangent vectors of length `r` and the right singular vectors `r v_i`.
    Right, at `phi(p)`: phi's image of that circle (solid), its linearisation `phi(p) + J (r v)` (the
    dashed ellipse, semi-axes `r s_i u_i`) and the arrows `r s_i u_i`. For a map of the plane.

    >>> phi = lambda q: torch.stack([q[0] + 0.3 * torch.sin(q[1]), q[1] + 0.3 * q[0] ** 2])
    >>> fig = show_pushforward(phi, torch.tensor([0.8, 0.5])); plt.close(fig)
    """
    p = torch.as_tensor(p, dtype=torch.float64)
    if p.shape != (2,):
        raise ValueError(f"p must be a point of the plane, shape (2,), got {tuple(p.shape)}")
    J = torch.func.jacrev(phi)(p)
    U, S, Vh = torch.linalg.svd(J)
    angle = torch.linspace(0, 2 * np.pi, 200, dtype=torch.float64)
    circle = torch.stack([angle.cos(), angle.sin()])  # (2, 200) unit tangent vectors
    image = torch.stack([phi(p + r * c) for c in circle.T]).T
    linear = phi(p)[:, None] + J @ (r * circle)
    fig, (left, right) = plt.subplots(1, 2, figsize=(scale * 8, scale * 3.6))
    left.plot(*(p[:, None] + r * circle).numpy(), color="0.4", label="|v| = r")
    right.plot(*image.detach().numpy(), color="0.4", label="phi(p + v)")
    right.plot(*linear.detach().numpy(), "--", color="k", label="phi(p) + J v")
    for i, colour in enumerate(["C0", "C1"]):
        # plain floats: matplotlib's arrow does numpy arithmetic that warns on tensors
        left.arrow(*p.tolist(), *(r * Vh[i]).tolist(), color=colour, width=0.008, length_includes_head=True,
                   label=f"r v{i + 1}")
        right.arrow(*phi(p).tolist(), *(r * S[i] * U[:, i]).tolist(), color=colour, width=0.008,
                    length_includes_head=True, label=f"r s{i + 1} u{i + 1}")
    left.set_title("tangent vectors at p")
    right.set_title(f"their images at phi(p): s = {S[0]:.2f}, {S[1]:.2f}")
    for ax in (left, right):
        ax.set_aspect("equal")
        ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize=7)
    fig.tight_layout()
    return fig


def lecture_style(dpi: int = 120) -> None:
    """Figures at `dpi` (Jupyter's inline default is 72, too coarse for 32 px faces) with a readable
    font; call once at the top of a lecture or lab, after importing pyplot.

    At the default 120 dpi, `show_images` draws a 32 px face over about 100 screen pixels (3x).

    >>> lecture_style(); plt.rcParams["figure.dpi"]
    120.0
    """
    if not isinstance(dpi, int) or not 100 <= dpi <= 400:
        raise ValueError(f"dpi must be an int in [100, 400], got {dpi!r}")
    # Resolving the backend first: the inline backend resets figure.dpi to 72 when it activates.
    plt.get_backend()
    plt.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "font.size": 9})


def show_kernel(J: Tensor):
    """A wide map's kernel, drawn: the right singular vectors `v_1, v_2, v_3` of a 2 x 3 Jacobian `J` in
    R^3 (left) and their images `J v_i = s_i u_i` in R^2 (right), where `v_3` lands on 0.

    >>> fig = show_kernel(torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])); plt.close(fig)
    """
    J = torch.as_tensor(J, dtype=torch.float64)
    if J.shape != (2, 3):
        raise ValueError(f"J must be the Jacobian of a map R^3 -> R^2, shape (2, 3), got {tuple(J.shape)}")
    _, _, Vh = torch.linalg.svd(J)  # full SVD: Vh is 3 x 3, its last row spans the kernel
    images = J @ Vh.T  # column i is J v_i
    fig = plt.figure(figsize=(7, 3.2))
    left, right = fig.add_subplot(1, 2, 1, projection="3d"), fig.add_subplot(1, 2, 2)
    for i, color in enumerate(("C0", "C1", "C3")):
        left.quiver(0, 0, 0, *Vh[i].tolist(), color=color, label=f"v_{i + 1}")
        right.quiver(0, 0, *images[:, i].tolist(), color=color, angles="xy", scale_units="xy", scale=1,
                     label=None if i == 2 else f"J v_{i + 1}")
    right.plot(0, 0, "o", color="C3", ms=6, label="J v_3 = 0")
    lim = images.abs().max().item() * 1.1
    right.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title="their images J v_i in R^2")
    left.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1), xticks=[-1, 0, 1], yticks=[-1, 0, 1], zticks=[-1, 0, 1],
             title="v_1, v_2, v_3 at q, in R^3")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    return fig


def show_trajectory(record: Sequence[Mapping[str, Any]], steps: Sequence[int], face: int = 0, scale: float = 0.9):
    """DDIM in two parts (Song et al. 2021, Eq. 12): one face's state x after each of the picked `steps`
    (top) and the clipped prediction P_t of x_0 that step made (bottom), from the records of
    `ddim_sample(..., callback=record.append)`; returns the figure.

    >>> import latentlab as ll
    >>> record = []
    >>> m = ll.tiny_model(); _ = ll.ddim_sample(m, torch.randn(2, *m.sample_shape), 4, callback=record.append,
    ...                                         progress=False)
    >>> fig = show_trajectory(record, [0, 3], face=1); len(fig.axes)
    4
    >>> plt.close(fig)
    """
    bad = [i for i in steps if not 0 <= i < len(record)]
    if bad:
        raise ValueError(f"steps must index the {len(record)} records, got {bad}")
    return show_rows({"x after the step": torch.stack([record[i]["x"][face] for i in steps]),
                      "P_t (clipped)": torch.stack([record[i]["P_t"][face] for i in steps])},
                     col_titles=[f"t={record[i]['t']}" for i in steps], scale=scale)


def show_singular_values(dense: Tensor, top: Tensor, *, jvps: int, products: int, title: str, n: int = 20):
    """A matrix-free top-k SVD against the dense one: the first `n` singular values of the dense Jacobian
    (built from `jvps` Jacobian-vector products, one per input number) and the `top` k found from
    `products` products only (`topk_svd`, `pullback`); returns the figure.

    >>> fig = show_singular_values(torch.tensor([3.0, 2.0]), torch.tensor([3.0]), jvps=3, products=4, title="J")
    >>> plt.close(fig)
    """
    if len(top) > len(dense):
        raise ValueError(f"top must hold at most as many singular values as dense ({len(dense)}), got {len(top)}")
    fig, ax = plt.subplots(figsize=(4.5, 2.6))
    n = min(n, len(dense))
    ax.plot(range(1, n + 1), dense[:n], "o", mfc="none", color="0.4", label=f"dense J ({jvps} jvps)")
    ax.plot(range(1, len(top) + 1), top, "x", color="C3", ms=8, label=f"pullback, k = {len(top)} ({products} products)")
    ax.set_xticks([1] + list(range(5, n + 1, 5)))
    ax.set_xlabel("i")
    ax.set_ylabel("singular value s_i")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=8)
    return fig
