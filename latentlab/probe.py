"""The attribute probe: a small CNN that reads every attribute of the faces world off an image.

It is the kit's measuring instrument: edits are scored by how the probe's readings move, sample
quality by comparing its readings (and features) on samples and on renders. Trained on renders with
mild pixel noise, so that slightly imperfect samples are read sensibly; differentiable with respect
to the images. Retrain with `python -m latentlab.probe` (a few minutes on 2 cores).

The judge (`load_probe(judge=True)`) is a second, independent probe: another width, another seed
and its own renders. An editor trained through the probe's gradients (Asyrp's) can learn what fools
that probe; scoring it with the judge, which it never saw, keeps the comparison of methods fair.
Retrain it with `python -m latentlab.probe --judge --threads 1`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from tqdm.auto import tqdm

from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, render_faces

__all__ = ["Probe", "ProbeConfig", "load_probe", "train_probe", "save_probe", "BUNDLED_PROBE", "BUNDLED_JUDGE"]

BUNDLED_PROBE = Path(__file__).resolve().parent.parent / "data" / "probe"
BUNDLED_JUDGE = Path(__file__).resolve().parent.parent / "data" / "judge"


@dataclass
class ProbeConfig:
    channels: tuple[int, ...] = (16, 32, 64)
    hidden: int = 256
    size: int = 32  # images of another size are resized to this
    steps: int = 3000
    batch: int = 128
    lr: float = 2e-3
    noise: float = 0.05  # pixel noise std drawn uniformly from [0, noise] per image
    seed: int = 0
    # training step i renders the faces of seed render_seed + seed * 100_000 + i; the default is the
    # shipped probe's range, so that its training reproduces as before
    render_seed: int = 1_000_000

    @classmethod
    def tiny(cls) -> "ProbeConfig":
        return cls(channels=(4, 8, 8), hidden=16, steps=20, batch=32)

    @classmethod
    def judge(cls) -> "ProbeConfig":
        """The judge: wider convolutions, a narrower head, another seed, renders no other probe saw."""
        return cls(channels=(24, 48, 96), hidden=128, seed=1, render_seed=3_000_000)


class Probe(nn.Module):
    """`probe(images) -> {name: (n,)}`: continuous attributes in their own units, glasses as P(glasses).

    >>> p = Probe(ProbeConfig.tiny())
    >>> out = p(torch.zeros(2, 3, 32, 32))
    >>> sorted(out) == sorted(ATTRIBUTES), out["smile"].shape
    (True, torch.Size([2]))
    """

    def __init__(self, config: ProbeConfig = ProbeConfig()):
        super().__init__()
        self.config = config
        layers, c_in = [], 3
        for c in config.channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.SiLU(), nn.Conv2d(c, c, 3, padding=1), nn.SiLU(),
                       nn.AvgPool2d(2)]
            c_in = c
        self.conv = nn.Sequential(*layers)
        side = config.size // 2 ** len(config.channels)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c_in * side * side, config.hidden), nn.SiLU())
        self.out = nn.Linear(config.hidden, len(ATTRIBUTES))
        self.register_buffer("low", torch.tensor([r.low for r in ATTRIBUTES.values()]), persistent=False)
        self.register_buffer("span", torch.tensor([r.span for r in ATTRIBUTES.values()]), persistent=False)

    def features(self, images: Tensor) -> Tensor:
        """The penultimate layer, `(n, hidden)`: the feature space of the Frechet distance."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (n, 3, H, W), got {tuple(images.shape)}")
        if images.shape[-1] != self.config.size or images.shape[-2] != self.config.size:
            images = F.interpolate(images, size=(self.config.size,) * 2, mode="bilinear", antialias=True,
                                   align_corners=False)
        return self.head(self.conv(images))

    def logits(self, images: Tensor) -> Tensor:
        """Raw outputs `(n, n_attributes)`: continuous ones scaled to [0, 1], glasses as a logit."""
        return self.out(self.features(images))

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        z = self.logits(images)
        out = {}
        for j, name in enumerate(ATTRIBUTES):
            out[name] = torch.sigmoid(z[:, j]) if name in BINARY_ATTRIBUTES else self.low[j] + self.span[j] * z[:, j]
        return out


def _loss(probe: Probe, images: Tensor, attrs: dict[str, Tensor]) -> Tensor:
    z = probe.logits(images)
    loss = 0.0
    for j, name in enumerate(ATTRIBUTES):
        if name in BINARY_ATTRIBUTES:
            loss = loss + F.binary_cross_entropy_with_logits(z[:, j], attrs[name])
        else:
            target = (attrs[name] - probe.low[j]) / probe.span[j]
            loss = loss + F.mse_loss(z[:, j], target) * 10
    return loss


def train_probe(config: ProbeConfig = ProbeConfig(), progress: bool = True) -> Probe:
    """Train the probe on fresh renders (a new batch every step, so no overfitting)."""
    torch.manual_seed(config.seed)
    probe = Probe(config)
    opt = torch.optim.AdamW(probe.parameters(), lr=config.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.steps, pct_start=0.1)
    g = torch.Generator().manual_seed(config.seed)
    bar = tqdm(range(config.steps), disable=not progress)
    for step in bar:
        x, attrs = render_faces(config.batch, seed=config.render_seed + config.seed * 100_000 + step, size=config.size)
        sigma = config.noise * torch.rand(config.batch, 1, 1, 1, generator=g)
        x = x + sigma * torch.randn(x.shape, generator=g)
        loss = _loss(probe, x, attrs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.4f}")
    return probe.eval().requires_grad_(False)


def save_probe(probe: Probe, folder: str | Path) -> None:
    """Write `config.json` and `model.safetensors` into `folder` (created if missing), for `load_probe`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(dataclasses.asdict(probe.config), indent=1))
    save_file({k: v.contiguous() for k, v in probe.state_dict().items()}, folder / "model.safetensors")


def load_probe(folder: str | Path | None = None, *, judge: bool = False) -> Probe:
    """The shipped attribute probe (or one saved with `save_probe`), in eval mode, differentiable.

    Args:
        folder: a folder written by `save_probe`; default the shipped probe (`data/probe`).
        judge: load the shipped judge (`data/judge`) instead: an independent probe for scoring
            editors trained through the main probe's gradients. Not together with `folder`.

    >>> probe = load_probe()                                    # doctest: +SKIP
    >>> x, a = render_faces(4, seed=0, smile=1.0)               # doctest: +SKIP
    >>> probe(x)["smile"]                                       # doctest: +SKIP
    tensor([0.99, 1.00, 0.99, 1.01])
    """
    if not isinstance(judge, bool):
        raise TypeError(f"judge must be True or False, got {judge!r}")
    if judge and folder is not None:
        raise ValueError(f"give folder or judge=True, not both; got folder={str(folder)!r}")
    folder = Path(folder) if folder is not None else BUNDLED_JUDGE if judge else BUNDLED_PROBE
    cfg_file, weights = folder / "config.json", folder / "model.safetensors"
    for f in (cfg_file, weights):
        if not f.is_file():
            raise FileNotFoundError(f"probe file missing: {f} does not exist")
    raw = json.loads(cfg_file.read_text())
    config = ProbeConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    probe = Probe(config)
    try:
        probe.load_state_dict(load_file(weights))
    except Exception as e:
        raise ValueError(f"could not load probe weights {weights}: {type(e).__name__}: {e}") from None
    return probe.eval().requires_grad_(False)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="Train the attribute probe and save it (safetensors).")
    p.add_argument("--judge", action="store_true", help="train the judge (ProbeConfig.judge()) instead")
    p.add_argument("--out", default=None, help="default data/probe, or data/judge with --judge")
    p.add_argument("--steps", type=int, default=ProbeConfig.steps)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = ProbeConfig.judge() if args.judge else ProbeConfig()
    out = args.out or (BUNDLED_JUDGE if args.judge else BUNDLED_PROBE)
    save_probe(train_probe(dataclasses.replace(config, steps=args.steps)), out)
