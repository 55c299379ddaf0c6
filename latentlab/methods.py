"""The registry of direction-finding methods: each method's settings once, as data, and one way to edit.

Every caller (the comparison, the edit session behind the widget, the notebooks) asks this module:
`METHODS[name]` holds a method's paper settings (`Method`), `Workbench` fits what a method needs
once (trajectories, PCA, a reference face's Jacobians, per-face pullbacks) and hands out its
candidate directions for an attribute, and a `Candidate` edits any batch of faces at strength c.

| method | direction | edit |
|---|---|---|
| mean difference | h of faces above minus below the middle of the range | asymmetric, every step |
| paired | `paired_direction`: renders that differ in the attribute only | asymmetric, every step |
| Asyrp dh, Asyrp f | the shipped learned editors (Kwon et al. 2023) | asymmetric, t >= editor.t_edit |
| Haas PCA | +-(sigma_k(t) pc_k(t)) of h (Haas et al., FG 2024) | symmetric, every step |
| Haas Jacobian | +-(s_i(t) v_i) of d eps / dh at a reference face | symmetric, every step |
| Haas supervised | top minus bottom 10 %, the other attributes projected out | symmetric, every step |
| Park pullback (guidance) | +-v_i of each face's dh/dx_t at 0.6 T, x-space guidance | x_t moved once |
| Park pullback (move) | the same v_i, x_t + c alpha v_i | x_t moved once |
| Park transported | a reference face's u_i carried to each face (`transport`) | x_t moved once |
| LOCO Edit | v_1 of d x0_hat / dx_t inside the attribute's region, the outside's top 5 projected out | x_t moved once |
| SAE feature | the decoder direction of the feature of h that best detects the attribute | asymmetric, every step |
| LoRA slider | a low-rank adapter of the U-Net's weights, trained on paired renders | weights, t <= 0.8 T |
| random | Gaussian h-directions, unit norm at every step | asymmetric, every step |

References: Kwon et al., "Diffusion models already have a semantic latent space" (Asyrp, ICLR 2023);
Haas et al., "Discovering interpretable directions in the semantic latent space of diffusion models"
(arXiv 2303.11073, IEEE FG 2024);
Park et al., "Understanding the latent space of diffusion models through the lens of Riemannian
geometry" (NeurIPS 2023);
Chen et al., "Exploring low-dimensional subspaces in diffusion models for controllable image editing"
(LOCO Edit, NeurIPS 2024, arXiv 2409.02374);
Surkov et al., "Unpacking SDXL Turbo: interpreting text-to-image models with sparse autoencoders"
(arXiv 2410.22366), with the top-k autoencoder of Gao et al. (arXiv 2406.04093);
Gandikota et al., "Concept Sliders: LoRA adaptors for precise control in diffusion models" (ECCV 2024,
arXiv 2311.12092).

>>> METHODS["Haas PCA"].asymmetric, METHODS["Park pullback (guidance)"].t_edit
(False, 0.6)
"""
from __future__ import annotations

import copy
import hashlib
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

import torch
from torch import Tensor

from .asyrp import load_editor, shipped_editors
from .ddim import P_t, alpha_bar, ddim_sample, ddim_timesteps
from .directions import StepDirection, h_trajectory, mean_difference, paired_direction, random_direction
from .faces import ATTRIBUTES, REGIONS, check_goal
from .haas import jacobian_directions, pca_directions, supervised_direction
from .hspace import eps_of
from .jacobians import pullback
from .loco import LOCO_SETTINGS, face_mask, loco_directions, loco_edit
from .model import Model, check_x
from .park import transport, x_space_guidance
from .probe import Probe, load_probe
from .sae import SAE_SETTINGS, best_feature, feature_direction, load_sae
from .slider import SLIDER_SETTINGS, applied, load_slider, sample_with_slider, shipped_sliders

__all__ = ["Method", "METHODS", "THREE_PAPERS", "AFTER_THE_PAPERS", "method", "goal_targets", "Candidate",
           "Workbench", "towards", "above_middle", "nearest_timestep"]


@dataclass(frozen=True)
class Method:
    """One direction-finding method with its paper's settings.

    Attributes:
        name: the registry key.
        paper: where the method comes from.
        space: "h": a dh is added to h at every edited step; "x": x_t is moved once at `t_edit`, then
            plain DDIM continues; "w": the U-Net's weights are changed (a LoRA adapter at scale c).
        t_edit: as a fraction of T. "h": the edited steps are those with t >= t_edit T ("editor": the
            learned editor's own t_edit); "x": the grid timestep nearest t_edit T; "w": the adapter
            acts at the steps with t <= t_edit T (Concept Sliders leave the noisiest steps alone).
        asymmetric: "h" only: the edited eps goes into P_t only (Asyrp) or into both terms (Haas).
        unit: what strength c = 1 means.
        sign: how a direction's sign is fixed: "goal" (one candidate, pointing towards the goal) or
            "both" (no sign is meaningful: +d and -d are both candidates).
        per_attribute: whether the directions depend on the attribute (else one set serves all).
        settings: the method's own numbers (components, trajectories, guidance step, ...).
    """
    name: str
    paper: str
    space: Literal["h", "x", "w"]
    t_edit: float | Literal["editor"]
    asymmetric: bool
    unit: str
    sign: Literal["goal", "both"]
    per_attribute: bool
    settings: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line: the method and what c = 1 means."""
        return f"{self.name} ({self.paper}): c = 1 is {self.unit}"


_ASYRP = "Kwon et al. 2023 (Asyrp)"
_HAAS = "Haas et al. 2024"
_PARK = "Park et al. 2023"
_PARK_GUIDANCE = {"k": 3, "gamma": 0.1, "n": 16}  # Park et al.'s released step for the face model
_PARK_MOVE = {"k": 3, "alpha": 2.0}
_PARK_TRANSPORT = {**_PARK_GUIDANCE, "k_transport": 8}
_HAAS_JACOBIAN = {"k": 3, "unit": 100.0, "tol": 1e-2}
_HAAS_SUPERVISED = {"n_trajectories": 128, "top": 0.1}
_LOCO = LOCO_SETTINGS  # the units below quote each method's settings, so that they live once

METHODS: dict[str, Method] = {m.name: m for m in [
    Method("mean difference", "two-group mean of h, in Asyrp's asymmetric step", "h", 0.0, True,
           "the mean h of faces above the middle of the attribute's range minus that below, per timestep",
           "goal", True, {"n_trajectories": 128}),
    Method("paired", "renders that differ in one attribute (the faces world's ground truth)", "h", 0.0, True,
           "the mean change of h from the low to the high end of the range, per timestep", "goal", True,
           {"n_pairs": 64}),
    Method("Asyrp dh", _ASYRP, "h", "editor", True, "the learned dh_t of the shipped editor", "goal", True),
    Method("Asyrp f", _ASYRP, "h", "editor", True, "the learned f_t(h) of the shipped editor", "goal", True),
    Method("Haas PCA", _HAAS, "h", 0.0, False, "sigma_k(t) pc_k(t): one standard deviation of h along pc_k",
           "both", False, {"k": 5, "n_trajectories": 128}),
    Method("Haas Jacobian", _HAAS, "h", 0.0, False,
           f"{_HAAS_JACOBIAN['unit']:g} s_i(t) v_i: v_i of d eps / dh at the middle step of a reference face, "
           f"s_i(t) its singular values (0.01-0.5 on the bundled model, so {_HAAS_JACOBIAN['unit']:g} makes c = 1 "
           "about one PCA sigma)", "both", False, _HAAS_JACOBIAN),
    Method("Haas supervised", _HAAS, "h", 0.0, False,
           f"the mean h of the top minus the bottom {100 * _HAAS_SUPERVISED['top']:g} % of faces by the probe, the "
           "other attributes' directions projected out", "goal", True, _HAAS_SUPERVISED),
    Method("Park pullback (guidance)", _PARK, "x", 0.6, True,
           f"x-space guidance along the face's own unit v_i with step gamma = {_PARK_GUIDANCE['gamma']:g} "
           f"({_PARK_GUIDANCE['n']} steps); c scales gamma",
           "both", False, _PARK_GUIDANCE),
    Method("Park pullback (move)", _PARK, "x", 0.6, True, f"x_t + {_PARK_MOVE['alpha']:g} v_i with the face's own "
           "unit v_i", "both", False, _PARK_MOVE),
    Method("Park transported", _PARK, "x", 0.6, True,
           f"x-space guidance (gamma = {_PARK_GUIDANCE['gamma']:g}, {_PARK_GUIDANCE['n']} steps) along a reference "
           f"face's u_i carried to the face (`transport`, k = {_PARK_TRANSPORT['k_transport']}); c scales gamma",
           "both", False, _PARK_TRANSPORT),
    Method("LOCO Edit", "Chen et al. 2024 (LOCO Edit)", "x", LOCO_SETTINGS["t_edit"], True,
           f"x_t + {_LOCO['n_steps'] * _LOCO['step']:g} v_1 ({_LOCO['n_steps']} steps of {_LOCO['step']:g}, LOCO's "
           "settings) along the face's own unit v_1 of d x0_hat / dx_t in the attribute's region (mouth or "
           f"eyes), the outside's top {_LOCO['null_rank']} right singular vectors projected "
           "out; each face's sign set so that the probe reads x0_hat moving towards the goal",
           "goal", True, {k: LOCO_SETTINGS[k] for k in ("rank", "null_rank", "n_steps", "step")}),
    Method("SAE feature", "Surkov et al. 2024 (a top-k autoencoder of h)", "h", 0.0, True,
           "one typical firing of the feature: its decoder column times its mean activation map where it "
           "fires, per timestep (a visible edit needs c of 5 to 20)", "goal", True, dict(SAE_SETTINGS)),
    Method("LoRA slider", "Gandikota et al. 2024 (Concept Sliders)", "w", SLIDER_SETTINGS["t_on"] / 1000, True,
           f"the adapter of the shipped slider at scale 1 (rank {SLIDER_SETTINGS['rank']}), acting at "
           f"t <= {SLIDER_SETTINGS['t_on'] / 1000:g} T", "goal", True,
           {k: SLIDER_SETTINGS[k] for k in ("rank", "alpha")}),
    Method("random", "baseline", "h", 0.0, True, "a Gaussian h-direction of unit norm at every step", "both",
           False, {"n_candidates": 10}),
]}


#: The methods of the course's three papers (Asyrp; Haas et al.; Park et al.) with the faces world's two
#: supervised baselines: what lectures 03-10 compare (with the random baseline).
THREE_PAPERS: tuple[str, ...] = ("mean difference", "paired", "Asyrp dh", "Asyrp f", "Haas PCA", "Haas Jacobian",
                                 "Haas supervised", "Park pullback (guidance)", "Park pullback (move)",
                                 "Park transported")
#: What came after them: lecture 11.
AFTER_THE_PAPERS: tuple[str, ...] = ("LOCO Edit", "SAE feature", "LoRA slider")


def method(name: str) -> Method:
    """The registry entry `name`, or a clear error listing the methods.

    >>> method("paired").sign
    'goal'
    """
    if name not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {name!r}")
    return METHODS[name]


def goal_targets(name: str) -> list[tuple[str, float]]:
    """The (attribute, goal) pairs a "goal" method has a direction for: the shipped Asyrp editors' and
    sliders' (a slider serves both ends of its range), the attributes inside LOCO's regions (mouth,
    eyes), else every attribute towards the top of its range.

    >>> goal_targets("LOCO Edit")[:2]
    [('smile', 1.0), ('mouth_open', 1.0)]
    """
    m = method(name)
    if m.sign != "goal":
        raise ValueError(f"{name} is not a goal method: its targets are direction indices")
    if m.t_edit == "editor":
        kind = name.split()[-1]  # "Asyrp dh" -> "dh", as the Workbench reads it
        return [(a, g) for a, g, k in shipped_editors() if k == kind]
    if m.space == "w":
        return [(a, g) for a in shipped_sliders() for g in (ATTRIBUTES[a].high, ATTRIBUTES[a].low)]
    if name == "LOCO Edit":
        return [(a, ATTRIBUTES[a].high) for attrs in REGIONS.values() for a in attrs]
    return [(a, hi) for a, (lo, hi) in ATTRIBUTES.items()]


def towards(attr: str, goal: float) -> float:
    """+1 if `goal` lies in the upper half of `attr`'s range, else -1: the sign of a "goal" direction.

    >>> towards("smile", 1.0), towards("glasses", 0.0)
    (1.0, -1.0)
    """
    lo, hi = ATTRIBUTES[attr]
    return 1.0 if goal > (lo + hi) / 2 else -1.0


def above_middle(attr: str, readings: Tensor) -> Tensor:
    """The mean difference's labels: the faces whose reading lies above the middle of `attr`'s range
    (for glasses, a probability, that is P > 0.5).

    >>> above_middle("smile", torch.tensor([-0.5, 0.1, 0.6])).tolist()
    [False, True, True]
    """
    lo, hi = ATTRIBUTES[attr]
    return readings > (lo + hi) / 2


def nearest_timestep(grid: list[int], t: float) -> int:
    """The timestep of `grid` nearest `t`.

    >>> nearest_timestep([750, 500, 250, 0], 600)
    500
    """
    return min(grid, key=lambda g: abs(g - t))


_EDITS = {"h": "h (use dh())", "x": "x_t (use move())", "w": "the U-Net's weights (call the candidate)"}


def _face_key(x: Tensor) -> str:
    """A cache key for one face's x_T (its bytes), robust to tensors being freed and reused."""
    return hashlib.sha1(x.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


@dataclass
class Candidate:
    """One candidate direction of a method, ready to edit a batch of faces.

    `candidate(x_T, c) -> x_0` samples x_T edited at strength c with the method's settings (plain DDIM
    on the workbench's grid otherwise). For an h-space method, `dh(c)` is the `(t, h) -> dh` that
    `ddim_sample(dh=..., t_edit=..., asymmetric=...)` takes; for an x-space one, `move(x_T, x_t, c)`
    is the edited x_t at `t_edit`.
    """
    method: Method
    label: str
    bench: "Workbench" = field(repr=False)
    direction: Any = field(repr=False)  # h: (t, h) -> dh at c = 1; x: face -> unit v (see _v)
    sign: float = 1.0

    @property
    def t_edit(self) -> int:
        """The timestep the edit starts from ("h": every step with t >= t_edit; "x": the step moved;
        "w": the adapter acts at t <= t_edit)."""
        return self.bench.t_edit(self.method, self.direction)

    def dh(self, c: float = 1.0) -> Callable[[int, Tensor], Tensor]:
        """The h-space edit at strength c: `(t, h) -> c * sign * d(t, h)`."""
        if self.method.space != "h":
            raise ValueError(f"{self.method.name} edits {_EDITS[self.method.space]}, not h")
        d, s = self.direction, c * self.sign
        if isinstance(d, StepDirection):
            return s * d
        return lambda t, h: s * d(t, h)

    def v(self, x_T: Tensor) -> Tensor:
        """x-space methods: each face's unit direction at t_edit, `(B, C, H, W)`, signed."""
        if self.method.space != "x":
            raise ValueError(f"{self.method.name} edits {_EDITS[self.method.space]}, not x_t")
        return self.sign * self.direction(x_T)

    def move(self, x_T: Tensor, x_t: Tensor, c: float, *, fused: bool = False) -> Tensor:
        """x-space methods: x_t at t_edit moved with strength c (Park et al.'s guidance or a step)."""
        s = self.method.settings
        v = self.v(x_T).to(x_t)
        if self.method.name == "Park pullback (move)":
            return x_t + c * s["alpha"] * v
        if self.method.name == "LOCO Edit":
            return loco_edit(x_t, v, c, n_steps=s["n_steps"], step=s["step"])
        if c == 0:
            return x_t
        return x_space_guidance(self.bench.model, x_t, self.t_edit, math.copysign(1.0, c) * v,
                                gamma=s["gamma"] * abs(c), n=s["n"], fused=fused)

    def __call__(self, x_T: Tensor, c: float, **sample_options) -> Tensor:
        b = self.bench
        x, single = check_x(b.model, x_T, "x_T")
        if self.method.space == "w":
            with b.weights_lock:  # the adapter is injected into the workbench's own copy of the U-Net
                out = sample_with_slider(b.weights_model, self.direction, x, b.steps, scale=c * self.sign,
                                         t_on=self.t_edit, **sample_options)
        elif self.method.space == "h":
            out = ddim_sample(b.model, x, b.steps, dh=self.dh(c), t_edit=self.t_edit,
                              asymmetric=self.method.asymmetric, progress=False, **sample_options)
        else:
            x_t = b.x_t(x, self.t_edit)
            out = ddim_sample(b.model, self.move(x, x_t, c), b.steps, t_start=self.t_edit, progress=False,
                              **sample_options)
        return out[0] if single else out


class Workbench:
    """Fits each method once on a model and hands out its candidates for an attribute and goal.

    What a method fits on many faces (trajectories and their probe readings, the PCA, a reference
    face's Jacobian directions, paired renders) is computed once per workbench; what it computes per
    face (x_t at t_edit, Park's pullback) is cached per face by the bytes of its x_T.

    Args:
        model: the diffusion model. probe: the instrument that labels faces for the supervised methods
            (default: the shipped probe). steps: the DDIM grid every edit samples on. seed: the seed of
            every draw the methods make (trajectories, reference faces, random directions).

    >>> from latentlab import tiny_model
    >>> wb = Workbench(tiny_model(), steps=2, seed=0)
    >>> sorted(wb.candidates("random", "smile", 1.0, n=2))
    ['+r_1', '-r_1']
    """

    def __init__(self, model: Model, *, probe: Probe | None = None, steps: int = 20, seed: int = 0,
                 progress: bool = False):
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        self.model, self.steps, self.seed, self.progress = model, steps, seed, progress
        self._probe = probe
        self.grid: list[int] = ddim_timesteps(model, steps).tolist()
        self._cache: dict = {}
        self.weights_lock = threading.Lock()  # held while a slider is injected into `weights_model`
        self._copy_lock = threading.Lock()
        self._weights_model: Model | None = None

    @property
    def weights_model(self) -> Model:
        """A copy of the model for the weight-space methods (a LoRA slider is injected into its U-Net while
        it samples), so that the model itself never changes under another thread's sampling."""
        with self._copy_lock:
            if self._weights_model is None:
                self._weights_model = copy.deepcopy(self.model)
        return self._weights_model

    @property
    def probe(self) -> Probe:
        if self._probe is None:
            self._probe = load_probe()
        return self._probe

    def generator(self, offset: int) -> torch.Generator:
        """The workbench's generator number `offset` (each fitted thing draws from its own)."""
        return torch.Generator().manual_seed(self.seed * 1000 + offset)

    def t_edit(self, m: Method, direction: Any = None) -> int:
        """The grid timestep a method edits from (see `Method.t_edit`)."""
        if m.t_edit == "editor":
            return int(direction.t_edit)
        return nearest_timestep(self.grid, m.t_edit * self.model.num_train_timesteps) if m.t_edit else 0

    # ------------------------------------------------------------------ what methods fit once

    def _once(self, key, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def trajectories(self):
        """`(HTrajectory, readings)`: plain DDIM trajectories of `n_trajectories` faces and the probe's readings."""
        def make():
            n = METHODS["mean difference"].settings["n_trajectories"]
            x = torch.randn(n, *self.model.sample_shape, generator=self.generator(1))
            tr = h_trajectory(self.model, x, self.steps, progress=self.progress)
            with torch.no_grad():
                return tr, {a: v.float() for a, v in self.probe(tr.x0).items()}
        return self._once("trajectories", make)

    def x_t(self, x_T: Tensor, t: int) -> Tensor:
        """Each face's x_t at grid timestep t on its plain DDIM trajectory (cached per face; t = -1: x_0)."""
        if t != -1 and t not in self.grid:
            raise ValueError(f"t must be a timestep of the workbench's grid {self.grid} or -1 (x_0), got {t!r}")
        missing = [k for k, key in enumerate(map(_face_key, x_T)) if ("x_t", t, key) not in self._cache]
        if missing:  # one sampler run keeps every step of these faces (LOCO asks for x_t and x_0 alike)
            x0, xs = ddim_sample(self.model, x_T[missing], self.steps, return_trajectory=True, progress=False)
            xs = list(xs[:len(self.grid)]) + [x0]
            for j, k in enumerate(missing):
                key = _face_key(x_T[k])
                for step, x in zip(self.grid + [-1], xs):
                    self._cache[("x_t", step, key)] = x[j]
        return torch.stack([self._cache[("x_t", t, _face_key(x))] for x in x_T])

    def pullbacks(self, x_T: Tensor, t: int, k: int) -> list:
        """Park et al.'s pullback SVD (k vectors) of each face at t (cached per face)."""
        x_t = self.x_t(x_T, t)
        out = []
        for x, xt in zip(x_T, x_t):
            key = ("pullback", t, k, _face_key(x))
            if key not in self._cache:
                self._cache[key] = pullback(self.model, xt, t, k, seed=self.seed)
            out.append(self._cache[key])
        return out

    def reference_pullback(self, t: int, k: int):
        """The pullback of the reference face (the workbench's own draw), which fixes Park's signs."""
        x = torch.randn(1, *self.model.sample_shape, generator=self.generator(3))
        return self.pullbacks(x, t, k)[0]

    # ------------------------------------------------------------------ candidates

    def candidates(self, name: str, attr: str, goal: float, *, n: int | None = None) -> dict[str, Candidate]:
        """The candidates of method `name` for pushing `attr` towards `goal`, by label.

        A "goal" method offers one candidate pointing towards the goal; a "both" method offers +d and
        -d for each of its directions. An Asyrp method offers nothing for an attribute and goal that no
        shipped editor was trained for (an empty dict). `n`: the number of candidates of the random
        baseline (default: its registry setting), so it can be matched to the method it is tested
        against; an odd n leaves the last draw with one sign.
        """
        m = method(name)
        if attr not in ATTRIBUTES:
            raise ValueError(f"attr must be one of {', '.join(ATTRIBUTES)}, got {attr!r}")
        check_goal(attr, goal)
        if n is not None and name != "random":
            raise ValueError(f"n sets the number of candidates of the random baseline only, not of {name!r}")
        build = getattr(self, "_" + name.replace(" ", "_").replace("(", "").replace(")", ""))
        out = build(m, attr, goal) if name != "random" else build(m, attr, goal, n)
        return {label: Candidate(m, label, self, d, s) for label, (d, s) in out.items()}

    def _both(self, prefix: str, directions: list) -> dict:
        return {f"{s}{prefix}_{i + 1}": (d, sign) for i, d in enumerate(directions)
                for s, sign in (("+", 1.0), ("-", -1.0))}

    def _mean_difference(self, m, attr, goal):
        tr, readings = self.trajectories()
        d = StepDirection(tr.timesteps, mean_difference(tr.h, above_middle(attr, readings[attr])))
        return {"mean difference": (d, towards(attr, goal))}

    def _paired(self, m, attr, goal):
        d = self._once(("paired", attr), lambda: paired_direction(self.model, attr, self.steps,
                                                                  n=m.settings["n_pairs"], seed=self.seed))
        return {"paired": (d, towards(attr, goal))}

    def _asyrp(self, m, attr, goal):
        kind = m.name.split()[1]
        if (attr, float(goal), kind) not in shipped_editors():
            return {}
        ed = self._once(("editor", attr, float(goal), kind), lambda: load_editor(attr, goal, kind))
        if ed.h_shape != tuple(self.model.h_shape):  # the shipped editors belong to the bundled model
            return {}
        return {f"editor {kind}": (ed, 1.0)}

    _Asyrp_dh = _Asyrp_f = _asyrp

    def _Haas_PCA(self, m, attr, goal):
        pcs = self._once("pca", lambda: pca_directions(self.model, None, self.steps, m.settings["k"],
                                                       trajectory=self.trajectories()[0], progress=False))
        return self._both("pc", [pcs.direction(i) for i in range(pcs.k)])

    def _Haas_Jacobian(self, m, attr, goal):
        s = m.settings

        def make():
            x = torch.randn(*self.model.sample_shape, generator=self.generator(2))
            return jacobian_directions(self.model, x, self.steps, s["k"], t_index=len(self.grid) // 2,
                                       tol=s["tol"], progress=self.progress)
        jd = self._once("jacobian", make)
        return self._both("v", [jd.direction(i, s["unit"]) for i in range(jd.k)])

    def _Haas_supervised(self, m, attr, goal):
        tr, readings = self.trajectories()
        top = m.settings["top"]

        def fit():  # every attribute's own direction, once: each one projects out the others'
            return {a: supervised_direction(tr.h, readings[a], top=top) for a in ATTRIBUTES}
        dirs = self._once("supervised", fit)
        d = self._once(("supervised", attr), lambda: supervised_direction(
            tr.h, readings[attr], top=top, project_out=[dirs[a] for a in ATTRIBUTES if a != attr]))
        return {"supervised": (StepDirection(tr.timesteps, d), towards(attr, goal))}

    def _park_v(self, i: int, k: int) -> Callable[[Tensor], Tensor]:
        """Face -> its own v_i at t_edit, the sign aligned through h with the reference face's u_i."""
        t = self.t_edit(METHODS["Park pullback (guidance)"])

        def v(x_T: Tensor) -> Tensor:
            u_ref = self.reference_pullback(t, k).U[i]
            return torch.stack([s.V[i] * torch.sign((s.U[i] * u_ref).sum()) for s in self.pullbacks(x_T, t, k)])
        return v

    def _Park_pullback_guidance(self, m, attr, goal):
        return self._both("v", [self._park_v(i, m.settings["k"]) for i in range(m.settings["k"])])

    _Park_pullback_move = _Park_pullback_guidance

    def _Park_transported(self, m, attr, goal):
        t, k, kt = self.t_edit(m), m.settings["k"], m.settings["k_transport"]

        def u_to_v(i: int) -> Callable[[Tensor], Tensor]:
            def v(x_T: Tensor) -> Tensor:
                u = self.reference_pullback(t, k).U[i]
                return torch.stack([transport(u, s) for s in self.pullbacks(x_T, t, kt)])
            return v
        return self._both("u", [u_to_v(i) for i in range(k)])

    def _LOCO_Edit(self, m, attr, goal):
        region = next((r for r, attrs in REGIONS.items() if attr in attrs), None)
        if region is None:  # LOCO edits a region; the faces world has masks for the mouth and the eyes
            return {}
        return {f"v_1 ({region})": (self._loco_v(attr, goal, region), 1.0)}

    def _loco_v(self, attr: str, goal: float, region: str) -> Callable[[Tensor], Tensor]:
        """Face -> its own LOCO v_1 at t_edit in `region`, signed so that the probe reads the edited
        x0_hat nearer the goal (LOCO's authors look at the edit and keep the sign they want)."""
        m = METHODS["LOCO Edit"]
        t, s = self.t_edit(m), m.settings

        def one(x_T: Tensor) -> Tensor:
            key = ("loco", attr, float(goal), t, _face_key(x_T))
            if key not in self._cache:
                x0, x_t = self.x_t(x_T[None], -1), self.x_t(x_T[None], t)
                mask = face_mask(self.probe, x0, region)[0]
                v = loco_directions(self.model, x_t, t, mask, rank=s["rank"], null_rank=s["null_rank"],
                                    seed=self.seed).V[0]
                moved = torch.cat([loco_edit(x_t, v, c, n_steps=s["n_steps"], step=s["step"]) for c in (1.0, -1.0)])
                with torch.no_grad():
                    x0_hat = P_t(moved, eps_of(self.model, moved, t), alpha_bar(self.model, t)).clamp(-1, 1)
                    read = self.probe(x0_hat)[attr].float()
                self._cache[key] = v if (read[0] - read[1]) * towards(attr, goal) >= 0 else -v
            return self._cache[key]
        return lambda x_T: torch.stack([one(x) for x in x_T])

    def _SAE_feature(self, m, attr, goal):
        sae = self._once("sae", load_sae)
        if sae.h_shape != tuple(self.model.h_shape):  # the shipped autoencoder belongs to the bundled model
            return {}
        i, sign = best_feature(attr, goal)
        return {f"feature {i}": (feature_direction(sae, i), sign)}

    def _LoRA_slider(self, m, attr, goal):
        if attr not in shipped_sliders():
            return {}
        slider = self._once(("slider", attr), lambda: load_slider(attr))
        try:
            with self.weights_lock, applied(self.weights_model, slider, 0.0):
                pass
        except ValueError:  # the shipped sliders fit the bundled model's U-Net only
            return {}
        return {f"slider {attr}": (slider, towards(attr, goal))}

    def _random(self, m, attr, goal, n):
        n = m.settings["n_candidates"] if n is None else n
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive number of candidates, got {n!r}")
        draws = [random_direction(self.grid, torch.ones(len(self.grid)), generator=self.generator(100 + i),
                                  h_shape=self.model.h_shape) for i in range((n + 1) // 2)]
        out = self._both("r", draws)
        return dict(list(out.items())[:n])

