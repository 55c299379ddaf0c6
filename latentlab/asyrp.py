"""Asyrp's learned editors: a dh per timestep, or the implicit function f_t(h), trained with the probe.

Kwon et al. learn dh with CLIP's directional loss on `P_t(eps_edit)`; the kit knows its faces'
attributes exactly, so the attribute probe takes CLIP's place: the loss is the probe's distance
from the goal on `P_t(eps_edit)` plus `l1 * mean|P_t(eps_edit) - P_t(eps)|` (their reconstruction
term). A CLIP loss would plug in at `_attribute_loss`: the directional cosine between the change
of CLIP image embeddings and the text direction, on the same `P_t` pair. That cosine also
punishes changes in directions other than the text's; a goal on one attribute does not, so
`keep` adds the other attributes' mean |change| (the probe reads them all) as that part.

Only the editor trains; the U-Net is frozen. Along DDIM trajectories from fresh noise, one
optimiser step per timestep `t >= t_edit`, `x_t` detached, the trajectory itself continuing with
the asymmetric edited step (Asyrp's asymmetric reverse process), as the editor will be used.

    python -m latentlab.asyrp --attr smile --goal 1 --kind f --out data/editors/smile+1_f

References
- Kwon, Jeong & Uh (2023), "Diffusion Models Already Have A Semantic Latent Space", ICLR: the
  asymmetric reverse process, the implicit function f_t ("DeltaBlock" in their code), Sec. 4
  (t_edit by LPIPS(x0, P_t), t_boost by LPIPS(x_t, x0)).
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import get_timestep_embedding
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from tqdm.auto import tqdm

from .ddim import P_t, alpha_bar, ddim_sample, ddim_step, ddim_timesteps, eps_from_output
from .directions import StepDirection, interpolate_timesteps
from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, check_goal, render_faces
from .hspace import eps_of_batch
from .model import Model, check_x, pixels_of
from .probe import Probe, load_probe
from .scale import all_mean_, shard, world

__all__ = ["DeltaBlock", "Editor", "EditorConfig", "train_editor", "load_editor", "save_editor", "shipped_editors",
           "edit_interval", "mean_dh", "global_dh"]

EDITORS_DIR = Path(__file__).resolve().parent.parent / "data" / "editors"
KINDS = ("f", "dh")


class DeltaBlock(nn.Module):
    """Asyrp's implicit function f_t(h): 1x1 conv + projected SiLU(time embedding), GroupNorm, SiLU, 1x1 conv.

    The last convolution starts at zero, so a fresh editor changes nothing (dh = 0).

    >>> f = DeltaBlock(16)
    >>> f(torch.randn(2, 16, 4, 4), torch.tensor([500, 600])).abs().max().item()
    0.0
    """

    def __init__(self, channels: int, temb_dim: int = 64):
        super().__init__()
        self.temb_dim = temb_dim
        self.conv_in = nn.Conv2d(channels, channels, 1)
        self.temb = nn.Linear(temb_dim, channels)
        groups = math.gcd(channels, 32)
        self.norm = nn.GroupNorm(groups, channels)
        self.conv_out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, h: Tensor, t: Tensor) -> Tensor:  # h (B, C, H, W), t (B,)
        emb = get_timestep_embedding(t.to(h.device), self.temb_dim).to(h.dtype)
        z = self.conv_in(h) + self.temb(F.silu(emb))[:, :, None, None]
        return self.conv_out(F.silu(self.norm(z)))


@dataclass
class EditorConfig:
    """One editor's training recipe (defaults: under 2 minutes on 2 CPU cores for the bundled model)."""
    attr: str = "smile"
    goal: float = 1.0
    kind: str = "f"  # "f": the implicit function f_t(h); "dh": one raw learned dh per timestep
    steps: int = 20  # the DDIM grid trained on (the editor interpolates between its timesteps)
    # train and edit at t >= t_edit: smile is decided late (t_edit 400: 0.86 of faces moved the right way, 200: 0.98)
    t_edit: int = 200
    trajectories: int = 40  # each gives one optimiser step per timestep t >= t_edit (12 at the defaults)
    batch: int = 8
    lr: float | None = None  # None: 0.05 for "dh", 2e-3 for "f"
    l1: float = 3.0  # weight of mean|P_t(eps_edit) - P_t(eps)| (Asyrp's reconstruction term)
    keep: float = 0.0  # weight of the other attributes' mean |change| (what CLIP's directional loss penalises)
    temb_dim: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        check_goal(self.attr, self.goal)
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("steps", "trajectories", "batch", "temb_dim"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be None or a number > 0, got {self.lr!r}")

    @classmethod
    def tiny(cls, **kw) -> "EditorConfig":
        return cls(**{"steps": 4, "t_edit": 0, "trajectories": 2, "batch": 2, "temb_dim": 8, **kw})


class Editor(nn.Module):
    """A learned Asyrp edit, a callable `(t, h) -> dh` valid at every timestep of the schedule.

    `kind="f"`: dh = f_t(h) (depends on the sample); `kind="dh"`: one learned dh per timestep of the
    training grid, interpolated between them. Use it as `ddim_sample(model, x_T, dh=editor,
    t_edit=editor.t_edit)`; scale it with `ddim_sample(..., dh=lambda t, h: c * editor(t, h))`.
    """

    def __init__(self, config: EditorConfig, h_shape: tuple[int, int, int], timesteps: Tensor):
        super().__init__()
        self.config, self.h_shape = config, tuple(h_shape)
        self.register_buffer("timesteps", torch.as_tensor(timesteps).long().clone(), persistent=False)  # in config.json
        if config.kind == "f":
            self.f = DeltaBlock(h_shape[0], config.temb_dim)
        else:
            self.dh = nn.Parameter(torch.zeros(len(self.timesteps), *h_shape))

    attr = property(lambda self: self.config.attr)
    goal = property(lambda self: self.config.goal)
    kind = property(lambda self: self.config.kind)
    t_edit = property(lambda self: self.config.t_edit)

    def forward(self, t: int | Tensor, h: Tensor) -> Tensor:
        if tuple(h.shape[-3:]) != self.h_shape:
            raise ValueError(f"h must have shape (B, {', '.join(map(str, self.h_shape))}), got {tuple(h.shape)}")
        hb = h if h.dim() == 4 else h[None]
        own = next(self.parameters()).dtype  # an editor trains in float32; a half-precision U-Net gets its dtype back
        if self.kind == "dh":
            if isinstance(t, Tensor) and t.dim() > 0:
                if not (t == t.flatten()[0]).all():
                    raise ValueError(f"t must be one timestep for a raw-dh editor (an int or equal entries), "
                                     f"got {t.unique().tolist()[:5]}")
                t = t.flatten()[0]
            d = interpolate_timesteps(self.timesteps, self.dh, int(t)).to(hb)
            out = d.expand_as(hb)
        else:
            tb = (
                torch.as_tensor(t, device=hb.device).long().expand(hb.shape[0])
                if not isinstance(t, Tensor) or t.dim() == 0 else t
            )
            out = self.f(hb.to(own), tb).to(hb.dtype)
        return out if h.dim() == 4 else out[0]

    def extra_repr(self) -> str:
        return f"attr={self.attr!r}, goal={self.goal}, kind={self.kind!r}, t_edit={self.t_edit}"


def _attribute_loss(readings: dict[str, Tensor], attr: str, goal: float) -> Tensor:
    """The probe's distance from the goal: L1 in units of the range, or BCE for glasses."""
    value = readings[attr]
    if attr in BINARY_ATTRIBUTES:
        return F.binary_cross_entropy(value.clamp(1e-6, 1 - 1e-6), torch.full_like(value, float(goal)))
    lo, hi = ATTRIBUTES[attr]
    return (value - goal).abs().mean() / (hi - lo)


def _keep_loss(edited: dict[str, Tensor], unedited: dict[str, Tensor], attr: str) -> Tensor:
    """Mean |change| of every other attribute, each in units of its range."""
    return torch.stack([(edited[k] - unedited[k]).abs().mean() / (hi - lo)
                        for k, (lo, hi) in ATTRIBUTES.items() if k != attr]).mean()


def train_editor(model: Model, attr: str = "smile", goal: float = 1.0, kind: str = "f", *, probe: Probe | None = None,
                 loss: Callable[[Tensor, Tensor], Tensor] | None = None, progress: bool = True,
                 history: list | None = None, **options) -> Editor:
    """Asyrp's training of an editor (Kwon et al. 2023) with the probe in CLIP's place.

    Works on any model `load_model` gives: the editor trains in float32 whatever the U-Net's dtype
    (float64 for a float64 model),
    on the U-Net's device; a latent model's `P_t` goes through its VAE (`pixels_of`, which needs
    `model.vae`) before the probe or `loss` sees it. Under `accelerate launch` on several processes
    the batch is shared out (`batch` must divide by the number of processes) and the gradients are
    averaged before every step, so every process holds the editor the one-process run trains.

    Args:
        model: the diffusion model (frozen). attr, goal: the attribute and the value to push it to.
        kind: "f" (the implicit function) or "dh" (raw dh per timestep).
        probe: the attribute probe (default `load_probe()`).
        loss: replaces the probe's attribute loss: `loss(edited, unedited) -> scalar`, on the edited
            and unedited `P_t` as images in [-1, 1] (e.g. a CLIP directional loss for a real checkpoint);
            it must be a mean over the batch for the data-parallel run to equal the one-process run.
        history: if a list, gets one dict per optimiser step (`t`, `loss`, `attr_loss`, `l1`).
        **options: fields of `EditorConfig` (steps, t_edit, trajectories, batch, lr, l1, seed, ...).

    >>> from latentlab import tiny_model
    >>> from latentlab.probe import ProbeConfig
    >>> m = tiny_model(sample_size=32)
    >>> ed = train_editor(m, "smile", 1.0, "dh", probe=Probe(ProbeConfig.tiny()), progress=False,
    ...                   steps=4, t_edit=0, trajectories=1, batch=2)
    >>> ed(500, torch.zeros(2, *m.h_shape)).shape
    torch.Size([2, 16, 16, 16])
    """
    if {"attr", "goal", "kind"} & set(options):
        raise TypeError("give attr, goal and kind as arguments, not in options")
    cfg = EditorConfig(attr=attr, goal=goal, kind=kind, **options)
    T = model.num_train_timesteps
    if isinstance(cfg.t_edit, bool) or not isinstance(cfg.t_edit, int) or not 0 <= cfg.t_edit < T:
        raise ValueError(f"t_edit must be an integer timestep in [0, {T - 1}], got {cfg.t_edit!r}")
    grid = ddim_timesteps(model, cfg.steps)
    train_ts = grid[grid >= cfg.t_edit]
    if len(train_ts) == 0:
        raise ValueError(f"t_edit={cfg.t_edit} leaves no step of the {cfg.steps}-step grid to train on "
                         f"(largest t {grid[0].item()})")
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be None (the probe's attribute loss) or a callable (edited, unedited) -> loss, "
                        f"got {type(loss).__name__}")
    rank, size = world()
    if cfg.batch % size:
        raise ValueError(f"batch must divide by the number of processes to be shared out equally: batch={cfg.batch}, "
                         f"{size} processes")
    probe = (load_probe() if probe is None else probe) if loss is None or cfg.keep else probe
    device = model.device
    if probe is not None:
        probe.to(device)
    work = torch.promote_types(model.dtype, torch.float32)  # float32, or float64 for a float64 model (checks)
    editor = Editor(cfg, model.h_shape, train_ts).to(device=device, dtype=work)
    lr = cfg.lr if cfg.lr is not None else (0.05 if kind == "dh" else 2e-3)
    opt = torch.optim.Adam(editor.parameters(), lr=lr)
    g = torch.Generator().manual_seed(cfg.seed)
    frozen = [model.unet] + ([probe] if probe is not None else []) + ([model.vae] if model.vae is not None else [])
    was_trainable = [[p.requires_grad for p in m.parameters()] for m in frozen]
    for m in frozen:
        m.requires_grad_(False)
    bar = tqdm(total=cfg.trajectories * len(train_ts), disable=not progress or rank > 0,
               desc=f"{attr}->{goal:g} ({kind})")
    try:
        for _ in range(cfg.trajectories):
            # every process draws the whole batch from the same generator, then keeps its share
            x = shard(torch.randn(cfg.batch, *model.sample_shape, generator=g)).to(device=device, dtype=model.dtype)
            for t in train_ts.tolist():
                a_t = alpha_bar(model, t)
                tb = torch.full((len(x),), t, dtype=torch.long, device=device)
                record: list[Tensor] = []
                with torch.no_grad():
                    eps = eps_from_output(model, eps_of_batch(model, x, tb, record=record), x, t)
                h = record[0]
                dh = editor(t, h)
                eps_edit = eps_from_output(model, eps_of_batch(model, x, tb, dh), x, t)
                p_edit, p = P_t(x, eps_edit, a_t), P_t(x, eps, a_t)
                # the losses in float32 (at least) on images: through the VAE for a latent model
                img_edit = pixels_of(model, p_edit).to(work)
                with torch.no_grad():
                    img = pixels_of(model, p).to(work)
                readings = probe(img_edit) if probe is not None else None
                attr_loss = _attribute_loss(readings, attr, goal) if loss is None else loss(img_edit, img)
                l1 = (p_edit.to(work) - p.to(work)).abs().mean()
                total = attr_loss + cfg.l1 * l1
                if cfg.keep:
                    with torch.no_grad():
                        unedited = probe(img)
                    total = total + cfg.keep * _keep_loss(readings, unedited, attr)
                opt.zero_grad(set_to_none=True)
                total.backward()
                all_mean_(p.grad for p in editor.parameters())  # data-parallel: the full batch's gradient
                opt.step()
                with torch.no_grad():  # continue the trajectory as sampling will: the asymmetric edited step
                    t_prev = t - model.num_train_timesteps // cfg.steps  # diffusers' rule, as ddim_sample
                    x, _ = ddim_step(model, x, t, t_prev, eps, eps_edit.detach())
                if history is not None or progress:
                    logged = torch.stack([total.detach(), attr_loss.detach(), l1.detach()]).to(work)
                    all_mean_([logged])
                if history is not None:
                    history.append({"t": t, "loss": logged[0].item(), "attr_loss": logged[1].item(),
                                    "l1": logged[2].item()})
                bar.update()
                if progress:
                    bar.set_postfix(loss=f"{logged[0].item():.3f}")
    finally:
        bar.close()
        for m, flags in zip(frozen, was_trainable):
            for p, r in zip(m.parameters(), flags):
                p.requires_grad_(r)
    return editor.eval()


@torch.no_grad()
def edit_interval(model: Model, x_T: Tensor, steps: int = 20, *, probe: Probe | None = None,
                  edit_threshold: float = 0.33, boost_threshold: float = 1.2, n_pairs: int = 256) -> dict:
    """Asyrp's rule for t_edit and t_boost (Kwon et al. 2023, Sec. 4), with the probe's features in LPIPS's place.

    Asyrp picks t_edit as the first t (from 0 up) where LPIPS(x_0, P_t) reaches 0.33 (times the CLIP
    similarity of the two texts, about 1 for their edits) and t_boost as the first t where
    LPIPS(x_t, x_0) reaches 1.2. LPIPS is a distance between a trained network's features; the kit's
    trained network is the probe, so the stand-in is the distance between probe features divided by
    the median distance between two independent renders (so 1 means "as far apart as two different
    faces"). The thresholds are Asyrp's; the scale is ours, so treat the result as a starting point
    and check it with the edit-strength sweep (`latentlab.metrics.sweep`).

    Returns:
        `{"timesteps", "d_P", "d_x", "t_edit", "t_boost"}`: per grid timestep (descending) the median
        normalised distance of P_t and of x_t from the final x_0, and the chosen timesteps (0 where
        the distance never reaches its threshold: then edit at every step, or never boost).
    """
    probe = load_probe() if probe is None else probe
    xb, _ = check_x(model, x_T, "x_T")
    rec: list[tuple[Tensor, Tensor]] = []
    x0 = ddim_sample(model, xb, steps, progress=False, callback=lambda d: rec.append((d["P_t"], d["x"])))
    size = model.sample_shape[-1]
    r1 = render_faces(n_pairs, seed=101, size=size)[0]
    r2 = render_faces(n_pairs, seed=202, size=size)[0]
    scale = (probe.features(r1) - probe.features(r2)).norm(dim=1).median()
    f0 = probe.features(x0)
    grid = ddim_timesteps(model, steps)
    # the state x_t at the start of step i is the previous step's output (x_T for the first)
    states = [xb] + [x for _, x in rec[:-1]]
    d_P = torch.stack([((probe.features(p.clamp(-1, 1)) - f0).norm(dim=1) / scale).median() for p, _ in rec])
    d_x = torch.stack([((probe.features(x.clamp(-1, 1)) - f0).norm(dim=1) / scale).median() for x in states])
    up = grid.flip(0)  # ascending t

    def first_above(d: Tensor, thr: float, never: int) -> int:
        hits = (d.flip(0) >= thr).nonzero()
        return int(up[hits[0, 0]]) if len(hits) else never

    # never reached: edit at every step (t_edit = 0), boost at none (t_boost = 0)
    return {"timesteps": grid, "d_P": d_P, "d_x": d_x, "t_edit": first_above(d_P, edit_threshold, 0),
            "t_boost": first_above(d_x, boost_threshold, 0)}


@torch.no_grad()
def mean_dh(editor: Editor, timesteps: Tensor, h: Tensor) -> StepDirection:
    """Asyrp's dh_t^mean: the editor's output averaged over samples, one dh per edited timestep.

    Kwon et al. (2023, Sec. 5) average f_t(h_t) over samples to show that one dh per step, the same
    for every face, edits as f does; `global_dh` averages it over the steps as well. The h are the
    unedited sampler's (`h_trajectory`), at its timesteps `t >= editor.t_edit`.

    Args:
        timesteps: `(S,)` descending, as `HTrajectory.timesteps`; h: `(N, S, *h_shape)`, as `HTrajectory.h`.

    >>> ed = load_editor("smile", 1.0, "dh")
    >>> d = mean_dh(ed, torch.tensor([900, 500, 100]), torch.zeros(2, 3, 128, 4, 4))
    >>> d.timesteps.tolist(), torch.allclose(d.at(500), ed(500, torch.zeros(128, 4, 4)))
    ([900, 500], True)
    """
    timesteps = torch.as_tensor(timesteps).long()
    if not isinstance(h, Tensor) or h.dim() < 3 or h.shape[1] != len(timesteps) or tuple(h.shape[2:]) != editor.h_shape:
        got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise ValueError(f"h must have shape (N, {len(timesteps)}, {', '.join(map(str, editor.h_shape))}) for "
                         f"{len(timesteps)} timesteps, got {got}")
    keep = (timesteps >= editor.t_edit).nonzero().flatten().tolist()
    if not keep:
        raise ValueError(f"no timestep of {timesteps.tolist()} is at or above the editor's t_edit {editor.t_edit}")
    own = next(editor.parameters()).dtype
    dirs = torch.stack([editor(int(timesteps[i]), h[:, i].to(own)).mean(0) for i in keep])
    return StepDirection(timesteps[keep], dirs)


def global_dh(editor: Editor, timesteps: Tensor, h: Tensor) -> Tensor:
    """Asyrp's dh^global: the editor's output averaged over samples and over the edited steps, one
    tensor of h's shape that `ddim_sample(dh=...)` adds at every step t >= t_edit (Kwon et al. 2023,
    Sec. 5, consistency across timesteps).

    >>> ed = load_editor("smile", 1.0, "dh")
    >>> g = global_dh(ed, torch.tensor([900, 500]), torch.zeros(2, 2, 128, 4, 4))
    >>> torch.allclose(g, (ed(900, torch.zeros(128, 4, 4)) + ed(500, torch.zeros(128, 4, 4))) / 2)
    True
    """
    return mean_dh(editor, timesteps, h).directions.mean(0)


def _name(attr: str, goal: float, kind: str) -> str:
    return f"{attr}{'+' if goal > 0 else '-' if goal < 0 else ''}{abs(goal):g}_{kind}"


def save_editor(editor: Editor, folder: str | Path, command: str | None = None) -> Path:
    """Write `config.json` (recipe, grid, h shape, the command that built it) and `editor.safetensors`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"config": asdict(editor.config), "h_shape": list(editor.h_shape),
            "timesteps": editor.timesteps.tolist(), "command": command}
    (folder / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    state = {k: v.detach().cpu().contiguous() for k, v in editor.state_dict().items()}
    save_file(state, folder / "editor.safetensors")
    return folder


def _load_folder(folder: Path) -> Editor:
    """The editor `save_editor` wrote to `folder`; a missing, corrupt or mismatched file is an error naming it."""
    cfg_path, weights = folder / "config.json", folder / "editor.safetensors"
    for p in (cfg_path, weights):
        if not p.is_file():
            raise FileNotFoundError(f"editor file missing: {p}")
    try:
        meta = json.loads(cfg_path.read_text())
        config, h_shape, timesteps = (
            EditorConfig(**meta["config"]), tuple(meta["h_shape"]), torch.tensor(meta["timesteps"])
        )
    except json.JSONDecodeError as e:
        raise ValueError(f"{cfg_path} is not valid JSON ({e}); save_editor writes it, re-save the editor") from None
    except (KeyError, TypeError, ValueError) as e:  # a field missing, of the wrong kind, or a bad value
        raise ValueError(f"{cfg_path} is not an editor config as save_editor writes it "
                         f"({{'config', 'h_shape', 'timesteps', 'command'}}): {type(e).__name__}: {e}") from None
    editor = Editor(config, h_shape, timesteps)
    try:
        state = load_file(weights)
    except Exception as e:  # safetensors' own error (e.g. "header too small" for a truncated file)
        raise ValueError(f"{weights} is not a readable safetensors file ({type(e).__name__}: {e}); "
                         "it may be truncated or corrupt: re-save the editor with save_editor") from None
    try:
        editor.load_state_dict(state)  # strict: a missing or extra tensor is an error, not a silent zero
    except RuntimeError as e:
        raise ValueError(f"{weights} does not match {cfg_path} (kind {config.kind!r}, h_shape {h_shape}): "
                         f"{e}") from None
    return editor.eval()


def _shipped() -> list[tuple[str, float, str]]:
    out = []
    for d in sorted(EDITORS_DIR.glob("*/config.json")):
        c = json.loads(d.read_text())["config"]
        out.append((c["attr"], float(c["goal"]), c["kind"]))
    return out


def shipped_editors() -> list[tuple[str, float, str]]:
    """The `(attr, goal, kind)` of every editor shipped in `data/editors/`."""
    return _shipped()


def load_editor(attr: str, goal: float, kind: str = "f", *, folder: str | Path | None = None) -> Editor:
    """A learned Asyrp editor shipped in `data/editors/` (or from `folder`, as `save_editor` wrote it).

    >>> ed = load_editor("smile", 1.0)
    >>> ed.attr, ed.goal, ed.kind, ed(500, torch.zeros(2, 128, 4, 4)).shape
    ('smile', 1.0, 'f', torch.Size([2, 128, 4, 4]))
    """
    if folder is not None:
        editor = _load_folder(Path(folder))
        asked = {"attr": attr, "goal": None if goal is None else float(goal)}  # kind: the folder says which
        found = {"attr": editor.attr, "goal": editor.goal}
        for key in ("attr", "goal"):
            if asked[key] is not None and asked[key] != found[key]:
                raise ValueError(f"{key}={asked[key]!r} was asked for, but the editor in {folder} has "
                                 f"{key}={found[key]!r}")
        return editor
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    check_goal(attr, goal)
    path = EDITORS_DIR / _name(attr, float(goal), kind)
    if not (path / "config.json").is_file():
        shipped = ", ".join(f"({a!r}, {g:g}, {k!r})" for a, g, k in _shipped()) or "none"
        raise ValueError(f"no shipped editor for attr={attr!r}, goal={goal!r}, kind={kind!r}; shipped: {shipped}")
    return _load_folder(path)


def _parse(argv=None) -> tuple[EditorConfig, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m latentlab.asyrp", description=__doc__.split("\n\n")[0])
    d = EditorConfig()
    p.add_argument("--attr", default=d.attr, choices=list(ATTRIBUTES))
    p.add_argument("--goal", type=float, default=d.goal)
    p.add_argument("--kind", default=d.kind, choices=KINDS)
    for name in ("steps", "t_edit", "trajectories", "batch", "seed", "temb_dim"):
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=getattr(d, name))
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--l1", type=float, default=d.l1)
    p.add_argument("--keep", type=float, default=d.keep)
    p.add_argument("--model", default=None, help="a model folder (default: the bundled faces model)")
    p.add_argument("--out", default=None, help="output folder (default: data/editors/<attr><goal>_<kind>)")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args(argv)
    fields = {k: getattr(a, k) for k in asdict(d)}
    return EditorConfig(**fields), a


def main(argv=None) -> None:
    from .model import load_model
    cfg, a = _parse(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    model = load_model(a.model)
    start = time.time()
    opts = {k: v for k, v in asdict(cfg).items() if k not in ("attr", "goal", "kind")}
    editor = train_editor(model, cfg.attr, cfg.goal, cfg.kind, **opts)
    out = Path(a.out) if a.out else EDITORS_DIR / _name(cfg.attr, cfg.goal, cfg.kind)
    command = "python -m latentlab.asyrp " + " ".join(shlex.quote(s) for s in (sys.argv[1:] if argv is None else argv))
    save_editor(editor, out, command)
    print(f"saved {out} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
