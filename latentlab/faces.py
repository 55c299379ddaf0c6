"""The faces world: a procedural data set of cartoon faces whose attributes are known exactly.

Every claim the course makes about a direction in h ("this direction adds glasses") is checked
against ground truth: the renderer draws a face from its attributes, the probe reads them back.
The attributes mirror the CelebA-HQ edits of the papers (smile, glasses, hair colour, ...).

The renderer is vectorised over the batch: every shape is a signed distance field evaluated on the
pixel grid, with analytic anti-aliasing (coverage ramps linearly over one pixel).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["ATTRIBUTES", "BINARY_ATTRIBUTES", "REGIONS", "render_faces", "region_mask", "check_goal"]


class Range(NamedTuple):
    low: float
    high: float

    @property
    def span(self) -> float:
        """`high - low`: the unit in which changes of the attribute are compared across attributes.

        >>> ATTRIBUTES["smile"].span, ATTRIBUTES["glasses"].span
        (2.0, 1.0)
        """
        return self.high - self.low


#: Attribute name -> range it is drawn from (uniformly; `glasses` is 0 or 1 with probability 1/2).
ATTRIBUTES: dict[str, Range] = {
    "smile": Range(-1.0, 1.0),  # mouth curvature: -1 frown .. +1 smile
    "glasses": Range(0.0, 1.0),  # 0 or 1
    "hair_color": Range(0.0, 1.0),  # black -> brown -> blond
    "skin_tone": Range(0.0, 1.0),  # light -> dark
    "eye_size": Range(0.0, 1.0),
    "background": Range(0.0, 1.0),  # hue from red through green to blue (not circular)
    "pos_x": Range(-1.0, 1.0),  # face centre, in units of 0.12 of the image's half-width
    "pos_y": Range(-1.0, 1.0),
    "face_size": Range(0.0, 1.0),
    "hair_length": Range(0.0, 1.0),  # short crop -> shoulder length
    "mouth_open": Range(0.0, 1.0),  # thin line -> open mouth
}
BINARY_ATTRIBUTES: tuple[str, ...] = ("glasses",)

_SKIN = torch.tensor([[0.97, 0.82, 0.70], [0.42, 0.27, 0.17]])
_HAIR = torch.tensor([[0.08, 0.06, 0.05], [0.50, 0.30, 0.12], [0.97, 0.85, 0.45]])
_MOUTH = torch.tensor([0.55, 0.08, 0.10])
_FRAME = torch.tensor([0.05, 0.05, 0.08])
_EYE = torch.tensor([0.06, 0.05, 0.10])


def _lerp_palette(palette: Tensor, s: Tensor) -> Tensor:
    """Piecewise-linear colour along `palette` (P, 3) at s in [0, 1]; returns (n, 3)."""
    pos = s.clamp(0, 1) * (len(palette) - 1)
    i = pos.floor().long().clamp(max=len(palette) - 2)
    w = (pos - i)[:, None]
    return palette[i] * (1 - w) + palette[i + 1] * w


def _hsv(h: Tensor, s: float, v: float) -> Tensor:
    """HSV -> RGB for hue h in [0, 1), fixed saturation and value; returns (n, 3)."""
    k = (torch.tensor([5.0, 3.0, 1.0]) + h[:, None] * 6) % 6
    return v - v * s * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def _check_fixed(n: int, fixed: dict) -> dict[str, Tensor]:
    out = {}
    for name, value in fixed.items():
        if name not in ATTRIBUTES:
            raise ValueError(f"unknown attribute {name!r}; allowed: {', '.join(ATTRIBUTES)}")
        v = torch.as_tensor(value, dtype=torch.float32)
        if v.dim() == 0:
            v = v.expand(n)
        if v.shape != (n,):
            raise ValueError(f"{name} must be a scalar or a tensor of shape ({n},), got shape {tuple(v.shape)}")
        lo, hi = ATTRIBUTES[name]
        if not torch.isfinite(v).all() or v.min() < lo or v.max() > hi:
            raise ValueError(f"{name} must lie in [{lo}, {hi}], got values in [{v.min():.3g}, {v.max():.3g}]")
        if name in BINARY_ATTRIBUTES and not ((v == 0) | (v == 1)).all():
            raise ValueError(f"{name} must be 0 or 1, got {v.unique().tolist()[:5]}")
        out[name] = v.clone()
    return out


def sample_attributes(n: int, *, seed: int = 0, **fixed) -> dict[str, Tensor]:
    """Draw `n` attribute sets, uniformly from `ATTRIBUTES`; `fixed` pins some of them.

    All attributes are always drawn in the same order, so pinning one leaves the others unchanged:
    `render_faces(8, seed=0, smile=1.0)` shows the same eight faces as seed 0, all smiling.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    pinned = _check_fixed(n, fixed)
    g = torch.Generator().manual_seed(seed)
    attrs = {}
    for name, (lo, hi) in ATTRIBUTES.items():
        u = torch.rand(n, generator=g)
        attrs[name] = (u < 0.5).float() if name in BINARY_ATTRIBUTES else lo + (hi - lo) * u
    attrs.update(pinned)
    return attrs


def _cover(d: Tensor, px: float) -> Tensor:
    """Anti-aliased coverage of the region d < 0 (d a signed distance, px one pixel's width)."""
    return (0.5 - d / px).clamp(0, 1)


def _ellipse_sdf(u: Tensor, v: Tensor, rx: Tensor, ry: Tensor) -> Tensor:
    # Distance scaled by the smaller radius: exact for circles, close enough for mild ellipses.
    return (torch.sqrt((u / rx) ** 2 + (v / ry) ** 2) - 1) * torch.minimum(rx, ry)


def _over(img: Tensor, color: Tensor, alpha: Tensor) -> Tensor:
    """Paint `color` (n, 3) with coverage `alpha` (n, H, W) over `img` (n, 3, H, W)."""
    return img.lerp_(color[:, :, None, None], alpha[:, None])


# Where the features sit, shared by the renderer and `region_mask`: eye centres at (+-0.40 rx, -0.12 ry)
# from the head's centre; lenses of radius 0.27 R in frames 0.07 R wide; the mouth centred 0.45 ry below,
# 0.50 rx half-wide, its centre line lifted by 0.30 R smile (0.5 - s^2), 0.10 + 0.20 mouth_open R thick.
_EYE_X, _EYE_Y, _LENS, _RIM = 0.40, -0.12, 0.27, 0.07
_MOUTH_Y, _MOUTH_W, _MOUTH_CURVE, _MOUTH_THICK, _MOUTH_OPEN = 0.45, 0.50, 0.30, 0.10, 0.20


def _head(attrs: dict[str, Tensor], size: int) -> tuple[Tensor, ...]:
    """The pixel grid around each head: (u, v) pixel centres relative to the head's centre, its size R,
    radii rx, ry and one pixel's width px; u, v are (n, size, size) by broadcasting, R (n, 1, 1)."""
    px = 2.0 / size
    grid = (torch.arange(size, dtype=torch.float32) + 0.5) * px - 1  # pixel centres in [-1, 1]
    Y, X = grid[None, :, None], grid[None, None, :]
    col = lambda a: a[:, None, None]  # noqa: E731  (n,) -> (n, 1, 1) for broadcasting over pixels
    cx, cy = 0.12 * col(attrs["pos_x"]), 0.12 * col(attrs["pos_y"]) + 0.04
    R = 0.52 + 0.14 * col(attrs["face_size"])
    return X - cx, Y - cy, R, 0.86 * R, R, px


def _draw(attrs: dict[str, Tensor], size: int) -> Tensor:
    n = attrs["smile"].shape[0]
    col = lambda a: a[:, None, None]  # noqa: E731  (n,) -> (n, 1, 1) for broadcasting over pixels
    u, v, R, rx, ry, px = _head(attrs, size)

    img = _hsv(0.75 * attrs["background"], 0.45, 0.9)[:, :, None, None].repeat(1, 1, size, size)
    hair = _lerp_palette(_HAIR, attrs["hair_color"])
    skin = _lerp_palette(_SKIN, attrs["skin_tone"])

    # Hair: an ellipse a little larger than the head, widened into a curtain that falls to a
    # length-dependent height.
    d_hair = _ellipse_sdf(u, v + 0.06 * R, 1.16 * rx, 1.14 * ry)
    bottom = ry * (-0.05 + 1.15 * col(attrs["hair_length"]))
    d_curtain = torch.maximum(u.abs() - 1.2 * rx, -v)
    img = _over(img, hair, _cover(torch.maximum(torch.minimum(d_hair, d_curtain), v - bottom), px))
    img = _over(img, skin, _cover(_ellipse_sdf(u, v, rx, ry), px))
    # Fringe: the hair ellipse above the forehead line covers the top of the face.
    img = _over(img, hair, _cover(torch.maximum(d_hair, v + 0.52 * ry), px))

    ex, ey = _EYE_X * rx, _EYE_Y * ry
    r_eye = R * (0.09 + 0.11 * col(attrs["eye_size"]))
    for sx in (-1, 1):
        d_eye = torch.sqrt((u - sx * ex) ** 2 + (v - ey) ** 2) - r_eye
        img = _over(img, _EYE.expand(n, 3), _cover(d_eye, px))

    # Mouth: a thick parabolic band; smile > 0 lifts the corners, smile < 0 drops them.
    mx, my, w = 0.0, _MOUTH_Y * ry, _MOUTH_W * rx
    s = (u - mx) / w
    centre = my + _MOUTH_CURVE * R * col(attrs["smile"]) * (0.5 - s**2)
    thick = R * (_MOUTH_THICK + _MOUTH_OPEN * col(attrs["mouth_open"]))
    d_mouth = torch.maximum((v - centre).abs() - thick / 2, (u - mx).abs() - w)
    img = _over(img, _MOUTH.expand(n, 3), _cover(d_mouth, px))

    # Glasses: tinted lenses, a frame ring around each eye and a bridge; absent where glasses = 0.
    g = col(attrs["glasses"])
    r_lens, rim = _LENS * R, _RIM * R
    for sx in (-1, 1):
        d_c = torch.sqrt((u - sx * ex) ** 2 + (v - ey) ** 2)
        img = _over(img, _FRAME.expand(n, 3), 0.35 * g * _cover(d_c - r_lens, px))
        img = _over(img, _FRAME.expand(n, 3), g * _cover((d_c - r_lens).abs() - rim / 2, px))
    d_bridge = torch.maximum((v - ey).abs() - rim / 2, u.abs() - (ex - r_lens))
    img = _over(img, _FRAME.expand(n, 3), g * _cover(d_bridge, px))
    return img * 2 - 1


def render_faces(
    n: int, *, seed: int = 0, size: int = 32, chunk: int = 256, **fixed: float | Tensor
) -> tuple[Tensor, dict[str, Tensor]]:
    """Render `n` procedural faces with known attributes (the kit's ground-truth data set).

    Args:
        n: number of faces.
        seed: the faces are a deterministic function of the seed (and of `fixed`).
        size: image side in pixels, a multiple of 8 from 32 to 128.
        **fixed: pin attributes: a scalar or an `(n,)` tensor per name in `ATTRIBUTES`.

    Returns:
        `(images, attributes)`: images `(n, 3, size, size)` in [-1, 1]; attributes maps every name
        in `ATTRIBUTES` to an `(n,)` float tensor.

    >>> x, a = render_faces(4, seed=1, smile=1.0)
    >>> tuple(x.shape), a["smile"].tolist(), bool(x.min() >= -1 and x.max() <= 1)
    ((4, 3, 32, 32), [1.0, 1.0, 1.0, 1.0], True)
    """
    if not isinstance(size, int) or size % 8 or not 32 <= size <= 128:
        raise ValueError(f"size must be a multiple of 8 from 32 to 128, got {size!r}")
    attrs = sample_attributes(n, seed=seed, **fixed)
    with torch.no_grad():
        images = torch.cat(
            [_draw({k: a[i : i + chunk] for k, a in attrs.items()}, size) for i in range(0, n, chunk)]
        )
    return images, attrs


#: The regions `region_mask` knows, and the attributes drawn inside each (whatever their values).
REGIONS: dict[str, tuple[str, ...]] = {"mouth": ("smile", "mouth_open"), "eyes": ("glasses", "eye_size")}


def region_mask(attrs: dict[str, Tensor], region: str, size: int = 32, *, dilate: int = 1) -> Tensor:
    """Where a face's mouth or eyes can be drawn, from its position and size (the renderer's geometry).

    The region covers every pixel the renderer may paint for the region's attributes (`REGIONS`) at
    any of their values, so two renders that differ only in those attributes differ only inside it;
    it depends on `pos_x`, `pos_y` and `face_size` alone. "mouth": the band the mouth sweeps for
    smile in [-1, 1] and mouth_open in [0, 1]; "eyes": the glasses' lenses, frames and bridge, which
    hold the eyes. The mask for LOCO Edit's local Jacobian (`loco.loco_directions`).

    Args:
        attrs: at least `pos_x`, `pos_y` and `face_size`, each `(n,)` (as `render_faces` returns them,
            or a probe's readings, clamped to their ranges).
        region: "mouth" or "eyes".
        size: image side in pixels, as in `render_faces`.
        dilate: grow the region by this many pixels (a square neighbourhood), a margin for samples
            that are not exact renders; 0 for the exact footprint.

    Returns:
        boolean `(n, size, size)`, True inside the region.

    >>> x, a = render_faces(2, seed=0)
    >>> m = region_mask(a, "mouth")
    >>> m.shape, m.dtype, 0 < int(m[0].sum()) < 32 * 32 // 4
    (torch.Size([2, 32, 32]), torch.bool, True)
    """
    if region not in REGIONS:
        raise ValueError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size % 8 or not 32 <= size <= 128:
        raise ValueError(f"size must be a multiple of 8 from 32 to 128, got {size!r}")
    if isinstance(dilate, bool) or not isinstance(dilate, int) or dilate < 0:
        raise ValueError(f"dilate must be an int >= 0 (pixels), got {dilate!r}")
    if not isinstance(attrs, dict):
        raise TypeError(f"attrs must be a dict of attribute tensors, got {type(attrs).__name__}")
    missing = [k for k in ("pos_x", "pos_y", "face_size") if k not in attrs]
    if missing:
        raise ValueError(f"attrs must hold pos_x, pos_y and face_size; missing {', '.join(missing)}")
    n = torch.as_tensor(attrs["pos_x"]).reshape(-1).shape[0]
    geometry = _check_fixed(n, {k: attrs[k] for k in ("pos_x", "pos_y", "face_size")})
    u, v, R, rx, ry, px = _head(geometry, size)
    margin = px / 2  # the anti-aliased coverage (0.5 - d / px) is positive up to half a pixel outside a shape
    if region == "mouth":
        w, s = _MOUTH_W * rx, u / (_MOUTH_W * rx)
        sweep = _MOUTH_CURVE * R * (0.5 - s**2).abs()  # how far the centre line moves over smile in [-1, 1]
        half = R * (_MOUTH_THICK + _MOUTH_OPEN) / 2
        inside = ((v - _MOUTH_Y * ry).abs() - sweep <= half + margin) & (u.abs() <= w + margin)
    else:
        ex, ey, r_lens, rim = _EYE_X * rx, _EYE_Y * ry, _LENS * R, _RIM * R
        inside = ((v - ey).abs() <= rim / 2 + margin) & (u.abs() <= ex - r_lens + margin)  # the bridge
        for sx in (-1, 1):
            inside |= ((u - sx * ex) ** 2 + (v - ey) ** 2).sqrt() <= r_lens + rim / 2 + margin
    inside = inside.expand(n, size, size)
    if dilate:
        inside = torch.nn.functional.max_pool2d(inside[:, None].float(), 2 * dilate + 1, 1, dilate)[:, 0] > 0
    return inside.contiguous()


def check_goal(attr: str, goal: float) -> None:
    """Raise a clear error unless `attr` is a known attribute and `goal` lies in its range."""
    if attr not in ATTRIBUTES:
        raise ValueError(f"attr must be one of {', '.join(ATTRIBUTES)}, got {attr!r}")
    lo, hi = ATTRIBUTES[attr]
    if isinstance(goal, bool) or not isinstance(goal, (int, float)) or not math.isfinite(goal):
        raise ValueError(f"goal must be a number in {attr}'s range [{lo}, {hi}], got {goal!r}")
    if attr in BINARY_ATTRIBUTES and goal not in (lo, hi):
        raise ValueError(f"goal must be {lo:g} or {hi:g} for the binary attribute {attr}, got {goal!r}")
    if not lo <= goal <= hi:
        raise ValueError(f"goal must lie in {attr}'s range [{lo}, {hi}], got {goal!r}")
