"""The edit session behind the widget editor: one face, any method of the registry, images on demand.

`EditSession` needs no ipywidgets. It holds the face being edited (a seed's x_T, or a rendered or
uploaded image, DDIM-inverted), what no slider changes (per face: x_T, the unedited trajectory, h
along it and the probe's readings; per method: its fit, in the registry's `Workbench`), and a worker
thread that computes the newest request, first as a quick preview, then as the full image. The
widget (`latentlab.course.widget.EditWidget`) lays out controls and shows what the session hands
it; notebooks and tests call the same methods (`render`, `sweep`, `edit_size`).

Every image is the registry's call (`latentlab.methods`): an h-space `Candidate` edits through
`ddim_sample(x_T, dh=cand.dh(c), t_edit=cand.t_edit, asymmetric=cand.method.asymmetric)`, an x-space
one through `ddim_sample(cand.move(x_T, x_t, c), t_start=cand.t_edit)` with x_t the face's own
x_t at t_edit, a weight-space one (a LoRA slider) through `sample_with_slider` at scale c on the
workbench's own copy of the U-Net. Strength c means what `METHODS[name].unit` says. A "goal" method's target is
"attribute -> goal"; a "both" method's is the index i of its direction (its i-th '+' candidate; c < 0
takes the '-' one at |c|). `Edit(..., random=seed)` is an edit's baseline: a Gaussian h-direction
with the edit's norm at every step of this face's trajectory (x-space: a random unit v, moved alike).

Scheduling: `submit` bumps a generation counter. A U-Net pre-hook on the worker thread raises as soon
as the generation it computes is no longer the newest (or the session closes), so stale work stops
within one U-Net call; fits (a method's directions, a new face) run to the end and stay cached.
Each request shows a preview (`preview_steps` DDIM steps; Park's guidance as one step of n gamma, its
first order), then the full image. At interpreter exit (a script's end, a kernel shut down
mid-render) a `weakref.finalize` hook stops the worker and joins it before torch is torn down.

References: Kwon et al. 2023 (Asyrp), Haas et al. 2024, Park et al. 2023 (see `latentlab.methods`).

>>> import latentlab as ll
>>> probe = lambda x: {a: x.mean((1, 2, 3)) for a in ll.ATTRIBUTES}
>>> s = EditSession(ll.tiny_model(sample_size=32), probe=probe, steps=2, preview_steps=0)
>>> s.targets("Haas Jacobian"), s.targets("paired")[:2]
([0, 1, 2], ['smile -> +1', 'glasses -> 1'])
>>> s.render(Edit("random", 0, 2.0)).shape
torch.Size([3, 32, 32])
>>> s.submit([Edit("random", 1, -1.0)]); s.wait(); s.latest.stage
1
True
'full'
>>> s.close()
"""
from __future__ import annotations

import hashlib
import io
import math
import statistics
import threading
import time
import weakref
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import torch
from torch import Tensor

from .ddim import ddim_invert, ddim_sample, ddim_timesteps
from .directions import combine, random_direction
from .faces import ATTRIBUTES, check_goal, render_faces
from .methods import METHODS, Candidate, Workbench, goal_targets, method
from .model import Model, load_model
from .probe import load_probe
from .slider import sample_with_slider

__all__ = ["EditSession", "Edit", "Face", "FaceState", "Result", "target_name", "load_image"]


def target_name(attr: str, goal: float) -> str:
    """A "goal" method's target as the session names it: `"smile -> +1"`, `"glasses -> 0"`.

    >>> target_name("smile", 1.0), target_name("hair_color", 1.0)
    ('smile -> +1', 'hair_color -> 1')
    """
    check_goal(attr, goal)
    return f"{attr} -> {goal:+g}" if ATTRIBUTES[attr][0] < 0 else f"{attr} -> {goal:g}"


def _parse_target(target: str) -> tuple[str, float]:
    attr, sep, goal = target.partition(" -> ")
    try:
        value = float(goal)
    except ValueError:
        value = None
    if not sep or value is None or attr not in ATTRIBUTES:
        raise ValueError(f"target must be 'attribute -> goal' (e.g. 'smile -> +1'), got {target!r}")
    check_goal(attr, value)
    return attr, value


@dataclass(frozen=True)
class Edit:
    """One direction of a registry method at strength c.

    Attributes:
        method: a key of `METHODS`.
        target: a "goal" method: `"attribute -> goal"` (`target_name`); a "both" method: the index i
            of its direction (c < 0 takes the '-' candidate at |c|).
        strength: c, in the method's unit (`METHODS[method].unit`).
        random: None for the method's own direction; a seed for its baseline of the same size.

    >>> Edit("Haas PCA", 1, -2.0).label(), Edit("Asyrp f", "smile -> +1", 1.0, random=3).label()
    ('Haas PCA #1 x -2.00', 'random like Asyrp f smile -> +1 x +1.00')
    """
    method: str
    target: str | int
    strength: float
    random: int | None = None

    def __post_init__(self) -> None:
        m = method(self.method)
        if m.sign == "goal":
            if not isinstance(self.target, str):
                raise TypeError(f"target must be 'attribute -> goal' for {self.method}, got {self.target!r}")
            _parse_target(self.target)
        elif isinstance(self.target, bool) or not isinstance(self.target, int) or self.target < 0:
            raise ValueError(f"target must be a direction index >= 0 for {self.method}, got {self.target!r}")
        if isinstance(self.strength, bool) or not isinstance(self.strength, (int, float)) or not math.isfinite(
                self.strength):
            raise ValueError(f"strength must be a finite number, got {self.strength!r}")
        if self.random is not None and (isinstance(self.random, bool) or not isinstance(self.random, int)):
            raise ValueError(f"random must be None or an integer seed, got {self.random!r}")

    def label(self) -> str:
        which = self.target if isinstance(self.target, str) else f"#{self.target}"
        return ("random like " if self.random is not None else "") + f"{self.method} {which} x {self.strength:+.2f}"


@dataclass(frozen=True)
class Face:
    """Which face a session edits: a seed's x_T, a rendered face or an uploaded image (both inverted).

    >>> Face(seed=3).key, Face.rendered(seed=1, smile=0.5).key
    (('seed', 3), ('rendered', 1, (('smile', 0.5),)))
    """
    seed: int = 0
    attributes: tuple[tuple[str, float], ...] | None = None  # rendered: render_faces(seed=seed, **attributes)
    image: bytes | None = None  # uploaded: the file's bytes (PNG, JPEG, ...)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")

    @classmethod
    def rendered(cls, seed: int = 0, **attributes: float) -> "Face":
        """A face `render_faces` draws with these attributes (others from the seed), DDIM-inverted."""
        for a in attributes:
            if a not in ATTRIBUTES:
                raise ValueError(f"attributes must be among {', '.join(ATTRIBUTES)}, got {a!r}")
        return cls(seed, tuple(sorted((a, float(v)) for a, v in attributes.items())))

    @classmethod
    def uploaded(cls, data: bytes) -> "Face":
        """An image file's bytes, resized to the model's size and DDIM-inverted."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be the image file's bytes, got {type(data).__name__}")
        return cls(image=bytes(data))

    @property
    def key(self) -> tuple:
        if self.image is not None:
            return ("uploaded", hashlib.sha1(self.image).hexdigest())
        if self.attributes is not None:
            return ("rendered", self.seed, self.attributes)
        return ("seed", self.seed)


@dataclass
class FaceState:
    """What no slider changes for one face: x_T `(1, C, H, W)`, the unedited x_0, its readings, and its
    unedited trajectory (x_t before the step at t, and h_t there, `(1, ...)`, per grid timestep)."""
    x_T: Tensor
    clip: bool | None  # None: the scheduler's config; False for an inverted image (see ddim_invert)
    x0: Tensor
    readings: dict[str, float]
    x_t: dict[int, Tensor] = field(repr=False)
    h: dict[int, Tensor] = field(repr=False)


@dataclass(frozen=True)
class Result:
    """One image the worker hands over: `stage` "preview", "full" or "error" (then `message`)."""
    generation: int
    stage: str
    edits: tuple[Edit, ...]
    seconds: float  # from `submit` to this result
    steps: int = 0
    x_T: Tensor | None = None  # (C, H, W)
    original: Tensor | None = None  # (C, H, W), the unedited image
    image: Tensor | None = None  # (C, H, W), the edited image
    readings_before: dict[str, float] = field(default_factory=dict)
    readings_after: dict[str, float] = field(default_factory=dict)
    message: str = ""


def load_image(data: bytes, size: tuple[int, int]) -> Tensor:
    """Image file bytes (PNG, JPEG, ...) as an RGB tensor `(3, H, W)` in [-1, 1], resized to `size`.

    >>> import io; from PIL import Image; buf = io.BytesIO(); Image.new("RGB", (8, 8)).save(buf, "PNG")
    >>> load_image(buf.getvalue(), (4, 4)).shape
    torch.Size([3, 4, 4])
    """
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data)).convert("RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"the uploaded file is not an image PIL can read ({e})") from None
    img = img.resize((size[1], size[0]), Image.BICUBIC)
    x = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).reshape(size[0], size[1], 3)
    return x.permute(2, 0, 1).float() / 127.5 - 1


class _Stale(Exception):
    """Raised on the worker thread when a newer request has arrived or the session closes."""


@dataclass(frozen=True)
class _Job:
    face: Face
    edits: tuple[Edit, ...]
    t_edit: int | None
    asymmetric: bool | None
    time: float


@dataclass
class _Plan:
    """The edits of one request resolved on one face: an h-space dh, an x-space move at t_edit, or a
    weight-space candidate with its strength (a slider, acting at t <= t_edit)."""
    t_edit: int
    asymmetric: bool
    dh: Callable[[int, Tensor], Tensor] | None = None
    move: Callable[[Tensor, bool], Tensor] | None = None  # (x_t, preview) -> the moved x_t
    weights: tuple[Candidate, float] | None = None


class _Worker:
    """A thread that runs only the newest job. It holds its session weakly, so the session can be
    garbage-collected; `close` (the session's finaliser, at exit too) stops and joins it."""

    def __init__(self, run: weakref.WeakMethod):
        self._run = run
        self.cv = threading.Condition()
        self.generation = self.finished = 0
        self.pending: tuple[int, _Job] | None = None
        self.closed = False
        self.thread: threading.Thread | None = None

    def submit(self, job: _Job) -> int:
        with self.cv:
            if self.closed:
                raise RuntimeError("the session is closed")
            self.generation += 1
            self.pending = (self.generation, job)
            self.cv.notify_all()
            if self.thread is None:
                # daemon: an idle worker must not keep the interpreter alive; close() joins a busy one
                self.thread = threading.Thread(target=self._loop, name="latentlab-edit-session", daemon=True)
                self.thread.start()
            return self.generation

    def stale(self, gen: int) -> bool:
        return self.closed or gen != self.generation

    def _loop(self) -> None:
        while True:
            with self.cv:
                while self.pending is None and not self.closed:
                    self.cv.wait()
                if self.closed:
                    return
                gen, job = self.pending
                self.pending = None
            run = self._run()
            if run is None:  # the session is gone
                return
            try:
                run(gen, job)
            finally:
                del run
                with self.cv:
                    self.finished = max(self.finished, gen)
                    self.cv.notify_all()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cv:
            while self.finished < self.generation and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)
        return True

    def close(self, timeout: float = 30.0) -> None:
        with self.cv:
            self.closed = True
            self.cv.notify_all()
        t = self.thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)  # the pre-hook stops it at its next U-Net call


def _batched(dhs: Sequence[Callable[[int, Tensor], Tensor]]) -> Callable[[int, Tensor], Tensor]:
    """One dh for a batch whose sample i is edited by `dhs[i]`."""
    def dh(t: int, h: Tensor) -> Tensor:  # h (B, *h_shape)
        return torch.cat([d(t, h[i:i + 1]).expand(1, *h.shape[1:]) for i, d in enumerate(dhs)])
    return dh


class EditSession:
    """A face, the registry's methods and a worker thread: images of edits, previews first.

    Args:
        model: the diffusion model (None: the bundled faces model).
        probe: `images -> {attr: (n,)}` (None: `load_probe()`); reads every image and labels the
            supervised methods' faces.
        steps: DDIM steps of the full image (and the grid every method is fitted on).
        preview_steps: steps of the quick preview shown first (0 or >= steps: none).
        seed: the seed of every draw the methods make (`Workbench(seed=...)`).
        workbench: a `Workbench` to share (its model and steps must be these).
        faces_kept: how many faces' states stay cached.

    The blocking calls (`render`, `sweep`, `edit_size`, `face_state`) compute on the calling thread;
    `submit` hands a request to the worker, which calls `on_result(Result)` with each image (from
    its own thread) and keeps the last one in `latest`; `wait` blocks until the newest is done.
    """

    def __init__(self, model: Model | None = None, *, probe: Callable | None = None, steps: int = 20,
                 preview_steps: int = 5, seed: int = 0, workbench: Workbench | None = None, faces_kept: int = 8):
        if model is not None and not isinstance(model, Model):
            raise TypeError(f"model must be a latentlab Model (load_model(), tiny_model()) or None, got "
                            f"{type(model).__name__}")
        self.model = load_model() if model is None else model
        self.probe = load_probe() if probe is None else probe
        self.grid: list[int] = ddim_timesteps(self.model, steps).tolist()  # validates steps
        if isinstance(preview_steps, bool) or not isinstance(preview_steps, int) or preview_steps < 0:
            raise ValueError(f"preview_steps must be an integer >= 0 (0: no preview), got {preview_steps!r}")
        if isinstance(faces_kept, bool) or not isinstance(faces_kept, int) or faces_kept < 1:
            raise ValueError(f"faces_kept must be a positive integer, got {faces_kept!r}")
        if workbench is None:
            workbench = Workbench(self.model, probe=self.probe, steps=steps, seed=seed)
        elif not isinstance(workbench, Workbench) or workbench.model is not self.model or workbench.steps != steps:
            raise ValueError(f"workbench must be a Workbench of this model with steps={steps}")
        self.steps, self.workbench = steps, workbench
        self.preview_steps = preview_steps if 0 < preview_steps < steps else 0
        self.faces_kept = faces_kept
        self.face = Face()
        self.on_result: Callable[[Result], None] | None = None
        self.latest: Result | None = None
        self.timings: list[dict] = []  # per result: generation, stage, seconds since submit
        self._faces: dict[tuple, FaceState] = {}
        self._candidates: dict[tuple, dict[str, Candidate]] = {}
        self._lock = threading.Lock()  # guards the caches' dicts, held briefly
        self._fitting: dict[tuple, threading.Lock] = {}  # one fit per key at a time, different keys in parallel
        self._worker = _Worker(weakref.WeakMethod(self._run))
        self._finalizer = weakref.finalize(self, self._worker.close)  # at exit too (atexit)

    # ------------------------------------------------------------------ the registry, as the session offers it

    @staticmethod
    def targets(name: str) -> list[str] | list[int]:
        """What an Edit of method `name` may target: "attr -> goal" names (Asyrp: the shipped editors';
        the other "goal" methods: each attribute towards the top of its range), or direction indices.

        >>> EditSession.targets("Asyrp dh")[:2], EditSession.targets("random")
        (['glasses -> 1', 'glasses -> 0'], [0, 1, 2, 3, 4])
        """
        m = method(name)
        if m.sign == "both":
            s = m.settings  # k directions, or the random baseline's n_candidates / 2 draws
            return list(range(s["k"] if "k" in s else (s["n_candidates"] + 1) // 2))
        return [target_name(a, g) for a, g in goal_targets(name)]

    def candidate(self, edit: Edit) -> tuple[Candidate, float]:
        """The registry's candidate of an edit and the strength to use it at (fits the method once).

        A "both" method's c < 0 gives its '-' candidate at |c|. `edit.random` is ignored here.

        >>> import latentlab as ll
        >>> s = EditSession(ll.tiny_model(sample_size=32), probe=lambda x: {}, steps=2)
        >>> cand, c = s.candidate(Edit("random", 1, -0.5)); cand.label, c
        ('-r_2', 0.5)
        """
        m = method(edit.method)
        if m.sign == "goal":
            attr, goal = _parse_target(edit.target)
        else:  # a "both" method's directions do not depend on the attribute
            attr = next(iter(ATTRIBUTES))
            goal = ATTRIBUTES[attr][1]
        found = self._once(self._candidates, (edit.method, attr, goal),  # a slider move must not rebuild them
                           lambda: self.workbench.candidates(edit.method, attr, goal))
        if m.sign == "goal":
            if not found:
                raise ValueError(f"{edit.method} has no direction for {edit.target} on this model (the shipped "
                                 f"editors: {', '.join(self.targets(edit.method))}, for the bundled model)")
            return next(iter(found.values())), edit.strength
        sign = "-" if edit.strength < 0 else "+"
        same = [c for label, c in found.items() if label.startswith(sign)]
        if not 0 <= edit.target < len(same):
            raise ValueError(f"target must be a direction index from 0 to {len(same) - 1} for {edit.method}, "
                             f"got {edit.target}")
        return same[edit.target], abs(edit.strength)

    def defaults(self, name: str, target: str | int | None = None) -> tuple[int, bool]:
        """(t_edit, asymmetric) of method `name` as the registry sets them, on the session's grid
        (Asyrp: its editor's t_edit, so the target is needed).

        >>> import latentlab as ll
        >>> s = EditSession(ll.tiny_model(sample_size=32), probe=lambda x: {}, steps=4)
        >>> s.defaults("Haas PCA"), s.defaults("Park pullback (move)")
        ((0, False), (500, True))
        """
        m = method(name)
        if m.t_edit == "editor":
            cand, _ = self.candidate(Edit(name, target if target is not None else self.targets(name)[0], 1.0))
            return cand.t_edit, m.asymmetric
        return self.workbench.t_edit(m), m.asymmetric

    # ------------------------------------------------------------------ faces

    def face_state(self, face: Face | None = None) -> FaceState:
        """x_T, the unedited image, trajectory and readings of a face (default: `self.face`), cached."""
        face = self.face if face is None else face
        if not isinstance(face, Face):
            raise TypeError(f"face must be a Face, got {type(face).__name__}")
        state = self._once(self._faces, face.key, lambda: self._load(face))
        with self._lock:
            self._faces[face.key] = self._faces.pop(face.key, state)  # most recently used last
            while len(self._faces) > self.faces_kept:
                self._faces.pop(next(iter(self._faces)))
        return state

    def _once(self, store: dict, key: tuple, make: Callable):
        """`store[key]`, made once. A fit holds only its key's lock, so the widget's kernel thread never
        waits for the worker's fit of another method (a UI that froze for a PCA fit would be no UI)."""
        with self._lock:
            if key in store:
                return store[key]
            lock = self._fitting.setdefault((id(store), key), threading.Lock())
        with lock:
            with self._lock:
                if key in store:
                    return store[key]
            value = make()
            with self._lock:
                store[key] = value
            return value

    @torch.no_grad()
    def _load(self, face: Face) -> FaceState:
        shape = self.model.sample_shape
        device = next(self.model.unet.parameters()).device
        if face.image is None and face.attributes is None:
            x_T, clip = torch.randn((1, *shape), generator=torch.Generator().manual_seed(face.seed)).to(device), None
        else:
            if face.image is not None:
                image = load_image(face.image, shape[1:])[None]
            else:
                image = render_faces(1, seed=face.seed, size=shape[-1], **dict(face.attributes))[0]
            x_T, clip = ddim_invert(self.model, image.to(device), self.steps, progress=False), False
        hs: dict[int, Tensor] = {}
        x0, traj = ddim_sample(self.model, x_T, self.steps, clip=clip, return_trajectory=True, progress=False,
                               callback=lambda step: hs.__setitem__(step["t"], step["h"]))
        return FaceState(x_T, clip, x0, self._read(x0), dict(zip(self.grid, traj[:-1])), hs)

    def _read(self, x: Tensor) -> dict[str, float]:
        out = self.probe(x if x.dim() == 4 else x[None])
        return {a: float(out[a][0]) for a in ATTRIBUTES}

    # ------------------------------------------------------------------ edits resolved on a face

    def _dh(self, state: FaceState, edit: Edit) -> tuple[Callable[[int, Tensor], Tensor], Candidate]:
        """An h-space edit's `(t, h) -> dh` at its strength (a random one: the same norm at every step)."""
        cand, c = self.candidate(edit)
        dh = cand.dh(c)
        if edit.random is not None:
            norms = torch.stack([dh(t, state.h[t]).flatten().norm() for t in self.grid])
            dh = random_direction(self.grid, norms, generator=torch.Generator().manual_seed(edit.random),
                                  h_shape=self.model.h_shape)
        return dh, cand

    def _mover(self, state: FaceState, edit: Edit) -> tuple[Callable[[Tensor, bool], Tensor], Candidate]:
        """An x-space edit as `(x_t, preview) -> moved x_t`; the preview takes Park's guidance to first
        order (one step of n gamma: 2 U-Net evaluations instead of 2n)."""
        cand, c = self.candidate(edit)
        cand.v(state.x_T)  # the face's pullback: a fit, computed (and cached) before any move
        if edit.random is not None:
            g = torch.Generator().manual_seed(edit.random)
            v = torch.randn(self.model.sample_shape, generator=g)
            v = v / v.norm()
            cand = Candidate(cand.method, f"random like {cand.label}", self.workbench,
                             lambda x_T, v=v: v.to(x_T).expand_as(x_T), 1.0)
            c = edit.strength
        s = cand.method.settings
        quick = cand
        if "n" in s and "gamma" in s:  # guidance: n steps of gamma |c|
            quick = replace(cand, method=replace(cand.method, settings={**s, "n": 1, "gamma": s["gamma"] * s["n"]}))

        def move(x_t: Tensor, preview: bool) -> Tensor:
            return (quick if preview else cand).move(state.x_T, x_t, c, fused=True)
        return move, cand

    def _plan(self, state: FaceState, edits: Sequence[Edit], t_edit: int | None = None,
              asymmetric: bool | None = None) -> _Plan | None:
        """The request's edits on this face (None: every strength is 0, the original).

        Several h-space edits add their dh (`combine`); they share t_edit and asymmetric, by default the
        last edit's registry settings. An x-space edit stands alone."""
        for e in edits:
            if not isinstance(e, Edit):
                raise TypeError(f"edits must be Edit objects, got {type(e).__name__}")
        for e in edits:  # every edit is checked, strength 0 too: a bad target is an error at once
            self.candidate(replace(e, strength=1.0))
        edits = [e for e in edits if e.strength != 0.0]
        if not edits:
            return None
        alone = [e.method for e in edits if METHODS[e.method].space != "h"]
        if alone:
            if len(edits) > 1:
                raise ValueError(f"{', '.join(alone)} edits x_t once at t_edit or the U-Net's weights and cannot be "
                                 "combined with other edits (additivity is a claim about h): reset the combination "
                                 "or pick an h-space method")
            if t_edit is not None or asymmetric is not None:
                raise ValueError(f"{edits[0].method} edits at the registry's t_edit: t_edit and asymmetric "
                                 "apply to h-space methods only")
            if METHODS[edits[0].method].space == "w":
                if edits[0].random is not None:
                    raise ValueError(f"{edits[0].method} changes the U-Net's weights: there is no random edit of "
                                     "the same size in h or x_t to compare it with (random must be None)")
                cand, c = self.candidate(edits[0])
                return _Plan(cand.t_edit, True, weights=(cand, c))
            move, cand = self._mover(state, edits[0])
            return _Plan(cand.t_edit, True, move=move)
        resolved = [self._dh(state, e) for e in edits]
        cand = resolved[-1][1]
        t_default = cand.t_edit
        if t_edit is not None and (isinstance(t_edit, bool) or not isinstance(t_edit, int)
                                   or not 0 <= t_edit <= self.model.num_train_timesteps):
            raise ValueError(f"t_edit must be None or a timestep from 0 to {self.model.num_train_timesteps}, "
                             f"got {t_edit!r}")
        dhs = [d for d, _ in resolved]
        return _Plan(t_default if t_edit is None else t_edit,
                     cand.method.asymmetric if asymmetric is None else bool(asymmetric),
                     dh=dhs[0] if len(dhs) == 1 else combine(*dhs))

    def _image(self, state: FaceState, plan: _Plan, steps: int, preview: bool = False) -> Tensor | None:
        """The edited image `(1, C, H, W)` on a `steps` grid (None: x-space t_edit not on that grid)."""
        if plan.weights is not None:
            cand, c = plan.weights
            wb = self.workbench
            with wb.weights_lock:  # the slider goes into the workbench's copy of the U-Net, never self.model's
                return sample_with_slider(wb.weights_model, cand.direction, state.x_T, steps, scale=c * cand.sign,
                                          t_on=plan.t_edit, clip=state.clip)
        if plan.move is None:
            return ddim_sample(self.model, state.x_T, steps, dh=plan.dh, t_edit=plan.t_edit, asymmetric=plan.asymmetric,
                               clip=state.clip, fused=True, progress=False)
        if plan.t_edit not in ddim_timesteps(self.model, steps).tolist():
            return None
        moved = plan.move(state.x_t[plan.t_edit], preview)
        return ddim_sample(self.model, moved, steps, t_start=plan.t_edit, clip=state.clip, progress=False)

    # ------------------------------------------------------------------ blocking calls

    @torch.no_grad()
    def render(self, *edits: Edit, t_edit: int | None = None, asymmetric: bool | None = None,
               face: Face | None = None) -> Tensor:
        """The full edited image `(C, H, W)` of the edits (added in h), computed now on this thread.

        `t_edit` and `asymmetric` (h-space only) default to the last edit's registry settings; no
        edit, or strength 0 everywhere, gives the unedited image."""
        state = self.face_state(face)
        plan = self._plan(state, edits, t_edit, asymmetric)
        return state.x0[0] if plan is None else self._image(state, plan, self.steps)[0]

    @torch.no_grad()
    def sweep(self, edits: Sequence[Edit], face: Face | None = None) -> Tensor:
        """Each edit alone, as `render` makes it, batched: `(N, C, H, W)`.

        The h-space edits that share (t_edit, asymmetric) run as one `ddim_sample` (sample i edited by
        edit i); each x-space edit moves its x_t, then those with the same t_edit run one `ddim_sample`.

        >>> import latentlab as ll
        >>> probe = lambda x: {a: x.mean((1, 2, 3)) for a in ll.ATTRIBUTES}
        >>> s = EditSession(ll.tiny_model(sample_size=32), probe=probe, steps=2)
        >>> s.sweep([Edit("random", 0, c) for c in (-1.0, 0.0, 1.0)] + [Edit("random", 0, 1.0, random=3)]).shape
        torch.Size([4, 3, 32, 32])
        """
        state = self.face_state(face)
        out: list[Tensor | None] = [None] * len(edits)
        groups: dict[tuple, list[tuple[int, _Plan]]] = {}
        for i, e in enumerate(edits):
            plan = self._plan(state, [e])
            if plan is None:
                out[i] = state.x0[0]
            elif plan.weights is not None:  # one adapter scale per sampling run
                out[i] = self._image(state, plan, self.steps)[0]
            else:
                groups.setdefault((plan.move is None, plan.t_edit, plan.asymmetric), []).append((i, plan))
        for (h_space, t, asym), members in groups.items():
            idx = [i for i, _ in members]
            if h_space:
                x = ddim_sample(self.model, state.x_T.expand(len(idx), *state.x_T.shape[1:]), self.steps,
                                dh=_batched([p.dh for _, p in members]), t_edit=t, asymmetric=asym, clip=state.clip,
                                fused=True, progress=False)
            else:
                moved = torch.cat([p.move(state.x_t[t], False) for _, p in members])
                x = ddim_sample(self.model, moved, self.steps, t_start=t, clip=state.clip, progress=False)
            for i, xi in zip(idx, x):
                out[i] = xi
        return torch.stack(out) if out else torch.empty(0, *self.model.sample_shape)

    @torch.no_grad()
    def edit_size(self, edit: Edit, face: Face | None = None) -> float:
        """How far an edit moves the face: the median over its edited steps (t >= t_edit) of
        ||dh|| / ||h|| along the unedited trajectory (h-space), or ||dx|| / ||x_t|| at t_edit (x-space).

        >>> import latentlab as ll
        >>> probe = lambda x: {a: x.mean((1, 2, 3)) for a in ll.ATTRIBUTES}
        >>> s = EditSession(ll.tiny_model(sample_size=32), probe=probe, steps=2)
        >>> e = Edit("random", 0, 2.0)
        >>> round(s.edit_size(e) / s.edit_size(Edit("random", 0, 1.0)), 4)
        2.0
        >>> abs(s.edit_size(Edit("random", 0, 2.0, random=5)) / s.edit_size(e) - 1) < 1e-5  # the same size
        True
        """
        state = self.face_state(face)
        plan = self._plan(state, [edit])
        if plan is None:
            return 0.0
        if plan.weights is not None:
            raise ValueError(f"{edit.method} changes the U-Net's weights, not h or x_t: its size is not a norm of "
                             "an edit vector; compare the images' pixel change instead")
        if plan.move is not None:
            x = state.x_t[plan.t_edit]
            return float((plan.move(x, False) - x).norm() / x.norm())
        return statistics.median(float(plan.dh(t, state.h[t]).norm() / state.h[t].norm())
                                 for t in self.grid if t >= plan.t_edit)

    # ------------------------------------------------------------------ the worker

    def submit(self, edits: Sequence[Edit], *, face: Face | None = None, t_edit: int | None = None,
               asymmetric: bool | None = None) -> int:
        """Hand a request to the worker (newest wins); returns its generation. `face` becomes `self.face`."""
        if face is not None:
            if not isinstance(face, Face):
                raise TypeError(f"face must be a Face, got {type(face).__name__}")
            self.face = face
        return self._worker.submit(_Job(self.face, tuple(edits), t_edit, asymmetric, time.perf_counter()))

    def wait(self, timeout: float = 120.0) -> bool:
        """Block until the newest request's full image (or its error) is handed over; False on timeout."""
        return self._worker.wait(timeout)

    @property
    def generation(self) -> int:
        """The newest request's generation."""
        return self._worker.generation

    def close(self) -> None:
        """Stop the worker (at its next U-Net call) and join it; also done at exit."""
        self._finalizer()

    def _run(self, gen: int, job: _Job) -> None:
        """One request on the worker thread: errors become an "error" Result, stale work is dropped."""
        owner, fitting = threading.get_ident(), [True]
        worker = self._worker

        def cancel_point(module, args):  # every U-Net call of this thread (sampling, guidance, fits)
            if threading.get_ident() == owner and (worker.closed or (not fitting[0] and worker.stale(gen))):
                raise _Stale()

        handle = self.model.unet.register_forward_pre_hook(cancel_point)
        try:
            with torch.no_grad():
                self._compute(gen, job, fitting)
        except _Stale:
            pass
        except Exception as e:  # noqa: BLE001  every error becomes a message, never a traceback
            text = str(e) if isinstance(e, (ValueError, TypeError, FileNotFoundError)) else f"{type(e).__name__}: {e}"
            self._hand_over(gen, Result(gen, "error", job.edits, time.perf_counter() - job.time, message=text))
        finally:
            handle.remove()

    def _compute(self, gen: int, job: _Job, fitting: list[bool]) -> None:
        state = self.face_state(job.face)
        plan = self._plan(state, job.edits, job.t_edit, job.asymmetric)  # fits the methods once
        fitting[0] = False
        if self._worker.stale(gen):
            return
        if plan is None:
            self._show(gen, job, state, state.x0, "full", self.steps)
            return
        for steps in ([self.preview_steps] if self.preview_steps else []) + [self.steps]:
            x = self._image(state, plan, steps, preview=steps != self.steps)
            if x is not None:
                self._show(gen, job, state, x, "full" if steps == self.steps else "preview", steps)

    def _show(self, gen: int, job: _Job, state: FaceState, x: Tensor, stage: str, steps: int) -> None:
        readings = self._read(x)
        if not self._hand_over(gen, Result(gen, stage, job.edits, time.perf_counter() - job.time, steps,
                                           state.x_T[0], state.x0[0], x[0], state.readings, readings)):
            raise _Stale()

    def _hand_over(self, gen: int, result: Result) -> bool:
        """Give a result to `on_result` unless a newer request has arrived; False if stale."""
        if self._worker.stale(gen):
            return False
        self.timings.append({"generation": gen, "stage": result.stage, "seconds": result.seconds})
        self.latest = result
        if self.on_result is not None:
            self.on_result(result)
        return True
