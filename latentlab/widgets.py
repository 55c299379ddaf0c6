"""The widget editor: pick a face, a method and a direction, drag the strength, see the edit at once.

`Editor()` (an ipywidgets `VBox`) shows original | edited | difference and the probe's readings
before and after, for every direction-finding method of the kit. Each edit is a call of the
package's own functions (`ddim_sample(dh=...)` for h-space directions, `x_space_guidance` then
`ddim_sample(t_start=...)` for Park et al.'s pullback); the widget only caches and schedules:

- per sample it keeps what no slider changes: x_T, the unedited image and DDIM trajectory (Park's
  x_t at t_edit), the probe's readings, and the directions computed for that sample (Haas's
  Jacobian directions, Park's pullback per t_edit); directions learned or fitted on many samples
  (mean differences, PCA, Asyrp's editors) are computed once per editor;
- a worker thread does the work; every change of a control bumps a generation counter, and the
  sampler's `callback` aborts a run whose generation is no longer the newest, so stale requests
  never pile up behind a new one;
- each change first shows a quick preview (`preview_steps` DDIM steps), then the full image; an
  asymmetric step runs its two U-Net passes as one batch (`ddim_sample(fused=True)`).

Strength `c` means, per method (the same call a notebook would make):

| method | edit |
|---|---|
| mean difference | `dh = c * StepDirection(mean_difference(h, reading > median))` (per timestep) |
| Asyrp dh, Asyrp f | `dh = lambda t, h: c * load_editor(attr, goal, kind)(t, h)` |
| Haas PCA | `pca_directions(...).direction(i, c)`: `c * sigma_i(t) * pc_i(t)` |
| Haas Jacobian | `jacobian_directions(...).direction(i, JACOBIAN_UNIT * c)` |
| Park pullback | `x_space_guidance(x_t, t_edit, sign(c) * V[i], gamma=PARK_GAMMA * abs(c))`, then DDIM |

For static figures, `Editor.sweep(edits)` makes many single edits of the current sample in a few
batched calls (the same calls as the widget), `Edit(..., random=seed)` is an edit's baseline (a random
direction with the same norm at every step; for Park a random unit v), `Editor.edit_size` says how far
an edit moves h (or Park's x_t), and `largest_changes` ranks the attributes a sweep moves.

A seed's x_T is `torch.randn((1, C, H, W), generator=torch.Generator().manual_seed(seed))`; a
rendered or uploaded face is `ddim_invert`ed on the editor's grid and regenerated with `clip=False`.

References: Kwon et al. 2023 (Asyrp), Haas et al. 2024, Park et al. 2023 (see the modules named).
"""
from __future__ import annotations

import html
import io
import math
import statistics
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import ipywidgets as W
import torch
from torch import Tensor

from .asyrp import load_editor, shipped_editors
from .ddim import ddim_invert, ddim_sample, ddim_timesteps
from .directions import StepDirection, combine, h_trajectory, mean_difference, random_direction
from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, render_faces
from .geometry import pullback
from .haas import jacobian_directions, pca_directions
from .model import Model, load_model
from .park import x_space_guidance
from .probe import load_probe

__all__ = ["Editor", "Edit", "METHODS", "PARK_GAMMA", "JACOBIAN_UNIT", "image_to_png", "load_image", "largest_changes",
           "in_voila"]

METHODS = ("mean difference", "Asyrp dh", "Asyrp f", "Haas PCA", "Haas Jacobian", "Park pullback")
SOURCES = ("seed", "rendered face", "uploaded image")
PARK_GAMMA = 0.1  # strength 1 = Park et al.'s released step size for the face model (16 repeats)
JACOBIAN_UNIT = 100.0  # d eps/dh's singular values are 0.01-0.5 on the bundled model: c = 1 then moves h by about sigma_1 of the PCA
_H_METHODS = METHODS[:5]  # the methods that shift h (they combine by adding their dh)


class _Stale(Exception):
    """Raised inside the sampler's callback when a newer request has arrived."""


@dataclass(frozen=True)
class Edit:
    """One direction with its strength: `target` for mean difference and Asyrp, `index` for the others.

    `random`: None for the method's own direction; a seed for its baseline, a Gaussian direction with the
    same norm as the method's edit at every step on this face (Park: a random unit v, the same gamma)."""
    method: str
    target: str
    index: int
    strength: float
    random: int | None = None

    def label(self) -> str:
        which = self.target if self.method in METHODS[:3] else f"#{self.index}"
        return ("random like " if self.random is not None else "") + f"{self.method} {which} x {self.strength:+.2f}"


@dataclass(frozen=True)
class _Request:
    sample: tuple
    edits: tuple[Edit, ...]
    t_edit: int
    asymmetric: bool
    upload: bytes | None
    time: float


@dataclass
class _Sample:
    x_T: Tensor  # (1, C, H, W)
    clip: bool | None  # None: the scheduler's config; False for an inverted image
    x0: Tensor  # (1, C, H, W): the unedited image
    trajectory: dict[int, Tensor]  # t -> x_t of the plain run on the editor's grid
    h: dict[int, Tensor]  # t -> h_t (1, *h_shape) of the same run
    readings: dict[str, float]
    cache: dict = field(default_factory=dict)  # per-sample directions


def image_to_png(x: Tensor, scale: int = 5) -> bytes:
    """An image `(C, H, W)` in [-1, 1] as PNG bytes, enlarged `scale` times (nearest neighbour).

    >>> image_to_png(torch.zeros(3, 4, 4), scale=2)[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    from PIL import Image

    if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"x must be one image (C, H, W) with C = 1 or 3, got {tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    a = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    img = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # speed over size: a 160 px image either way
    return buf.getvalue()


def load_image(data: bytes, size: tuple[int, int]) -> Tensor:
    """Image file bytes (PNG, JPEG, ...) as an RGB tensor `(3, H, W)` in [-1, 1], resized to `size`."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data)).convert("RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"the uploaded file is not an image PIL can read ({e})") from None
    img = img.resize((size[1], size[0]), Image.BICUBIC)
    x = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).reshape(size[0], size[1], 3)
    return x.permute(2, 0, 1).float() / 127.5 - 1


def _method_defaults(method: str, grid: list[int]) -> tuple[int, bool]:
    """(t_edit, asymmetric) as the method's paper uses them, on the editor's grid."""
    nearest = lambda t: min(grid, key=lambda g: abs(g - t))  # noqa: E731
    if method.startswith("Haas"):  # Haas et al.: every step, the edited eps in both terms
        return grid[-1], False
    if method == "Park pullback":  # Park et al. edit x_t once, in the middle of the trajectory
        return nearest(600), True
    return nearest(200), True  # Asyrp: the asymmetric step at t >= 200 (the shipped editors' t_edit)


def largest_changes(readings: dict[str, Tensor], reference: int = 0, top: int = 3, exclude: Sequence[str] = ()
                    ) -> list[tuple[str, float]]:
    """The attributes that images move most: per attribute the largest |r - r[reference]| over the images,
    as a fraction of its range (`ATTRIBUTES`), signed as at that image; the `top` largest first.

    Args:
        readings: the probe's `{attribute: (N,)}` for N images (e.g. one strength sweep).
        reference: the index of the unedited image. top: how many attributes to return.
        exclude: attributes left out (e.g. the edit's target, printed on its own).

    >>> r = {a: torch.zeros(3) for a in ATTRIBUTES}
    >>> r["smile"], r["glasses"] = torch.tensor([-0.5, 0.0, 0.3]), torch.tensor([1.0, 1.0, 0.0])
    >>> largest_changes(r, reference=1, top=2)
    [('glasses', -1.0), ('smile', -0.25)]
    """
    missing = [a for a in ATTRIBUTES if a not in readings]
    if missing:
        raise ValueError(f"readings must hold every attribute, missing {missing}")
    changes = {}
    for a, (lo, hi) in ATTRIBUTES.items():
        if a in exclude:
            continue
        r = torch.as_tensor(readings[a]).detach().double().flatten()
        if not 0 <= reference < len(r):
            raise ValueError(f"reference must index one of the {len(r)} images, got {reference}")
        d = (r - r[reference]) / (hi - lo)
        changes[a] = d[d.abs().argmax()].item()
    return sorted(changes.items(), key=lambda kv: -abs(kv[1]))[:top]


def in_voila() -> bool:
    """True inside a kernel that Voila started (it sets VOILA_KERNEL_ID / VOILA_SERVER_URL in the kernel)."""
    import os

    return "VOILA_KERNEL_ID" in os.environ or "VOILA_SERVER_URL" in os.environ


def _batched(dhs: Sequence[Callable]) -> Callable[[int, Tensor], Tensor]:
    """One dh for a batch whose sample i is edited by `dhs[i]` (each `(t, h) -> dh`)."""
    def dh(t: int, h: Tensor) -> Tensor:  # h (B, *h_shape); each dh_i sees its own sample
        return torch.cat([d(t, h[i:i + 1]).expand(1, *h.shape[1:]) for i, d in enumerate(dhs)])
    return dh


def _difference(edited: Tensor, original: Tensor) -> Tensor:
    """Signed change around mid-grey, twice enlarged: grey = unchanged."""
    return (2 * (edited - original)).clamp(-1, 1)


def _bars(before: dict[str, float], after: dict[str, float] | None) -> str:
    """The probe's readings as HTML bars (before grey, after blue), each attribute on its own range."""
    rows = []
    for name, (lo, hi) in ATTRIBUTES.items():
        b = before[name]
        a = b if after is None else after[name]
        wb, wa = (100 * min(max((v - lo) / (hi - lo), 0.0), 1.0) for v in (b, a))
        rows.append(
            f'<div class="ll-reading" data-attr="{name}" data-before="{b:.4f}" data-after="{a:.4f}" '
            'style="display:flex;align-items:center;gap:6px;font:12px monospace;height:16px">'
            f'<span style="width:92px">{name}</span>'
            '<span style="position:relative;width:140px;height:12px;background:#eee">'
            f'<span style="position:absolute;left:0;top:0;height:6px;width:{wb:.1f}%;background:#999"></span>'
            f'<span style="position:absolute;left:0;top:6px;height:6px;width:{wa:.1f}%;background:#2a6fdb"></span></span>'
            f'<span>{b:+.2f} &rarr; {a:+.2f} ({a - b:+.2f})</span></div>')
    return '<div class="ll-readout-rows">' + "".join(rows) + "</div>"


class Editor(W.VBox):
    """Interactive latent editing: sample, method, direction, strength, t_edit, asymmetric; instant preview.

    Args:
        model: the diffusion model (`None`: the bundled faces model).
        probe: the attribute probe, a callable `images -> {attr: (n,)}` (`None`: `load_probe()`).
        steps: DDIM steps of the full image. preview_steps: steps of the quick preview shown first
            (0 or >= steps: none).
        n_directions, direction_steps: trajectories (and their DDIM steps) for the mean-difference and
            PCA directions, fitted once. k: directions computed per method (PCA, Jacobian, pullback).
        jacobian_steps, jacobian_index: the grid of Haas's Jacobian directions and the step whose
            singular vectors are used. seed: the first sample. threaded: work in a background thread
            (False: every change computes before returning, for scripts and tests).
        method, target, strength, t_edit, asymmetric: the first settings shown (t_edit and asymmetric
            default to the method's paper: Asyrp t >= 200 asymmetric, Haas every step symmetric, Park 600).

    >>> import latentlab as ll
    >>> ed = Editor(ll.tiny_model(sample_size=32), probe=lambda x: {a: x.mean((1, 2, 3)) for a in ll.ATTRIBUTES},
    ...             steps=2, preview_steps=0, n_directions=4, direction_steps=2, k=2, threaded=False,
    ...             method="Haas PCA", strength=0.0)
    >>> ed.strength.value = 1.0; ed.edited.shape
    torch.Size([3, 32, 32])
    >>> ed.index.value = 5; "index must be" in ed.message.value
    True
    """

    def __init__(self, model: Model | None = None, *, probe: Callable | None = None, steps: int = 20,
                 preview_steps: int = 5, n_directions: int = 64, direction_steps: int = 10, k: int = 3,
                 jacobian_steps: int = 5, jacobian_index: int = 1, seed: int = 0, threaded: bool = True,
                 method: str = "Asyrp f", target: str | None = None, strength: float = 1.0, t_edit: int | None = None,
                 asymmetric: bool | None = None, image_scale: int = 5):
        if model is not None and not isinstance(model, Model):
            raise TypeError(f"model must be a latentlab Model (load_model(), tiny_model()) or None, got {type(model).__name__}")
        self.model = load_model() if model is None else model
        self.probe = load_probe() if probe is None else probe
        grid = ddim_timesteps(self.model, steps).tolist()  # validates steps
        if isinstance(preview_steps, bool) or not isinstance(preview_steps, int) or preview_steps < 0:
            raise ValueError(f"preview_steps must be an integer >= 0 (0: no preview), got {preview_steps!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        for name, v, least in (("n_directions", n_directions, 2), ("k", k, 2), ("image_scale", image_scale, 1),
                               ("seed", seed, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {v!r}")
        ddim_timesteps(self.model, direction_steps)  # validates direction_steps
        if isinstance(jacobian_index, bool) or not isinstance(jacobian_index, int) or not 0 <= jacobian_index < len(
                ddim_timesteps(self.model, jacobian_steps)):
            raise ValueError(f"jacobian_index must be a step of the {jacobian_steps}-step grid, 0 to {jacobian_steps - 1}, "
                             f"got {jacobian_index!r}")
        if target is not None and target not in self._targets(method):
            raise ValueError(f"target must be one of {', '.join(map(repr, self._targets(method)))} for {method}, got {target!r}")
        if n_directions <= k:
            raise ValueError(f"n_directions must exceed k (a PCA of N samples has N - 1 components), got {n_directions} with k = {k}")
        self.steps, self.grid = steps, grid
        self.preview_steps = preview_steps if 0 < preview_steps < steps else 0
        self.n_directions, self.direction_steps, self.k = n_directions, direction_steps, k
        self.jacobian_steps, self.jacobian_index = jacobian_steps, jacobian_index
        self.image_scale = image_scale
        self.threaded = threaded
        self._shared: dict = {}  # directions fitted on many samples, and loaded editors
        self._samples: dict[tuple, _Sample] = {}
        self._generation = 0
        self._finished = 0  # the newest generation whose full image (or error) is shown
        self._cv = threading.Condition()
        self._pending: tuple[int, _Request] | None = None
        self._worker: threading.Thread | None = None
        self._closed = False
        self._quiet = False
        self.combination: list[Edit] = []
        self.x_T: Tensor | None = None
        self.x0: Tensor | None = None  # the unedited image (C, H, W)
        self.edited: Tensor | None = None  # the full edited image (C, H, W)
        self.preview: Tensor | None = None  # the last preview (C, H, W)
        self.readings_before: dict[str, float] = {}
        self.readings_after: dict[str, float] = {}
        self.timings: list[dict] = []  # per full image shown: its generation and seconds since the request
        self._build(seed, method, target, strength)
        self._quiet = True
        self._method_defaults(method)
        if t_edit is not None:
            self.t_edit.value = self._nearest(t_edit)
        if asymmetric is not None:
            self.asymmetric.value = bool(asymmetric)
        self._quiet = False
        self._request()

    # ------------------------------------------------------------------ layout

    def _build(self, seed: int, method: str, target: str | None, strength: float) -> None:
        style = {"description_width": "88px"}

        def wide() -> W.Layout:  # one Layout per widget: _show_controls hides widgets through their layout
            return W.Layout(width="330px")

        self.source = W.Dropdown(options=SOURCES, value="seed", description="sample", style=style, layout=wide())
        self.seed = W.IntText(value=seed, description="seed", style=style, layout=wide())
        self.face_smile = W.FloatSlider(value=-0.5, min=-1, max=1, step=0.1, description="face smile", style=style, layout=wide())
        self.face_glasses = W.Checkbox(value=False, description="face glasses", style=style)
        self.face_hair = W.FloatSlider(value=0.5, min=0, max=1, step=0.1, description="face hair", style=style, layout=wide())
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="upload")
        self.method = W.Dropdown(options=METHODS, value=method, description="method", style=style, layout=wide())
        self.target = W.Dropdown(options=self._targets(method), description="direction", style=style, layout=wide())
        if target is not None:
            self.target.value = target
        self.index = W.BoundedIntText(value=0, min=0, max=99, description="index", style=style, layout=wide())
        self.strength = W.FloatSlider(value=strength, min=-5.0, max=5.0, step=0.1, description="strength",
                                      continuous_update=True, readout_format=".1f", style=style, layout=wide())
        self.t_edit = W.SelectionSlider(options=sorted(self.grid), value=self.grid[-1], description="t_edit",
                                        continuous_update=True, style=style, layout=wide())
        self.asymmetric = W.Checkbox(value=True, description="asymmetric (Asyrp)", style=style)
        self.add_button = W.Button(description="add to combination", layout=W.Layout(width="160px"))
        self.reset_button = W.Button(description="reset", layout=W.Layout(width="80px"))
        self.save_button = W.Button(description="save PNG", layout=W.Layout(width="90px"))
        self.save_path = W.Text(value="latentlab_edit.png", description="file", style={"description_width": "30px"},
                                layout=W.Layout(width="220px"))
        size = {"width": f"{self.model.sample_shape[2] * self.image_scale}px"}
        self.original_image = W.Image(format="png", **size)
        self.edited_image = W.Image(format="png", **size)
        self.difference_image = W.Image(format="png", **size)
        self.readout = W.HTML()
        self.combo_label = W.HTML()
        self.message = W.HTML()
        self.status = W.HTML()
        for name in ("source", "seed", "face_smile", "face_glasses", "face_hair", "upload", "method", "target", "index",
                     "strength", "t_edit", "asymmetric", "add_button", "reset_button", "save_button", "save_path",
                     "original_image", "edited_image", "difference_image", "readout", "combo_label", "message", "status"):
            getattr(self, name).add_class("ll-" + name.replace("_", "-"))  # stable selectors for browser tests
        for w in (self.source, self.seed, self.face_smile, self.face_glasses, self.face_hair, self.upload, self.target,
                  self.index, self.strength, self.t_edit, self.asymmetric):
            w.observe(self._on_change, names="value")
        self.method.observe(self._on_method, names="value")
        self.add_button.on_click(lambda _: self.add())
        self.reset_button.on_click(lambda _: self.reset())
        self.save_button.on_click(lambda _: self._save_clicked())
        self.face_box = W.VBox([self.face_smile, self.face_glasses, self.face_hair])
        self._show_controls()

        def titled(title: str, w: W.Widget) -> W.VBox:
            return W.VBox([W.HTML(f"<b>{title}</b>"), w], layout=W.Layout(align_items="center"))

        controls = W.VBox([self.source, self.seed, self.face_box, self.upload, self.method, self.target, self.index,
                           self.strength, self.t_edit, self.asymmetric,
                           W.HBox([self.add_button, self.reset_button]), W.HBox([self.save_button, self.save_path])])
        images = W.HBox([titled("original", self.original_image), titled("edited", self.edited_image),
                         titled("difference", self.difference_image)])
        right = W.VBox([images, self.status, self.message, self.combo_label,
                        W.HTML("<b>probe readings</b> (grey: original, blue: edited)"), self.readout])
        pixelated = W.HTML("<style>.ll-editor img { image-rendering: pixelated; }</style>")
        super().__init__([pixelated, W.HBox([controls, right])])
        self.add_class("ll-editor")

    def _targets(self, method: str) -> list[str]:
        if method == "mean difference":
            return list(ATTRIBUTES)
        if method.startswith("Asyrp"):
            kind = method.split()[1]
            return [f"{a} -> {g:+g}" if a not in BINARY_ATTRIBUTES else f"{a} -> {g:g}"
                    for a, g, kk in shipped_editors() if kk == kind]
        return ["(by index)"]

    def _nearest(self, t: int) -> int:
        return min(self.grid, key=lambda g: abs(g - t))

    def _show_controls(self) -> None:
        by_target = self.method.value in METHODS[:3]
        self.target.layout.display = None if by_target else "none"
        self.index.layout.display = "none" if by_target else None
        self.asymmetric.layout.display = "none" if self.method.value == "Park pullback" else None
        self.face_box.layout.display = None if self.source.value == "rendered face" else "none"
        self.seed.layout.display = "none" if self.source.value == "uploaded image" else None
        self.upload.layout.display = None if self.source.value == "uploaded image" else "none"

    # ------------------------------------------------------------------ events

    def _on_method(self, change) -> None:
        """A new method: its own targets, and the settings its paper uses (one request for all)."""
        method = change["new"]
        self._quiet = True
        try:
            self.target.options = self._targets(method)
            self._method_defaults(method)
        finally:
            self._quiet = False
        self._show_controls()
        self._request()

    def _method_defaults(self, method: str) -> None:
        self.t_edit.value, asym = _method_defaults(method, self.grid)
        if method != "Park pullback":
            self.asymmetric.value = asym

    def _on_change(self, change) -> None:
        if not self._quiet:
            self._show_controls()
            self._request()

    def current(self) -> Edit:
        """The edit the controls describe now."""
        return Edit(self.method.value, str(self.target.value), int(self.index.value), float(self.strength.value))

    def add(self) -> None:
        """Add the current edit to the combination (edits add up in h: the additivity claim); strength back to 0."""
        self.combination.append(self.current())
        self._quiet = True
        self.strength.value = 0.0
        self._quiet = False
        self._request()

    def reset(self) -> None:
        """Strength 0 and no combination: the edited image is the original again."""
        self.combination.clear()
        self._quiet = True
        self.strength.value = 0.0
        self._quiet = False
        self._request()

    def save_png(self, path: str) -> str:
        """Save original | edited | difference side by side as one PNG; returns the path."""
        if self.x0 is None or self.edited is None:
            raise ValueError("nothing to save yet: no edited image is shown")
        strip = torch.cat([self.x0, self.edited, _difference(self.edited, self.x0)], dim=2)
        with open(path, "wb") as f:
            f.write(image_to_png(strip, self.image_scale))
        return path

    def _save_clicked(self) -> None:
        try:
            self._note(f"saved {html.escape(self.save_png(self.save_path.value))}")
        except Exception as e:  # noqa: BLE001
            self._error(e)

    # ------------------------------------------------------------------ scheduling

    def _snapshot(self, edits: tuple[Edit, ...], t_edit: int, asymmetric: bool) -> _Request:
        upload = None
        if self.source.value == "uploaded image" and self.upload.value:
            upload = bytes(self.upload.value[-1]["content"])
        source = self.source.value  # the key names only what this source depends on, so the cache survives the rest
        if source == "seed":
            sample = (source, int(self.seed.value))
        elif source == "rendered face":
            sample = (source, int(self.seed.value), float(self.face_smile.value), bool(self.face_glasses.value),
                      float(self.face_hair.value))
        else:
            sample = (source, None if upload is None else hash(upload))
        return _Request(sample, tuple(edits), int(t_edit), bool(asymmetric), upload, time.perf_counter())

    def _request(self) -> None:
        """Snapshot the controls (on the caller's thread) and hand them to the worker; newest wins."""
        if self._closed:
            return
        req = self._snapshot((*self.combination, self.current()), self.t_edit.value, self.asymmetric.value)
        with self._cv:
            self._generation += 1
            gen = self._generation
            self._pending = (gen, req)
            self._cv.notify_all()
        if not self.threaded:
            self._pending = None
            self._run(gen, req)
        elif self._worker is None:
            self._worker = threading.Thread(target=self._loop, name="latentlab-editor", daemon=True)
            self._worker.start()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while self._pending is None and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                gen, req = self._pending
                self._pending = None
            self._run(gen, req)

    def _run(self, gen: int, req: _Request) -> None:
        try:
            with torch.no_grad():
                self._compute(gen, req)
        except _Stale:
            return
        except Exception as e:  # noqa: BLE001  every error becomes the in-widget message, never a traceback
            if gen == self._generation:
                self._error(e)
        self._finish(gen)

    def _finish(self, gen: int) -> None:
        with self._cv:
            self._finished = max(self._finished, gen)
            self._cv.notify_all()

    def wait(self, timeout: float = 120.0) -> bool:
        """Block until the newest request's full image (or its error message) is shown; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._finished < self._generation:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True

    def close(self) -> None:
        """Stop the worker thread and close the widgets."""
        cv = self.__dict__.get("_cv")
        if cv is None:  # __init__ failed before the widget was built (called from __del__)
            return
        with cv:
            self._closed = True
            cv.notify_all()
        super().close()

    def _check(self, gen: int) -> Callable[[dict], None]:
        def callback(_: dict) -> None:
            if gen != self._generation:
                raise _Stale()
        return callback

    # ------------------------------------------------------------------ computing

    def _compute(self, gen: int, req: _Request) -> None:
        check = self._check(gen)
        sample = self._sample(req)
        check({})
        edits = self._usable(sample, req.edits, req.t_edit)
        if not edits:
            self._show(gen, req, sample, sample.x0[0], "full", f"strength 0: the original ({self.steps} steps)")
            return
        guided: dict = {}
        for steps in ([self.preview_steps] if self.preview_steps else []) + [self.steps]:
            x = self._edit_image(sample, edits, req.t_edit, req.asymmetric, steps, check, guided)
            if x is None:
                continue  # Park: t_edit is not on the preview's grid
            check({})
            self._show(gen, req, sample, x[0], "full" if steps == self.steps else "preview", f"{steps} steps")

    def _usable(self, sample: _Sample, edits: tuple[Edit, ...], t_edit: int) -> tuple[Edit, ...]:
        """The edits that change something, after checking every one (a bad index is an error even at strength 0)."""
        for e in edits:
            self._direction(sample, e, t_edit)
        edits = tuple(e for e in edits if e.strength != 0.0)
        if any(e.method == "Park pullback" for e in edits) and len(edits) > 1:
            raise ValueError("Park pullback edits x_t once at t_edit; it cannot be combined with h-space directions "
                             "(additivity is a claim about h): reset the combination or pick another method")
        return edits

    def _edit_image(self, sample: _Sample, edits: tuple[Edit, ...], t_edit: int, asymmetric: bool, steps: int,
                    check: Callable | None = None, guided: dict | None = None) -> Tensor | None:
        """The edited image `(1, C, H, W)` at `steps` DDIM steps: the package's calls, nothing else."""
        if edits[0].method == "Park pullback":
            return self._park(sample, edits[0], t_edit, steps, check, {} if guided is None else guided)
        return ddim_sample(self.model, sample.x_T, steps, dh=self._dh(sample, edits, t_edit), t_edit=t_edit,
                           asymmetric=asymmetric, clip=sample.clip, fused=True, callback=check, progress=False)

    @torch.no_grad()
    def render(self, *edits: Edit, t_edit: int | None = None, asymmetric: bool | None = None) -> Tensor:
        """The full edited image `(C, H, W)` of the current sample for the given edits (default: the
        controls' current edit and combination), computed now, on the calling thread; the display is
        left alone. `t_edit` and `asymmetric` default to the first edit's method's paper settings.
        For static figures (a strength sweep) with the editor's cached directions."""
        if not edits:
            edits = (*self.combination, self.current())
        t_default, a_default = _method_defaults(edits[0].method, self.grid)
        t_edit = t_default if t_edit is None else t_edit
        asymmetric = a_default if asymmetric is None else asymmetric
        req = self._snapshot(edits, t_edit, asymmetric)
        shown = self.message.value  # progress notes of this call are not the display's business
        try:
            sample = self._sample(req)
            usable = self._usable(sample, req.edits, t_edit)
            return self._edit_image(sample, usable, t_edit, asymmetric, self.steps)[0] if usable else sample.x0[0]
        finally:
            self.message.value = shown

    @torch.no_grad()
    def sweep(self, edits: Sequence[Edit]) -> Tensor:
        """Each edit alone on the current sample at its method's paper settings, as `render` makes it,
        batched: `(N, C, H, W)`. The h-space edits that share (t_edit, asymmetric) run as one `ddim_sample`
        (sample i edited by edit i), Park's edits with the same gamma as one `x_space_guidance`, then one
        `ddim_sample` from t_edit; strength 0 is the original. For static figures and baselines."""
        shown = self.message.value
        try:
            sample = self._sample(self._snapshot((), self.grid[-1], True))
            out: list[Tensor | None] = [None] * len(edits)
            groups: dict[tuple, list[int]] = {}
            for i, e in enumerate(edits):
                if not isinstance(e, Edit):
                    raise TypeError(f"edits must be Edit objects, got {type(e).__name__}")
                t_edit, asymmetric = _method_defaults(e.method, self.grid)
                self._direction(sample, e, t_edit)  # every edit is checked, strength 0 too
                if e.strength == 0.0:
                    out[i] = sample.x0[0]
                elif e.method == "Park pullback":
                    groups.setdefault(("park", t_edit), []).append(i)
                else:
                    groups.setdefault(("h", t_edit, asymmetric), []).append(i)
            for key, idx in groups.items():
                if key[0] == "h":
                    dh = _batched([self._one_dh(sample, edits[i], key[1]) for i in idx])
                    x = ddim_sample(self.model, sample.x_T.expand(len(idx), *sample.x_T.shape[1:]), self.steps, dh=dh,
                                    t_edit=key[1], asymmetric=key[2], clip=sample.clip, fused=True, progress=False)
                else:
                    x_t, guided = sample.trajectory[key[1]], {}
                    for i in idx:  # one guidance run per gamma: x_space_guidance takes one step size
                        guided.setdefault(abs(edits[i].strength), []).append(i)
                    xs, order = [], []
                    for c, same in guided.items():
                        v = torch.stack([self._park_v(sample, edits[i], key[1]) for i in same])
                        xs.append(x_space_guidance(self.model, x_t.expand(len(same), *x_t.shape[1:]), key[1], v,
                                                   gamma=PARK_GAMMA * c))
                        order += same
                    x = ddim_sample(self.model, torch.cat(xs), self.steps, t_start=key[1], clip=sample.clip, progress=False)
                    idx = order
                for i, xi in zip(idx, x):
                    out[i] = xi
            return torch.stack(out) if out else torch.empty(0, *self.model.sample_shape)
        finally:
            self.message.value = shown

    @torch.no_grad()
    def edit_size(self, edit: Edit) -> float:
        """How far an edit moves the current sample: the median over its edited steps of ||dh|| / ||h||
        along the unedited trajectory (h-space methods), or ||dx|| / ||x_t|| at t_edit (Park's guidance)."""
        shown = self.message.value
        try:
            sample = self._sample(self._snapshot((), self.grid[-1], True))
            t_edit, _ = _method_defaults(edit.method, self.grid)
            self._direction(sample, edit, t_edit)
            if edit.method == "Park pullback":
                x = sample.trajectory[t_edit]
                moved = x_space_guidance(self.model, x, t_edit, self._park_v(sample, edit, t_edit),
                                         gamma=PARK_GAMMA * abs(edit.strength), fused=True)
                return float((moved - x).norm() / x.norm())
            dh = self._one_dh(sample, edit, t_edit)
            return statistics.median(float(dh(t, sample.h[t]).norm() / sample.h[t].norm()) for t in self.grid if t >= t_edit)
        finally:
            self.message.value = shown

    def _sample(self, req: _Request) -> _Sample:
        key = req.sample
        if key in self._samples:
            return self._samples[key]
        source = key[0]
        shape = self.model.sample_shape
        device = next(self.model.unet.parameters()).device
        if source == "seed":
            x_T, clip = torch.randn((1, *shape), generator=torch.Generator().manual_seed(key[1])).to(device), None
        else:
            if source == "rendered face":
                seed, smile, glasses, hair = key[1:]
                image = render_faces(1, seed=seed, size=shape[-1], smile=smile, glasses=float(glasses), hair_color=hair)[0]
            elif req.upload is None:
                raise ValueError("no image uploaded yet: choose a file with the upload button")
            else:
                image = load_image(req.upload, shape[1:])[None]
            x_T, clip = ddim_invert(self.model, image.to(device), self.steps, progress=False), False
        hs: dict[int, Tensor] = {}
        x0, traj = ddim_sample(self.model, x_T, self.steps, clip=clip, return_trajectory=True, progress=False,
                               callback=lambda step: hs.__setitem__(step["t"], step["h"]))
        sample = _Sample(x_T, clip, x0, dict(zip(self.grid, traj[:-1])), hs, self._read(x0))
        if len(self._samples) >= 8:  # keep a few recent samples
            self._samples.pop(next(iter(self._samples)))
        self._samples[key] = sample
        return sample

    def _read(self, x: Tensor) -> dict[str, float]:
        out = self.probe(x if x.dim() == 4 else x[None])
        return {a: float(out[a][0]) for a in ATTRIBUTES}

    def _editor(self, target: str, method: str):
        key = ("editor", method, target)
        if key not in self._shared:
            attr, goal = target.split(" -> ")
            self._shared[key] = load_editor(attr, float(goal), method.split()[1])
        return self._shared[key]

    def _trajectories(self):
        if "trajectories" not in self._shared:
            self._note(f"fitting directions on {self.n_directions} trajectories (once) ...")
            x_T = torch.randn(self.n_directions, *self.model.sample_shape, generator=torch.Generator().manual_seed(12345))
            tr = h_trajectory(self.model, x_T.to(next(self.model.unet.parameters()).device), self.direction_steps,
                              progress=False)
            self._shared["trajectories"] = (tr, self.probe(tr.x0))
        return self._shared["trajectories"]

    def _direction(self, sample: _Sample, e: Edit, t_edit: int):
        """The unscaled direction of an edit: a StepDirection, an Asyrp Editor, or Park's x-space SVD."""
        if e.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {e.method!r}")
        if e.method in METHODS[3:] and not 0 <= e.index < self.k:
            raise ValueError(f"index must be a direction index from 0 to {self.k - 1} ({e.method} found k = {self.k} "
                             f"directions), got {e.index}")
        if e.method == "mean difference":
            key = ("mean difference", e.target)
            if key not in self._shared:
                if e.target not in ATTRIBUTES:
                    raise ValueError(f"direction must be one of {', '.join(ATTRIBUTES)} for the mean difference, got {e.target!r}")
                tr, readings = self._trajectories()
                r = readings[e.target]
                labels = r > 0.5 if e.target in BINARY_ATTRIBUTES else r > r.median()
                self._shared[key] = StepDirection(tr.timesteps, mean_difference(tr.h, labels))
            return self._shared[key]
        if e.method.startswith("Asyrp"):
            return self._editor(e.target, e.method)
        if e.method == "Haas PCA":
            if "pca" not in self._shared:
                tr, _ = self._trajectories()
                self._shared["pca"] = pca_directions(self.model, None, self.direction_steps, self.k, trajectory=tr, progress=False)
            return self._shared["pca"]
        if e.method == "Haas Jacobian":
            if "jacobian" not in sample.cache:
                self._note(f"Haas's Jacobian directions of this sample ({self.jacobian_steps} SVDs, once) ...")
                sample.cache["jacobian"] = jacobian_directions(self.model, sample.x_T[0], self.jacobian_steps, self.k,
                                                               t_index=self.jacobian_index, tol=1e-2, progress=False)
            return sample.cache["jacobian"]
        if t_edit not in sample.trajectory:
            raise ValueError(f"t_edit must be a timestep of the {self.steps}-step grid for Park's edit, got {t_edit}")
        key = ("pullback", t_edit)
        if key not in sample.cache:
            self._note(f"Park's pullback at t = {t_edit} (once per sample and t_edit) ...")
            sample.cache[key] = pullback(self.model, sample.trajectory[t_edit][0], t_edit, self.k, seed=0)
        return sample.cache[key]

    def _one_dh(self, sample: _Sample, e: Edit, t_edit: int) -> Callable[[int, Tensor], Tensor]:
        """The h-space edit `(t, h) -> dh` of one Edit at its strength (a random one: the same norm at every step)."""
        if e.random is not None:
            own = self._one_dh(sample, replace(e, random=None), t_edit)
            norms = torch.stack([own(t, sample.h[t]).flatten().norm() for t in self.grid])
            return random_direction(self.grid, norms, generator=torch.Generator().manual_seed(e.random),
                                    h_shape=self.model.h_shape)
        d = self._direction(sample, e, t_edit)
        if e.method == "mean difference":
            return e.strength * d
        if e.method.startswith("Asyrp"):
            return lambda t, h, d=d, c=e.strength: c * d(t, h)
        if e.method == "Haas PCA":
            return d.direction(e.index, e.strength)
        return d.direction(e.index, JACOBIAN_UNIT * e.strength)

    def _dh(self, sample: _Sample, edits: tuple[Edit, ...], t_edit: int):
        """The h-space edit of the settings: each direction scaled, several added (`combine`)."""
        dhs = [self._one_dh(sample, e, t_edit) for e in edits]
        return dhs[0] if len(dhs) == 1 else combine(*dhs)

    def _park_v(self, sample: _Sample, e: Edit, t_edit: int) -> Tensor:
        """Park's x-space direction of an edit: `sign(c) v_i` of the pullback at t_edit, or a random unit v."""
        if e.random is not None:
            v = torch.randn(self.model.sample_shape, generator=torch.Generator().manual_seed(e.random))
            return v / v.norm()
        return math.copysign(1.0, e.strength) * self._direction(sample, e, t_edit).V[e.index]

    def _park(self, sample: _Sample, e: Edit, t_edit: int, steps: int, check: Callable | None, guided: dict) -> Tensor | None:
        """Park et al.: x-space guidance along v_i at t_edit (once per request), then DDIM from there."""
        if t_edit not in ddim_timesteps(self.model, steps).tolist():
            return None
        if "x" not in guided:
            v = self._park_v(sample, e, t_edit)
            guided["x"] = x_space_guidance(self.model, sample.trajectory[t_edit], t_edit, v, gamma=PARK_GAMMA * abs(e.strength),
                                              fused=True)
            if check is not None:
                check({})
        return ddim_sample(self.model, guided["x"], steps, t_start=t_edit, clip=sample.clip, callback=check, progress=False)

    # ------------------------------------------------------------------ showing

    def _show(self, gen: int, req: _Request, sample: _Sample, x: Tensor, stage: str, what: str) -> None:
        readings = self._read(x)
        if gen != self._generation:
            raise _Stale()
        first = self.x0 is None or not torch.equal(self.x0, sample.x0[0])
        self.x_T, self.x0 = sample.x_T[0], sample.x0[0]
        if first:
            self.original_image.value = image_to_png(self.x0, 1)
        self.readings_before, self.readings_after = sample.readings, readings
        if stage == "full":
            self.edited = x
        else:
            self.preview = x
        # native size: the browser enlarges it (pixelated), so updates and the saved notebook stay small
        self.edited_image.value = image_to_png(x, 1)
        self.difference_image.value = image_to_png(_difference(x, self.x0), 1)
        self.readout.value = _bars(sample.readings, readings)
        elapsed = time.perf_counter() - req.time
        if stage == "full":
            self.timings.append({"generation": gen, "full_s": elapsed})
        self.status.value = (f'<span class="ll-stage" data-generation="{gen}" data-stage="{stage}" '
                             f'data-strength="{req.edits[-1].strength:.2f}">{stage}: {what}, {elapsed:.2f} s</span>')
        self.message.value = ""
        combo = req.edits[:-1]
        self.combo_label.value = ("" if not combo else "<b>combined with</b>: " + "; ".join(html.escape(e.label()) for e in combo))

    def _note(self, text: str) -> None:
        self.message.value = f'<span class="ll-note" style="color:#555">{text}</span>'

    def _error(self, e: Exception) -> None:
        text = str(e) if isinstance(e, (ValueError, TypeError, FileNotFoundError)) else f"{type(e).__name__}: {e}"
        self.message.value = f'<span class="ll-error" style="color:#b00020">{html.escape(text)}</span>'
        self.status.value = f'<span class="ll-stage" data-generation="{self._generation}" data-stage="error">error</span>'
