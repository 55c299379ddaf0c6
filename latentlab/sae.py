"""A sparse autoencoder on h: a dictionary of features learnt from the sampler's own h, no labels.

The top-k autoencoder of Gao et al. (2024), as Surkov et al. (2024) train it on SDXL Turbo's blocks:

    z = TopK(relu(W_enc (x - b_pre) + b_enc)),    x_hat = W_dec z + b_pre,    |W_dec[:, i]| = 1,

trained on the reconstruction error, with Gao et al.'s auxiliary loss (AuxK: the dead features
reconstruct what the live ones leave) so that few features die. Top-k rather than ReLU + L1: the
sparsity k is set directly (no L1 weight to tune per data set) and the activations are not shrunk
towards zero, which matters when a feature's activation is read as a detector.

x is one h, normalised per timestep (minus the mean h at t, divided by its RMS at t), so one
dictionary serves every timestep. Two readings of "one h" (`SAEConfig.mode`):
- "position": each of h's H x W positions is a sample of C channels (Surkov et al.'s choice: a
  U-Net block's output is a map of tokens); a face's activation is the mean over its positions.
- "pooled": the mean of h over its positions, one sample of C channels per face and timestep.

A feature's direction (`feature_direction`) is its decoder column placed where, and as strongly
as, the feature fires on the training faces: c = 1 adds one typical firing of the feature.

References
- Gao et al. (2024), "Scaling and evaluating sparse autoencoders", arXiv 2406.04093: the top-k
  autoencoder, unit-norm decoder columns, tied initialisation, the AuxK loss for dead latents.
- Surkov et al. (2024), "Unpacking SDXL Turbo: Interpreting Text-to-Image Models with Sparse
  Autoencoders", arXiv 2410.22366: top-k SAEs on the updates of SDXL Turbo's transformer blocks,
  each spatial position a sample; their released SAEs have 5,120 features for 1,280 channels
  (expansion 4) and k = 10; features are switched on by adding their decoder column.
"""
from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Mapping, Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from tqdm.auto import tqdm

from .directions import StepDirection, interpolate_timesteps
from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, check_goal

__all__ = ["SAEConfig", "SparseAutoencoder", "train_sae", "feature_activations", "trajectory_activations",
           "feature_direction", "evaluate_sae", "auroc", "spearman", "detection_scores", "detection_strength",
           "monosemantic_features", "best_feature", "save_sae", "load_sae", "BUNDLED_SAE", "SAE_SETTINGS",
           "MONOSEMANTIC"]

BUNDLED_SAE = Path(__file__).resolve().parent.parent / "data" / "sae" / "position"

#: The paper's dictionary shape on the kit's h (C = 128 channels): Surkov et al.'s released SAEs have
#: 4 x as many features as channels (5,120 for 1,280) and k = 10 (arXiv 2410.22366, their repository's
#: checkpoints); each spatial position is one sample, as in their training.
SAE_SETTINGS = {"expansion": 4, "n_features": 512, "k": 10, "mode": "position"}

#: "Monosemantic": a live feature whose strongest attribute reaches `high` (|2 AUROC - 1| for a binary
#: attribute, |Spearman rho| for a continuous one) while its second strongest stays below `low`.
MONOSEMANTIC = {"high": 0.5, "low": 0.2}

Mode = Literal["position", "pooled"]


@dataclass
class SAEConfig:
    """One autoencoder's recipe (defaults: the bundled SAE, about a minute of training on one core)."""
    n_features: int = 512
    k: int = 10
    mode: str = "position"
    steps: int = 3000
    batch: int = 1024
    lr: float = 1e-3
    aux_k: int = 64  # dead features asked to reconstruct the residual (AuxK)
    aux_weight: float = 1 / 32
    dead_after: int = 200  # optimiser steps without firing after which a feature counts as dead (AuxK)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_features", "k", "steps", "batch", "aux_k", "dead_after"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.k > self.n_features:
            raise ValueError(f"k must be at most n_features ({self.n_features}), got {self.k}")
        if self.mode not in ("position", "pooled"):
            raise ValueError(f"mode must be 'position' or 'pooled', got {self.mode!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a number > 0, got {self.lr!r}")

    @classmethod
    def tiny(cls, **kw) -> "SAEConfig":
        return cls(**{"n_features": 8, "k": 2, "steps": 5, "batch": 16, "aux_k": 2, **kw})


class SparseAutoencoder(nn.Module):
    """The top-k autoencoder of Gao et al. (2024) with the kit's per-timestep normalisation of h.

    Buffers (fixed by `train_sae` from the training set, saved with the weights): `timesteps` (S,) the
    grid trained on; `mean` (S, C, H, W) and `scale` (S,) the normalisation at each of them; `typical`
    (S, F, H, W) each feature's mean activation map at t over the faces where it fires at t (the unit
    of `feature_direction`); `fire_rate` (F,) the fraction of training samples on which it fires.
    """

    def __init__(self, config: SAEConfig, h_shape: Sequence[int], timesteps: Tensor):
        super().__init__()
        self.config, self.h_shape = config, tuple(int(s) for s in h_shape)
        if len(self.h_shape) != 3:
            raise ValueError(f"h_shape must be (C, H, W), got {self.h_shape}")
        c, n = self.h_shape[0], config.n_features
        g = torch.Generator().manual_seed(config.seed)
        w = torch.randn(c, n, generator=g)
        self.W_dec = nn.Parameter(w / w.norm(dim=0))  # (C, F), unit columns
        self.W_enc = nn.Parameter(self.W_dec.detach().T.clone())  # tied initialisation (Gao et al.)
        self.b_enc = nn.Parameter(torch.zeros(n))
        self.b_pre = nn.Parameter(torch.zeros(c))
        timesteps = torch.as_tensor(timesteps).long()
        s = len(timesteps)
        self.register_buffer("timesteps", timesteps.clone())
        self.register_buffer("mean", torch.zeros(s, *self.h_shape))
        self.register_buffer("scale", torch.ones(s))
        self.register_buffer("typical", torch.zeros(s, n, *self.h_shape[1:]))
        self.register_buffer("fire_rate", torch.zeros(n))

    n_features = property(lambda self: self.config.n_features)
    k = property(lambda self: self.config.k)
    mode = property(lambda self: self.config.mode)

    def pre_activations(self, x: Tensor) -> Tensor:
        """`W_enc (x - b_pre) + b_enc`, `(M, F)` for normalised inputs x `(M, C)`."""
        return (x - self.b_pre) @ self.W_enc.T + self.b_enc

    def encode(self, x: Tensor) -> Tensor:
        """The sparse code `(M, F)`: the k largest pre-activations of each row, ReLU'd; the rest 0."""
        pre = self.pre_activations(x)
        vals, idx = pre.topk(self.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, idx, F.relu(vals))

    def decode(self, z: Tensor) -> Tensor:
        return z @ self.W_dec.T + self.b_pre

    def forward(self, x: Tensor) -> Tensor:
        """The reconstruction of normalised inputs x `(M, C)`."""
        return self.decode(self.encode(x))

    def inputs(self, h: Tensor, t: int | Tensor) -> Tensor:
        """h `(N, C, H, W)` at timestep(s) t (an int or `(N,)`) -> the normalised samples: `(N * H * W, C)`
        in "position" mode (sample n's positions in rows n H W .. (n + 1) H W - 1), `(N, C)` in "pooled"."""
        h = _check_h(self, h)
        mean, scale = self._norm(t, len(h))
        x = (h - mean.to(h)) / scale.to(h)[:, None, None, None]
        if self.mode == "pooled":
            return x.mean((-2, -1))
        return x.permute(0, 2, 3, 1).reshape(-1, self.h_shape[0])  # (N, H, W, C) -> (N H W, C)

    def _norm(self, t: int | Tensor, n: int) -> tuple[Tensor, Tensor]:
        """The mean `(n, C, H, W)` and scale `(n,)` at each sample's timestep (interpolated between grid steps)."""
        ts = torch.as_tensor(t).long().flatten()
        if len(ts) == 1:
            ts = ts.expand(n)
        if len(ts) != n:
            raise ValueError(f"t must be one timestep or one per sample ({n}), got {len(ts)} timesteps")
        means, scales = {}, {}
        for u in ts.unique().tolist():
            means[u] = interpolate_timesteps(self.timesteps, self.mean, u)
            scales[u] = interpolate_timesteps(self.timesteps, self.scale, u)
        return torch.stack([means[u] for u in ts.tolist()]), torch.stack([scales[u] for u in ts.tolist()])

    def extra_repr(self) -> str:
        return (f"mode={self.mode!r}, h_shape={self.h_shape}, n_features={self.n_features}, k={self.k}, "
                f"{len(self.timesteps)} timesteps")


def _check_h(sae: SparseAutoencoder, h: Tensor) -> Tensor:
    if not isinstance(h, Tensor) or h.dim() not in (3, 4) or tuple(h.shape[-3:]) != sae.h_shape:
        got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise ValueError(f"h must have shape (N, {', '.join(map(str, sae.h_shape))}) (this SAE's h), got {got}")
    return h if h.dim() == 4 else h[None]


def _check_feature(sae: SparseAutoencoder, i: int) -> int:
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < sae.n_features:
        raise ValueError(f"feature index must be an integer in [0, {sae.n_features - 1}], got {i!r}")
    return i


def _check_trajectory(h: Tensor, timesteps: Tensor) -> Tensor:
    timesteps = torch.as_tensor(timesteps).long()
    if timesteps.dim() != 1 or len(timesteps) < 1:
        raise ValueError(f"timesteps must be a 1-d tensor (S,), got shape {tuple(timesteps.shape)}")
    if not isinstance(h, Tensor) or h.dim() != 5 or h.shape[1] != len(timesteps):
        got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise ValueError(f"h must have shape (N, S, C, H, W) with S = {len(timesteps)} (one per timestep, as "
                         f"HTrajectory.h), got {got}")
    return timesteps


@torch.no_grad()
def feature_activations(sae: SparseAutoencoder, h: Tensor, t: int | Tensor, *, spatial: bool = False) -> Tensor:
    """Each feature's activation on h at timestep t: `(N, F)`, the mean over positions ("position" mode).

    Args:
        h: `(N, C, H, W)` or `(C, H, W)`; t: one timestep or one per sample.
        spatial: "position" mode only: the activation map `(N, F, H, W)` instead of its mean.

    >>> sae = train_sae(torch.randn(6, 2, 4, 2, 2), [500, 0], n_features=8, k=2, steps=5, progress=False)
    >>> tuple(feature_activations(sae, torch.randn(3, 4, 2, 2), 500).shape)
    (3, 8)
    """
    hb = _check_h(sae, h)
    if spatial and sae.mode != "position":
        raise ValueError(f"spatial=True needs a 'position' SAE; this one is {sae.mode!r}")
    z = sae.encode(sae.inputs(hb, t).float())
    if sae.mode == "pooled":
        return z
    n, (_, hh, ww) = len(hb), sae.h_shape
    z = z.reshape(n, hh, ww, -1).permute(0, 3, 1, 2)  # (N, F, H, W)
    return z if spatial else z.mean((-2, -1))


def trajectory_activations(sae: SparseAutoencoder, h: Tensor, timesteps: Tensor) -> Tensor:
    """`feature_activations` along trajectories: h `(N, S, C, H, W)` (`HTrajectory.h`) -> `(N, S, F)`.

    >>> sae = train_sae(torch.randn(6, 2, 4, 2, 2), [500, 0], n_features=8, k=2, steps=5, progress=False)
    >>> tuple(trajectory_activations(sae, torch.randn(3, 2, 4, 2, 2), torch.tensor([500, 0])).shape)
    (3, 2, 8)
    """
    timesteps = _check_trajectory(h, timesteps)
    return torch.stack([feature_activations(sae, h[:, s], int(t)) for s, t in enumerate(timesteps)], 1)


def train_sae(h: Tensor, timesteps: Tensor | Sequence[int], *, progress: bool = True, history: list | None = None,
              **options) -> SparseAutoencoder:
    """Train a top-k sparse autoencoder (Gao et al. 2024) on h along the sampler's trajectories.

    Adam on the mean squared error of the normalised samples plus `aux_weight` times the AuxK error
    (the `aux_k` most active dead features reconstructing the residual); the decoder's columns are
    put back on the unit sphere after every step. Then one pass over the training set fixes
    `typical` and `fire_rate`.

    Args:
        h: `(N, S, C, H, W)`, e.g. `h_trajectory(...).h`; timesteps: `(S,)`, its grid.
        history: if a list, gets one dict per 100 steps (`step`, `fvu`) on the batch.
        **options: fields of `SAEConfig` (n_features, k, mode, steps, batch, lr, aux_k, seed, ...).

    >>> sae = train_sae(torch.randn(6, 2, 4, 2, 2), [500, 0], n_features=8, k=2, steps=5, progress=False)
    >>> sae.W_dec.shape, sae.k
    (torch.Size([4, 8]), 2)
    """
    timesteps = _check_trajectory(h, timesteps)
    cfg = SAEConfig(**options)
    h = h.detach().float()
    sae = SparseAutoencoder(cfg, h.shape[2:], timesteps)
    with torch.no_grad():
        sae.mean.copy_(h.mean(0))
        sae.scale.copy_((h - sae.mean).pow(2).mean((0, 2, 3, 4)).sqrt().clamp_min(1e-8))
        x = torch.cat([sae.inputs(h[:, s], int(t)) for s, t in enumerate(timesteps)])
        # rows are samples of C channels; E |x|^2 = C in "position" mode, less after pooling: rescale so
        # that the learning rate means the same in both modes
        x_rms = x.pow(2).mean().sqrt().clamp_min(1e-8)
        if cfg.mode == "pooled":
            sae.scale.mul_(x_rms)
            x = x / x_rms
    g = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam([sae.W_enc, sae.W_dec, sae.b_enc, sae.b_pre], lr=cfg.lr)
    since_fired = torch.zeros(cfg.n_features, dtype=torch.long)
    for step in tqdm(range(cfg.steps), disable=not progress, desc=f"SAE ({cfg.mode})"):
        xb = x[torch.randint(len(x), (min(cfg.batch, len(x)),), generator=g)]
        z = sae.encode(xb)
        x_hat = sae.decode(z)
        loss = (x_hat - xb).pow(2).sum(-1).mean()
        fired = (z > 0).any(0)
        since_fired = torch.where(fired, 0, since_fired + 1)
        dead = since_fired > cfg.dead_after
        if dead.any():  # AuxK: the dead features' largest pre-activations reconstruct the residual
            pre = sae.pre_activations(xb).masked_fill(~dead, float("-inf"))
            vals, idx = pre.topk(min(cfg.aux_k, int(dead.sum())), dim=-1)
            z_aux = torch.zeros_like(pre).scatter(-1, idx, F.relu(vals))
            residual = (xb - x_hat).detach()
            loss = loss + cfg.aux_weight * (z_aux @ sae.W_dec.T - residual).pow(2).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            sae.W_dec.div_(sae.W_dec.norm(dim=0).clamp_min(1e-8))
        if history is not None and step % 100 == 0:
            with torch.no_grad():
                fvu = (x_hat - xb).pow(2).sum() / (xb - xb.mean(0)).pow(2).sum()
            history.append({"step": step, "fvu": float(fvu)})
    _fit_statistics(sae, h, timesteps)
    return sae.eval()


@torch.no_grad()
def _fit_statistics(sae: SparseAutoencoder, h: Tensor, timesteps: Tensor) -> None:
    """`typical` (each feature's mean activation map at t where it fires at t) and `fire_rate`."""
    fires = torch.zeros(sae.n_features)
    total = 0
    for s, t in enumerate(timesteps.tolist()):
        z = feature_activations(sae, h[:, s], t, spatial=sae.mode == "position")
        if sae.mode == "pooled":
            z = z[:, :, None, None].expand(-1, -1, *sae.h_shape[1:])
        on = (z > 0).flatten(2).any(-1)  # (N, F): the feature fires somewhere in the sample
        sae.typical[s] = z.sum(0) / on.sum(0).clamp_min(1)[:, None, None]
        fires += (z > 0).flatten(2).float().sum((0, 2))
        total += z.shape[0] * (z.shape[2] * z.shape[3] if sae.mode == "position" else 1)
    sae.fire_rate.copy_(fires / total)


def feature_direction(sae: SparseAutoencoder, i: int) -> StepDirection:
    """Feature i switched on, as an h-space direction per timestep (Surkov et al.: add its decoder column).

    At timestep t: `scale_t * W_dec[:, i]` placed at each position with the feature's typical
    activation there (`typical[t, i]`), so c = 1 adds one typical firing of the feature, in h's units.
    A `StepDirection` on the training grid: `ddim_sample(dh=c * d, t_edit=..., asymmetric=True)`.

    >>> sae = train_sae(torch.randn(6, 2, 4, 2, 2), [500, 0], n_features=8, k=2, steps=5, progress=False)
    >>> feature_direction(sae, int(sae.fire_rate.argmax())).h_shape
    (4, 2, 2)
    >>> feature_direction(sae, 8)
    Traceback (most recent call last):
    ValueError: feature index must be an integer in [0, 7], got 8
    """
    i = _check_feature(sae, i)
    if sae.fire_rate[i] == 0:
        raise ValueError(f"feature {i} never fired on the training set (a dead feature): it has no direction")
    w = sae.W_dec.detach()[:, i]  # (C,)
    d = sae.scale[:, None, None, None] * w[None, :, None, None] * sae.typical[:, i, None]  # (S, C, H, W)
    return StepDirection(sae.timesteps, d)


@torch.no_grad()
def evaluate_sae(sae: SparseAutoencoder, h: Tensor, timesteps: Tensor) -> dict[str, float]:
    """Reconstruction and sparsity on trajectories h `(N, S, C, H, W)`: `fvu`, the fraction of variance
    unexplained (sum |x - x_hat|^2 / sum |x - mean x|^2 over the normalised samples, so every timestep
    weighs alike), `l0`, the mean number of features firing per sample, `dead`, the number of features
    that never fire on h, and `dead_in_training`, those that never fired on the training set.

    >>> sae = train_sae(torch.randn(6, 2, 4, 2, 2), [500, 0], n_features=8, k=2, steps=5, progress=False)
    >>> sorted(evaluate_sae(sae, torch.randn(3, 2, 4, 2, 2), torch.tensor([500, 0])))
    ['dead', 'dead_in_training', 'fvu', 'l0']
    """
    timesteps = _check_trajectory(h, timesteps)
    err = tot = l0 = 0.0
    rows = 0
    fired = torch.zeros(sae.n_features, dtype=torch.bool)
    for s, t in enumerate(timesteps.tolist()):
        x = sae.inputs(h[:, s].float(), t)
        z = sae.encode(x)
        err += float((sae.decode(z) - x).pow(2).sum())
        tot += float((x - x.mean(0)).pow(2).sum())
        l0 += float((z > 0).sum())
        rows += len(x)
        fired |= (z > 0).any(0)
    return {"fvu": err / tot, "l0": l0 / rows, "dead": int((~fired).sum()),
            "dead_in_training": int((sae.fire_rate == 0).sum())}


# ---------------------------------------------------------------------------------------- detection

def auroc(scores: Tensor, labels: Tensor) -> Tensor:
    """The area under the ROC curve of each column of `scores` `(N, F)` for boolean `labels` `(N,)`:
    P(score of a positive > score of a negative) + P(equal) / 2 (Mann-Whitney U over n_pos n_neg).

    >>> auroc(torch.tensor([[0.1], [0.4], [0.4], [0.8]]), torch.tensor([False, True, False, True]))
    tensor([0.8750])
    """
    scores, labels = _check_scores(scores, labels)
    if labels.dtype != torch.bool:
        if not ((labels == 0) | (labels == 1)).all():
            raise ValueError(f"labels must be booleans or 0/1 for an AUROC, got values {labels.unique().tolist()[:5]}")
        labels = labels.bool()
    pos, neg = scores[labels].double(), scores[~labels].double()
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError(f"labels must contain both classes, got {len(pos)} positive of {len(labels)}")
    out = torch.zeros(scores.shape[1], dtype=torch.float64)
    for j in range(0, scores.shape[1], 64):  # (n_pos, n_neg, 64) comparisons at a time
        p, n = pos[:, None, j:j + 64], neg[None, :, j:j + 64]
        out[j:j + 64] = ((p > n).double() + 0.5 * (p == n).double()).mean((0, 1))
    return out.float()


def _ranks(x: Tensor) -> Tensor:
    """Ranks 1..N of each column, ties given their average rank."""
    out = torch.empty_like(x, dtype=torch.float64)
    for j in range(x.shape[1]):
        _, inverse, counts = torch.unique(x[:, j], return_inverse=True, return_counts=True)
        ends = counts.cumsum(0).double()
        out[:, j] = (ends - (counts.double() - 1) / 2)[inverse]
    return out


def spearman(scores: Tensor, values: Tensor) -> Tensor:
    """Spearman's rank correlation of each column of `scores` `(N, F)` with `values` `(N,)` (average ranks
    for ties; 0 for a constant column).

    >>> spearman(torch.tensor([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]]), torch.tensor([0.1, 0.5, 0.9]))
    tensor([ 1., -1.])
    """
    scores, values = _check_scores(scores, values)
    r, v = _ranks(scores), _ranks(values[:, None].double())
    r, v = r - r.mean(0), v - v.mean(0)
    den = (r.pow(2).sum(0) * v.pow(2).sum(0)).sqrt()
    return torch.where(den > 0, (r * v).sum(0) / den.clamp_min(1e-300), 0.0).float()


def _check_scores(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    labels = torch.as_tensor(labels)
    if not isinstance(scores, Tensor) or scores.dim() != 2:
        got = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a tensor (N, F): N samples, F features, got {got}")
    if labels.dim() != 1 or len(labels) != len(scores):
        raise ValueError(f"labels must have shape ({len(scores)},), one per sample, got {tuple(labels.shape)}")
    return scores, labels


def detection_scores(activations: Tensor, labels: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """How well each feature predicts each attribute: `{attr: (F,)}`, the AUROC for boolean labels
    (0.5: chance), Spearman's rho for numbers (0: none). Signed: a feature may fire for low values.

    Args:
        activations: `(N, F)`, e.g. `trajectory_activations(...).mean(1)`; labels: `{attr: (N,)}`.

    >>> acts = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 0.5]])
    >>> s = detection_scores(acts, {"glasses": torch.tensor([False, True, True]), "smile": torch.tensor([0., .5, 1.])})
    >>> s["glasses"].tolist(), s["smile"].tolist()
    ([1.0, 0.0], [1.0, -0.5])
    """
    return {a: auroc(activations, y) if torch.as_tensor(y).dtype == torch.bool else spearman(activations, y)
            for a, y in labels.items()}


def detection_strength(scores: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Scores on one unsigned scale in [0, 1]: |2 AUROC - 1| (Somers' D) for AUROCs, |rho| for correlations.

    Which is which is read from the attribute: `BINARY_ATTRIBUTES` hold AUROCs.

    >>> detection_strength({"glasses": torch.tensor([0.9, 0.2]), "smile": torch.tensor([-0.6, 0.1])})["glasses"]
    tensor([0.8000, 0.6000])
    """
    return {a: (2 * s - 1).abs() if a in BINARY_ATTRIBUTES else s.abs() for a, s in scores.items()}


def monosemantic_features(strength: Mapping[str, Tensor], *, high: float = MONOSEMANTIC["high"],
                          low: float = MONOSEMANTIC["low"], alive: Tensor | None = None) -> dict[str, list[int]]:
    """Per attribute, the features whose strongest attribute is it (strength >= `high`) while their second
    strongest stays below `low` (`detection_strength` units; the definition of `MONOSEMANTIC`).

    >>> monosemantic_features({"smile": torch.tensor([0.9, 0.6, 0.1]), "glasses": torch.tensor([0.1, 0.5, 0.0])})
    {'smile': [0], 'glasses': []}
    """
    names = list(strength)
    s = torch.stack([strength[a] for a in names])  # (A, F)
    if len(names) < 2:
        raise ValueError(f"strength must hold at least two attributes to compare, got {names}")
    top2, idx = s.topk(2, dim=0)
    ok = (top2[0] >= high) & (top2[1] < low)
    if alive is not None:
        ok &= torch.as_tensor(alive).bool()
    return {a: (ok & (idx[0] == j)).nonzero().flatten().tolist() for j, a in enumerate(names)}


def best_feature(attr: str, goal: float, *, folder: str | Path = BUNDLED_SAE) -> tuple[int, float]:
    """The shipped SAE's feature that best detects `attr` and the sign that pushes `attr` towards `goal`.

    Reads `detection.json` in `folder` (written by `benchmarks/sae_features.py`): the feature of the
    strongest detection on held-out trajectories and whether it fires for high or low values.
    Use as `sign * feature_direction(load_sae(folder), i)`.

    >>> i, sign = best_feature("glasses", 1.0)
    >>> isinstance(i, int), sign in (-1.0, 1.0)
    (True, True)
    """
    if attr not in ATTRIBUTES:
        raise ValueError(f"attr must be one of {', '.join(ATTRIBUTES)}, got {attr!r}")
    check_goal(attr, goal)
    path = Path(folder) / "detection.json"
    if not path.is_file():
        raise FileNotFoundError(f"no detection scores at {path}: run benchmarks/sae_features.py to write them")
    best = json.loads(path.read_text())["best"][attr]
    lo, hi = ATTRIBUTES[attr]
    towards = 1.0 if goal > (lo + hi) / 2 else -1.0
    return int(best["feature"]), towards * float(best["sign"])


# ---------------------------------------------------------------------------------------- files

def save_sae(sae: SparseAutoencoder, folder: str | Path, command: str | None = None) -> Path:
    """Write `config.json` (recipe, h shape, grid, the command that built it) and `sae.safetensors`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"config": asdict(sae.config), "h_shape": list(sae.h_shape), "timesteps": sae.timesteps.tolist(),
            "command": command if command is not None else shlex.join([Path(sys.executable).name, *sys.argv])}
    (folder / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    save_file({k: v.detach().cpu().contiguous() for k, v in sae.state_dict().items()}, folder / "sae.safetensors")
    return folder


def load_sae(folder: str | Path = BUNDLED_SAE) -> SparseAutoencoder:
    """The SAE `save_sae` wrote to `folder` (default: the bundled one, trained on the bundled model's h).

    >>> sae = load_sae()
    >>> sae.mode, sae.h_shape, sae.n_features, sae.k
    ('position', (128, 4, 4), 512, 10)
    """
    folder = Path(folder)
    cfg_path, weights = folder / "config.json", folder / "sae.safetensors"
    for p in (cfg_path, weights):
        if not p.is_file():
            raise FileNotFoundError(f"SAE file missing: {p} (train one with benchmarks/train_sae.py)")
    try:
        meta = json.loads(cfg_path.read_text())
        sae = SparseAutoencoder(SAEConfig(**meta["config"]), meta["h_shape"], torch.tensor(meta["timesteps"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{cfg_path} is not an SAE config as save_sae writes it: {type(e).__name__}: {e}") from None
    try:
        sae.load_state_dict(load_file(weights))
    except Exception as e:  # safetensors' own error for a corrupt file, or a missing / mismatched tensor
        raise ValueError(f"{weights} does not hold the SAE {cfg_path} describes ({type(e).__name__}: {e})") from None
    return sae.eval()
