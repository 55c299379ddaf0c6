"""Train the kit's faces diffusion model: `python -m latentlab.train --out runs/faces`.

Recipe: DDPM's eps-prediction loss (Ho et al. 2020, Eq. 14) on faces rendered on the fly (unlimited
data, so no overfitting), AdamW, an exponential moving average of the weights (the EMA is what
ships), linear warm-up. The run checkpoints every few minutes to `<out>/state/` (safetensors only)
and resumes from there when started again with the same `--out`; `<out>/pipeline/` always holds the
latest EMA weights as a diffusers `DDIMPipeline` folder, ready to copy into `data/`.

On a GPU: `--device cuda --batch 256` (faces are still rendered on the CPU, in worker threads that
keep ahead of the GPU), and `--minutes M` to stop and save after M minutes of wall time, which is
how the shipped weights were trained on a lent GPU (`tools/gpu_train.sh`).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import DDIMPipeline, DDIMScheduler, UNet2DModel
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from .faces import render_faces

#: U-Net architectures. `faces8`: 3 levels, 8 x 8 middle block; `faces4`: 4 levels, 4 x 4 middle
#: block; `tiny`: a few thousand parameters, for tests.
UNET_PRESETS: dict[str, dict] = {
    "faces8": dict(
        sample_size=32, in_channels=3, out_channels=3, layers_per_block=1,
        block_out_channels=(32, 64, 128),
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=16, attention_head_dim=32,
    ),
    "faces4": dict(
        sample_size=32, in_channels=3, out_channels=3, layers_per_block=1,
        block_out_channels=(32, 64, 96, 128),
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=16, attention_head_dim=32,
    ),
    "tiny": dict(
        sample_size=16, in_channels=3, out_channels=3, layers_per_block=1,
        block_out_channels=(8, 16), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=4, attention_head_dim=8,
    ),
}


@dataclass
class TrainConfig:
    out: str = "runs/faces"
    unet: str = "faces8"  # a key of UNET_PRESETS
    steps: int = 20_000
    batch: int = 64
    lr: float = 3e-4
    warmup: int = 300
    ema: float = 0.999  # window ~1,000 steps; warmed up as (1 + step) / (10 + step) early on
    seed: int = 0
    ckpt_minutes: float = 4.0
    sample_every: int = 1000  # steps between sample grids (0: never)
    threads: int = 0  # torch threads (0: torch's default)
    size: int = 32
    init: str = ""  # a pipeline folder (e.g. data/faces32) whose U-Net starts a fresh run (EMA included)
    device: str = "cpu"  # "cuda" when a GPU is lent; the faces are still rendered on the CPU
    minutes: float = 0.0  # stop (and save) after this much wall time; 0: run to `steps`


def build_unet(preset: str) -> UNet2DModel:
    if preset not in UNET_PRESETS:
        raise ValueError(f"unet preset must be one of {sorted(UNET_PRESETS)}, got {preset!r}")
    return UNet2DModel(**UNET_PRESETS[preset])


def _save_state(path: Path, step: int, unet, ema, opt, cfg: TrainConfig) -> None:
    path.mkdir(parents=True, exist_ok=True)
    cpu = lambda sd: {k: torch.as_tensor(v).detach().cpu().contiguous() for k, v in sd.items()}  # noqa: E731
    save_file(cpu(unet.state_dict()), path / "model.tmp")
    save_file(cpu(ema.state_dict()), path / "ema.tmp")
    flat = {f"{i}.{k}": v for i, s in opt.state_dict()["state"].items() for k, v in s.items()}
    save_file(cpu(flat), path / "optim.tmp")
    (path / "state.tmp").write_text(json.dumps({"step": step, "config": dataclasses.asdict(cfg)}))
    for name in ("model", "ema", "optim"):  # rename last so a crash never leaves half a checkpoint
        (path / f"{name}.tmp").replace(path / f"{name}.safetensors")
    (path / "state.tmp").replace(path / "state.json")


def _load_state(path: Path, unet, ema, opt) -> int:
    unet.load_state_dict(load_file(path / "model.safetensors"))
    ema.load_state_dict(load_file(path / "ema.safetensors"))
    flat = load_file(path / "optim.safetensors")
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for key, v in flat.items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = v
    sd["state"] = state
    opt.load_state_dict(sd)
    return json.loads((path / "state.json").read_text())["step"]


def save_pipeline(unet: UNet2DModel, path: str | Path) -> None:
    """Save `unet` with diffusers' default `DDIMScheduler` (clip_sample=True) as a pipeline folder."""
    DDIMPipeline(unet=unet, scheduler=DDIMScheduler()).save_pretrained(path, safe_serialization=True)


def _sample_grid(unet: UNet2DModel, path: Path, n: int = 16, steps: int = 50) -> None:
    import matplotlib.pyplot as plt

    pipe = DDIMPipeline(unet=unet, scheduler=DDIMScheduler()).to(unet.device)
    pipe.set_progress_bar_config(disable=True)
    x = pipe(n, generator=torch.Generator().manual_seed(0), num_inference_steps=steps, output_type="np").images
    side = int(math.ceil(math.sqrt(n)))
    fig, axes = plt.subplots(side, side, figsize=(side, side), dpi=64)
    for ax, img in zip(axes.flat, x):
        ax.imshow(img)
    for ax in axes.flat:
        ax.axis("off")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def _batches(cfg: TrainConfig, start: int, n_alphas: int, workers: int = 4):
    """Yield `(x0, t, noise)` for steps `start, start + 1, ...`, rendered ahead in worker threads.

    Each step's batch depends only on the seed and the step, so a resumed run sees the same data and
    the prefetch order cannot change it; the threads overlap rendering with the training step (torch
    releases the GIL), which matters on a GPU, where rendering would otherwise be the bottleneck.
    """
    from concurrent.futures import ThreadPoolExecutor

    def make(step: int):
        x0, _ = render_faces(cfg.batch, seed=cfg.seed * 10_000_000 + step, size=cfg.size)
        g = torch.Generator().manual_seed(cfg.seed * 10_000_000 + step)
        t = torch.randint(0, n_alphas, (cfg.batch,), generator=g)
        return x0, t, torch.randn(x0.shape, generator=g)

    pool = ThreadPoolExecutor(workers)
    try:
        ahead = [pool.submit(make, s) for s in range(start, min(start + 2 * workers, cfg.steps))]
        for step in range(start, cfg.steps):
            batch = ahead.pop(0).result()
            if step + 2 * workers < cfg.steps:
                ahead.append(pool.submit(make, step + 2 * workers))
            yield batch
    finally:  # a run that stops early (--minutes) does not wait for the batches rendered ahead
        pool.shutdown(wait=False, cancel_futures=True)


def train(cfg: TrainConfig, progress: bool = True) -> UNet2DModel:
    """Train (or resume) the faces diffusion model; returns the EMA U-Net."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        device = torch.device(cfg.device)
    except RuntimeError:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got {cfg.device!r}") from None
    if cfg.minutes < 0:
        raise ValueError(f"minutes must be >= 0 (0: no time limit), got {cfg.minutes!r}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    unet, ema = build_unet(cfg.unet).to(device), build_unet(cfg.unet).to(device)
    ema.load_state_dict(unet.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=0.0)
    if (out / "state" / "state.json").exists():  # load_state_dict moves the loaded tensors to the device
        step = _load_state(out / "state", unet, ema, opt)
    else:
        step = 0
        if cfg.init:  # no checkpoint here: start from shipped weights (optimizer state is not shipped)
            weights = load_file(Path(cfg.init) / "unet" / "diffusion_pytorch_model.safetensors")
            unet.load_state_dict(weights)
            ema.load_state_dict(weights)
    alphas = DDIMScheduler().alphas_cumprod.to(device)
    t0 = last_ckpt = time.time()
    bar = tqdm(range(step, cfg.steps), initial=step, total=cfg.steps, disable=not progress)
    for step, (x0, t, noise) in zip(bar, _batches(cfg, step, len(alphas))):
        x0, t, noise = x0.to(device), t.to(device), noise.to(device)
        a = alphas[t].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        loss = torch.nn.functional.mse_loss(unet(x_t, t).sample, noise)
        for group in opt.param_groups:
            group["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        decay = min(cfg.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(list(ema.parameters()), list(unet.parameters()), 1 - decay)
        done = step + 1
        out_of_time = cfg.minutes > 0 and time.time() - t0 > 60 * cfg.minutes
        if done % 50 == 0 or done == cfg.steps or out_of_time:
            bar.set_postfix(loss=f"{loss.item():.4f}")  # .item() syncs a GPU: not every step
        if time.time() - last_ckpt > 60 * cfg.ckpt_minutes or done == cfg.steps or out_of_time:
            _save_state(out / "state", done, unet, ema, opt, cfg)
            save_pipeline(ema, out / "pipeline")
            with open(out / "log.txt", "a") as f:
                f.write(f"{done} {loss.item():.5f} {time.strftime('%H:%M:%S')}\n")
            last_ckpt = time.time()
        if cfg.sample_every and (done % cfg.sample_every == 0 or out_of_time):
            _sample_grid(ema, out / f"samples_{done:06d}.png")
        if out_of_time:
            break
    bar.close()
    return ema


def _parse(argv=None) -> TrainConfig:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in dataclasses.fields(TrainConfig):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    return TrainConfig(**vars(p.parse_args(argv)))


if __name__ == "__main__":
    train(_parse())
