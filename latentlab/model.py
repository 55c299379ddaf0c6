"""The model: a diffusers U-Net with its DDIM scheduler, loaded from safetensors only.

`load_model()` gives the bundled faces model, a local diffusers folder (pipeline or bare U-Net) or
a hub id; `tiny_model()` builds a random-weight U-Net from a config, for tests and doctests.
The input checks every public function shares live here too (`_check_x`, `_check_t`).
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch
from diffusers import DDIMScheduler, UNet2DConditionModel, UNet2DModel
from torch import Tensor, nn

__all__ = ["Model", "load_model", "tiny_model", "forward_ad", "BUNDLED_MODEL"]

#: The faces model shipped with the kit (see `python -m latentlab.train`).
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "data" / "faces32"
_UNETS = {"UNet2DModel": UNet2DModel, "UNet2DConditionModel": UNet2DConditionModel}
_PICKLE = (".bin", ".ckpt", ".pt", ".pth", ".pkl")


@dataclass
class Model:
    """A U-Net, its DDIM scheduler and, for a conditional U-Net, the conditioning it is called with.

    `cond` is the `encoder_hidden_states` passed to every call of a `UNet2DConditionModel`,
    `(1, L, D)` (broadcast over the batch) or `(B, L, D)`; zeros by default (set it to a text
    embedding to steer). It is ignored by an unconditional `UNet2DModel`.
    """

    unet: UNet2DModel | UNet2DConditionModel
    scheduler: DDIMScheduler
    cond: Tensor | None = field(default=None)

    def __post_init__(self) -> None:
        if self.conditional and self.cond is None:
            p = next(self.unet.parameters())
            dim = self.unet.config.cross_attention_dim
            self.cond = torch.zeros(1, 77, dim, device=p.device, dtype=p.dtype)

    @property
    def conditional(self) -> bool:
        return isinstance(self.unet, UNet2DConditionModel)

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        c = self.unet.config
        s = c.sample_size if isinstance(c.sample_size, (tuple, list)) else (c.sample_size,) * 2
        return (c.in_channels, int(s[0]), int(s[1]))

    @property
    def h_shape(self) -> tuple[int, int, int]:
        """Shape of one sample's h: the middle block keeps the last down block's resolution."""
        c = self.unet.config
        factor = 2 ** (len(c.block_out_channels) - 1)
        _, H, W = self.sample_shape
        return (c.block_out_channels[-1], H // factor, W // factor)

    @property
    def num_train_timesteps(self) -> int:
        return int(self.scheduler.config.num_train_timesteps)

    def to(self, device=None, dtype=None) -> "Model":
        self.unet.to(device=device, dtype=dtype)
        if self.cond is not None:
            self.cond = self.cond.to(device=device, dtype=dtype)
        return self


def _find_weights(folder: Path) -> Path:
    files = sorted(folder.glob("*.safetensors"))
    if files:
        return files[0]
    pickles = [p.name for p in folder.iterdir() if p.suffix in _PICKLE]
    if pickles:
        raise ValueError(
            f"{folder} holds only pickle weights ({', '.join(pickles)}); latentlab loads safetensors "
            "only. Convert them once with diffusers (`save_pretrained(..., safe_serialization=True)`)."
        )
    raise FileNotFoundError(f"no weights (*.safetensors) in {folder}")


def _load_unet(folder: Path, device, dtype) -> UNet2DModel | UNet2DConditionModel:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"no U-Net config: {config_file} does not exist")
    try:
        name = json.loads(config_file.read_text()).get("_class_name")
    except json.JSONDecodeError as e:
        raise ValueError(f"{config_file} is not valid JSON: {e}") from None
    if name not in _UNETS:
        raise ValueError(f"{config_file} describes a {name!r}, not a U-Net; allowed: {', '.join(_UNETS)}")
    weights = _find_weights(folder)
    try:
        unet = _UNETS[name].from_pretrained(folder, use_safetensors=True, torch_dtype=dtype, low_cpu_mem_usage=False)
    except Exception as e:  # truncated or corrupt file: name the file, not diffusers' internals
        raise ValueError(f"could not load U-Net weights {weights}: {type(e).__name__}: {e}") from None
    return unet.to(device).eval().requires_grad_(False)


def _load_folder(folder: Path, device, dtype) -> Model:
    if (folder / "model_index.json").is_file():
        unet = _load_unet(folder / "unet", device, dtype)
        sched_cfg = folder / "scheduler" / "scheduler_config.json"
        config = json.loads(sched_cfg.read_text()) if sched_cfg.is_file() else {}
        # Any scheduler's config (DDPM, PNDM, ...) carries the training schedule DDIM needs.
        scheduler = DDIMScheduler.from_config(config) if config else DDIMScheduler()
    else:
        unet = _load_unet(folder, device, dtype)
        scheduler = DDIMScheduler()
    return Model(unet, scheduler)


def load_model(
    source: str | Path | None = None, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> Model:
    """Load a diffusion model: the bundled faces model, a local diffusers folder, or a hub id.

    Args:
        source: `None` for the bundled model; a pipeline folder (`model_index.json`, `unet/`,
            `scheduler/`) or a bare U-Net folder (`config.json` + weights, given a default
            `DDIMScheduler`); or a hub id like `"google/ddpm-ema-celebahq-256"` (needs network).
        device, dtype: where and in which precision the U-Net lives.

    Weights load from safetensors only; pickle-only folders are refused.

    >>> m = load_model()                                  # doctest: +SKIP
    >>> m.sample_shape                                    # doctest: +SKIP
    (3, 32, 32)
    """
    if source is None:
        if not BUNDLED_MODEL.is_dir():
            raise FileNotFoundError(f"the bundled model is missing: {BUNDLED_MODEL} does not exist")
        return _load_folder(BUNDLED_MODEL, device, dtype)
    if not isinstance(source, (str, Path)):
        raise TypeError(f"source must be None, a folder path or a hub id, got {type(source).__name__}")
    path = Path(source).expanduser()
    if path.is_dir():
        return _load_folder(path, device, dtype)
    text = str(source)
    looks_like_hub_id = text.count("/") == 1 and not text.startswith((".", "/", "~")) and not path.suffix
    if not looks_like_hub_id:
        raise FileNotFoundError(f"source {text!r} is not an existing folder (nor a hub id 'owner/name')")
    from huggingface_hub import snapshot_download

    local = snapshot_download(text, allow_patterns=["*.json", "*.safetensors", "*/*.json", "*/*.safetensors"])
    return _load_folder(Path(local), device, dtype)


def tiny_model(*, conditional: bool = False, seed: int = 0, sample_size: int = 16, levels: int = 2) -> Model:
    """A random-weight U-Net of a few thousand parameters, built from a config (for tests).

    >>> m = tiny_model()
    >>> m.sample_shape, m.h_shape
    ((3, 16, 16), (16, 8, 8))
    """
    torch.manual_seed(seed)  # diffusers initialises from the global generator
    channels = tuple(8 * 2 ** min(i, 1) for i in range(levels))
    common = dict(
        sample_size=sample_size, in_channels=3, out_channels=3, layers_per_block=1,
        block_out_channels=channels, norm_num_groups=4,
    )
    if conditional:
        unet = UNet2DConditionModel(
            **common, cross_attention_dim=8, attention_head_dim=4,
            down_block_types=("CrossAttnDownBlock2D",) + ("DownBlock2D",) * (levels - 1),
            up_block_types=("UpBlock2D",) * (levels - 1) + ("CrossAttnUpBlock2D",),
        )
    else:
        unet = UNet2DModel(
            **common, attention_head_dim=8,
            down_block_types=("DownBlock2D",) * (levels - 1) + ("AttnDownBlock2D",),
            up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (levels - 1),
        )
    model = Model(unet.eval().requires_grad_(False), DDIMScheduler())
    if conditional:
        model.cond = torch.randn(1, 5, 8, generator=torch.Generator().manual_seed(seed))
    return model


@contextlib.contextmanager
def forward_ad(model: Model) -> Iterator[Model]:
    """Make the U-Net differentiable in forward mode (`torch.func.jvp`, `jacfwd`) on every device.

    Two things break forward AD through a diffusers U-Net on the CPU: the fused attention kernels
    have no forward-AD rule (the MATH backend has), and GroupNorm's rule fails on the
    non-contiguous tensors that attention hands it. Inside this context both are mended.

    >>> m = tiny_model(); x = torch.randn(1, 3, 16, 16); v = torch.randn_like(x)
    >>> with forward_ad(m):
    ...     y, jv = torch.func.jvp(lambda x: m.unet(x, 10).sample, (x,), (v,))
    >>> jv.shape
    torch.Size([1, 3, 16, 16])
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    contiguous = lambda module, args: (args[0].contiguous(), *args[1:])  # noqa: E731
    handles = [m.register_forward_pre_hook(contiguous) for m in model.unet.modules() if isinstance(m, nn.GroupNorm)]
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield model
    finally:
        for h in handles:
            h.remove()


# ----------------------------------------------------------------------------- input checks


def _check_x(model: Model, x, name: str = "x_t") -> tuple[Tensor, bool]:
    """Validate an image batch; returns it as (B, C, H, W) and whether it came in unbatched."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4):
        raise ValueError(f"{name} must have shape (B, C, H, W) or (C, H, W), got shape {tuple(x.shape)}")
    single = x.dim() == 3
    xb = x[None] if single else x
    if tuple(xb.shape[1:]) != model.sample_shape:
        raise ValueError(
            f"{name} must have per-sample shape {model.sample_shape} for this model, got {tuple(xb.shape[1:])}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if not torch.isfinite(xb).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return xb, single


def _check_t(model: Model, t, batch: int, name: str = "t") -> Tensor:
    """Validate a timestep (int, 0-d or (B,) tensor); returns a (B,) long tensor."""
    T = model.num_train_timesteps
    if isinstance(t, bool) or not isinstance(t, (int, Tensor)):
        raise TypeError(f"{name} must be an int or an integer tensor, got {type(t).__name__}")
    tt = torch.as_tensor(t)
    if tt.is_floating_point() and not (tt == tt.round()).all():
        raise ValueError(f"{name} must be an integer timestep, got {t}")
    tt = tt.long().flatten() if tt.dim() else tt.long().expand(batch)
    if tt.shape != (batch,):
        raise ValueError(f"{name} must be a scalar or have shape ({batch},), got shape {tuple(torch.as_tensor(t).shape)}")
    if tt.min() < 0 or tt.max() >= T:
        raise ValueError(f"{name} must lie in [0, {T}) (the training schedule), got {t if tt.numel() == 1 else tt.tolist()}")
    return tt.to(next(model.unet.parameters()).device)
