"""The widget editor of notebook 08: pick a face, a method and a direction, drag the strength.

`EditWidget` (an ipywidgets `VBox`) lays out the controls, hands every change to its
`latentlab.session.EditSession` and shows what the session hands back: original | edited |
difference, the probe's readings before and after, and a status line (stage, steps, seconds). All
computing, caching and scheduling is the session's; every method and its settings come from the
registry (`latentlab.methods.METHODS`). The editor runs on its own as a web app too:
`voila notebooks/08_widget_editor.ipynb` (`in_voila()` tells a notebook that it runs there).
"""
from __future__ import annotations

import html
import io
import os

import ipywidgets as W
import torch
from torch import Tensor

from ..faces import ATTRIBUTES
from ..methods import METHODS
from ..model import Model
from ..session import Edit, EditSession, Face, Result

__all__ = ["EditWidget", "image_to_png", "in_voila"]

SOURCES = ("seed", "rendered face", "uploaded image")


def image_to_png(x: Tensor, scale: int = 1) -> bytes:
    """An image `(C, H, W)` in [-1, 1] as PNG bytes, enlarged `scale` times (nearest neighbour).

    >>> image_to_png(torch.zeros(3, 4, 4), scale=2)[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    from PIL import Image

    if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"x must be one image (C, H, W) with C = 1 or 3, got "
                         f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    a = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    img = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # speed over size: a few kB either way
    return buf.getvalue()


def in_voila() -> bool:
    """True inside a kernel that Voila started (it sets VOILA_KERNEL_ID / VOILA_SERVER_URL there)."""
    return "VOILA_KERNEL_ID" in os.environ or "VOILA_SERVER_URL" in os.environ


def difference(edited: Tensor, original: Tensor) -> Tensor:
    """The signed change around mid-grey, twice enlarged: grey = unchanged."""
    return (2 * (edited - original)).clamp(-1, 1)


def _bars(before: dict[str, float], after: dict[str, float]) -> str:
    """The probe's readings as HTML bars (before grey, after blue), each attribute on its own range."""
    rows = []
    for name, (lo, hi) in ATTRIBUTES.items():
        b, a = before[name], after[name]
        wb, wa = (100 * min(max((v - lo) / (hi - lo), 0.0), 1.0) for v in (b, a))
        rows.append(
            f'<div class="ll-reading" data-attr="{name}" data-before="{b:.4f}" data-after="{a:.4f}" '
            'style="display:flex;align-items:center;gap:6px;font:12px monospace;height:16px">'
            f'<span style="width:92px">{name}</span>'
            '<span style="position:relative;width:140px;height:12px;background:#eee">'
            f'<span style="position:absolute;left:0;top:0;height:6px;width:{wb:.1f}%;background:#999"></span>'
            f'<span style="position:absolute;left:0;top:6px;height:6px;width:{wa:.1f}%;background:#2a6fdb">'
            f'</span></span><span>{b:+.2f} &rarr; {a:+.2f} ({a - b:+.2f})</span></div>')
    return '<div class="ll-readout-rows">' + "".join(rows) + "</div>"


class EditWidget(W.VBox):
    """The interactive editor: face, method, direction, strength, t_edit, asymmetric; preview first.

    Args:
        model, probe, steps, preview_steps: as `EditSession` (ignored when `session` is given).
        session: the `EditSession` to show (default: a new one).
        seed: the first face's seed. method, target, strength: the first edit shown (target: the
            method's first). image_scale: how many times the browser enlarges the 32 x 32 images.

    >>> import latentlab as ll
    >>> probe = lambda x: {a: x.mean((1, 2, 3)) for a in ll.ATTRIBUTES}
    >>> w = EditWidget(ll.tiny_model(sample_size=32), probe=probe, steps=2, preview_steps=0, method="random",
    ...                strength=0.0)
    >>> w.strength.value = 1.0; w.wait(); w.edited.shape
    True
    torch.Size([3, 32, 32])
    >>> w.method.value = "Haas PCA"; w.wait(); (w.t_edit.value, w.asymmetric.value), w.target.options[0]
    True
    ((0, False), ('#0 (+/- by the sign of strength)', 0))
    >>> w.close()
    """

    def __init__(self, model: Model | None = None, *, probe=None, session: EditSession | None = None,
                 steps: int = 20, preview_steps: int = 5, seed: int = 0, method: str = "Asyrp f",
                 target: str | int | None = None, strength: float = 1.0, image_scale: int = 5):
        if session is None:
            session = EditSession(model, probe=probe, steps=steps, preview_steps=preview_steps)
        elif not isinstance(session, EditSession):
            raise TypeError(f"session must be an EditSession or None, got {type(session).__name__}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if target is not None and target not in session.targets(method):
            raise ValueError(f"target must be one of {', '.join(map(repr, session.targets(method)))} for {method}, "
                             f"got {target!r}")
        if isinstance(image_scale, bool) or not isinstance(image_scale, int) or image_scale < 1:
            raise ValueError(f"image_scale must be a positive integer, got {image_scale!r}")
        self.session, self.image_scale = session, image_scale
        self.combination: list[Edit] = []
        self.x_T: Tensor | None = None  # what is shown: the face's x_T, its unedited image, the edit
        self.x0: Tensor | None = None
        self.edited: Tensor | None = None  # the last full image (C, H, W)
        self.preview: Tensor | None = None  # the last preview (C, H, W)
        self.readings_before: dict[str, float] = {}
        self.readings_after: dict[str, float] = {}
        self._quiet = True  # no requests while the controls are set up
        self._build(seed, method, strength)
        self._method_changed(target)
        self._quiet = False
        session.on_result = self._show
        self._request()

    # ------------------------------------------------------------------ what the session is

    @property
    def model(self) -> Model:
        return self.session.model

    @property
    def probe(self):
        return self.session.probe

    @property
    def steps(self) -> int:
        return self.session.steps

    # ------------------------------------------------------------------ layout

    def _build(self, seed: int, method: str, strength: float) -> None:
        style = {"description_width": "88px"}

        def wide() -> W.Layout:  # one Layout per widget: _show_controls hides widgets through their layout
            return W.Layout(width="330px")

        self.source = W.Dropdown(options=SOURCES, value="seed", description="face", style=style, layout=wide())
        self.seed = W.IntText(value=seed, description="seed", style=style, layout=wide())
        self.face_smile = W.FloatSlider(value=-0.5, min=-1, max=1, step=0.1, description="face smile", style=style,
                                        layout=wide())
        self.face_glasses = W.Checkbox(value=False, description="face glasses", style=style)
        self.face_hair = W.FloatSlider(value=0.5, min=0, max=1, step=0.1, description="face hair", style=style,
                                       layout=wide())
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="upload")
        self.method = W.Dropdown(options=list(METHODS), value=method, description="method", style=style, layout=wide())
        self.target = W.Dropdown(description="direction", style=style, layout=wide())
        self.strength = W.FloatSlider(value=strength, min=-5.0, max=5.0, step=0.1, description="strength",
                                      continuous_update=True, readout_format=".1f", style=style, layout=wide())
        self.t_edit = W.SelectionSlider(options=sorted(self.session.grid), description="t_edit",
                                        continuous_update=True, style=style, layout=wide())
        self.asymmetric = W.Checkbox(value=True, description="asymmetric (Asyrp)", style=style)
        self.unit = W.HTML()
        self.add_button = W.Button(description="add to combination", layout=W.Layout(width="160px"))
        self.reset_button = W.Button(description="reset", layout=W.Layout(width="80px"))
        self.save_button = W.Button(description="save PNG", layout=W.Layout(width="90px"))
        self.save_path = W.Text(value="latentlab_edit.png", description="file", style={"description_width": "30px"},
                                layout=W.Layout(width="220px"))
        size = {"width": f"{self.model.sample_shape[2] * self.image_scale}px"}
        self.original_image = W.Image(format="png", **size)
        self.edited_image = W.Image(format="png", **size)
        self.difference_image = W.Image(format="png", **size)
        self.readout, self.combo_label, self.message, self.status = W.HTML(), W.HTML(), W.HTML(), W.HTML()
        for name in ("source", "seed", "face_smile", "face_glasses", "face_hair", "upload", "method", "target",
                     "strength", "t_edit", "asymmetric", "unit", "add_button", "reset_button", "save_button",
                     "save_path", "original_image", "edited_image", "difference_image", "readout", "combo_label",
                     "message", "status"):
            getattr(self, name).add_class("ll-" + name.replace("_", "-"))  # stable selectors for browser tests
        for w in (self.source, self.seed, self.face_smile, self.face_glasses, self.face_hair, self.upload, self.target,
                  self.strength, self.t_edit, self.asymmetric):
            w.observe(self._on_change, names="value")
        self.method.observe(lambda change: self._on_method(), names="value")
        self.add_button.on_click(lambda _: self.add())
        self.reset_button.on_click(lambda _: self.reset())
        self.save_button.on_click(lambda _: self._save_clicked())
        self.face_box = W.VBox([self.face_smile, self.face_glasses, self.face_hair])

        def titled(title: str, w: W.Widget) -> W.VBox:
            return W.VBox([W.HTML(f"<b>{title}</b>"), w], layout=W.Layout(align_items="center"))

        controls = W.VBox([self.source, self.seed, self.face_box, self.upload, self.method, self.target, self.strength,
                           self.t_edit, self.asymmetric, self.unit, W.HBox([self.add_button, self.reset_button]),
                           W.HBox([self.save_button, self.save_path])])
        images = W.HBox([titled("original", self.original_image), titled("edited", self.edited_image),
                         titled("difference", self.difference_image)])
        right = W.VBox([images, self.status, self.message, self.combo_label,
                        W.HTML("<b>probe readings</b> (grey: original, blue: edited)"), self.readout])
        pixelated = W.HTML("<style>.ll-editor img { image-rendering: pixelated; }</style>")
        super().__init__([pixelated, W.HBox([controls, right])])
        self.add_class("ll-editor")

    def _show_controls(self) -> None:
        fixed = METHODS[self.method.value].space != "h"
        # an x-space method moves x_t once at the registry's t_edit; a slider acts at t <= its t_edit
        self.t_edit.disabled = fixed
        self.asymmetric.layout.display = "none" if fixed else None
        self.face_box.layout.display = None if self.source.value == "rendered face" else "none"
        self.seed.layout.display = "none" if self.source.value == "uploaded image" else None
        self.upload.layout.display = None if self.source.value == "uploaded image" else "none"

    # ------------------------------------------------------------------ events

    def _method_changed(self, target: str | int | None = None) -> None:
        """The method's targets, and its registry settings on t_edit and asymmetric (quietly)."""
        name = self.method.value
        targets = self.session.targets(name)
        self.target.options = [(t if isinstance(t, str) else f"#{t} (+/- by the sign of strength)", t)
                               for t in targets]
        self.target.value = targets[0] if target is None else target
        self.unit.value = f'<span style="font-size:12px;color:#555">c = 1: {html.escape(METHODS[name].unit)}</span>'
        self._defaults()
        self._show_controls()

    def _defaults(self) -> None:
        try:
            self.t_edit.value, self.asymmetric.value = self.session.defaults(self.method.value, self.target.value)
        except ValueError as e:  # e.g. no shipped editor fits this model
            self._error(str(e))

    def _on_method(self) -> None:
        self._quiet = True
        try:
            self._method_changed()
        finally:
            self._quiet = False
        self._request()

    def _on_change(self, change) -> None:
        if self._quiet:
            return
        if change["owner"] is self.target and METHODS[self.method.value].t_edit == "editor":
            self._quiet = True  # each learned editor has its own t_edit
            try:
                self._defaults()
            finally:
                self._quiet = False
        self._show_controls()
        self._request()

    def current(self) -> Edit:
        """The edit the controls describe now."""
        return Edit(self.method.value, self.target.value, float(self.strength.value))

    def face(self) -> Face | None:
        """The face the controls describe now (None: an upload is chosen but no file given yet)."""
        if self.source.value == "seed":
            return Face(int(self.seed.value))
        if self.source.value == "rendered face":
            return Face.rendered(int(self.seed.value), smile=float(self.face_smile.value),
                                 glasses=float(self.face_glasses.value), hair_color=float(self.face_hair.value))
        return Face.uploaded(bytes(self.upload.value[-1]["content"])) if self.upload.value else None

    def add(self) -> None:
        """Keep the current edit in the combination (edits add up in h); strength back to 0."""
        self.combination.append(self.current())
        self._set_quietly(self.strength, 0.0)
        self._request()

    def reset(self) -> None:
        """Strength 0 and no combination: the edited image is the original again."""
        self.combination.clear()
        self._set_quietly(self.strength, 0.0)
        self._request()

    def _set_quietly(self, w: W.Widget, value) -> None:
        self._quiet = True
        try:
            w.value = value
        finally:
            self._quiet = False

    def _request(self) -> None:
        """Hand the controls' request to the session (the worker computes it; newest wins)."""
        face = self.face()
        if face is None:
            self._error("no image uploaded yet: choose a file with the upload button")
            return
        h_space = METHODS[self.method.value].space == "h"
        try:
            self.session.submit([*self.combination, self.current()], face=face,
                                t_edit=int(self.t_edit.value) if h_space else None,
                                asymmetric=bool(self.asymmetric.value) if h_space else None)
        except (ValueError, TypeError, RuntimeError) as e:
            self._error(str(e))

    def wait(self, timeout: float = 120.0) -> bool:
        """Block until the newest request's full image (or its error message) is shown; False on timeout."""
        return self.session.wait(timeout)

    def close(self) -> None:
        """Stop the session's worker and close the widgets."""
        session = self.__dict__.get("session")
        if session is not None:
            session.close()
        super().close()

    def save_png(self, path: str) -> str:
        """Save original | edited | difference side by side as one PNG; returns the path."""
        if self.x0 is None or self.edited is None:
            raise ValueError("nothing to save yet: no edited image is shown")
        strip = torch.cat([self.x0, self.edited, difference(self.edited, self.x0)], dim=2)
        with open(path, "wb") as f:
            f.write(image_to_png(strip, self.image_scale))
        return path

    def _save_clicked(self) -> None:
        try:
            self._note(f"saved {html.escape(self.save_png(self.save_path.value))}")
        except (ValueError, OSError) as e:
            self._error(str(e))

    # ------------------------------------------------------------------ showing (on the session's worker thread)

    def _show(self, r: Result) -> None:
        if r.stage == "error":
            self._error(r.message, r.generation)
            return
        if self.x0 is None or not torch.equal(self.x0, r.original):
            self.original_image.value = image_to_png(r.original)
        self.x_T, self.x0 = r.x_T, r.original
        self.readings_before, self.readings_after = r.readings_before, r.readings_after
        if r.stage == "full":
            self.edited = r.image
        else:
            self.preview = r.image
        # native size: the browser enlarges it (pixelated), so updates and the saved notebook stay small
        self.edited_image.value = image_to_png(r.image)
        self.difference_image.value = image_to_png(difference(r.image, r.original))
        self.readout.value = _bars(r.readings_before, r.readings_after)
        strength = r.edits[-1].strength if r.edits else 0.0
        self.status.value = (f'<span class="ll-stage" data-generation="{r.generation}" data-stage="{r.stage}" '
                             f'data-strength="{strength:.2f}">{r.stage}: {r.steps} steps, {r.seconds:.2f} s</span>')
        self.message.value = ""
        combo = r.edits[:-1]
        self.combo_label.value = "" if not combo else "<b>combined with</b>: " + "; ".join(
            html.escape(e.label()) for e in combo)

    def _note(self, text: str) -> None:
        self.message.value = f'<span class="ll-note" style="color:#555">{text}</span>'

    def _error(self, text: str, generation: int | None = None) -> None:
        self.message.value = f'<span class="ll-error" style="color:#b00020">{html.escape(text)}</span>'
        gen = self.session.generation if generation is None else generation
        self.status.value = f'<span class="ll-stage" data-generation="{gen}" data-stage="error">error</span>'
