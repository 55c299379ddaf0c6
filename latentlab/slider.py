"""Concept Sliders: a low-rank direction in the U-Net's weights, trained from image pairs, applied at a scale.

A slider is a LoRA adapter (peft's `LoraConfig`, Hu et al. 2022) on the U-Net: W + s (alpha / r) B A
at every targeted layer, with the slider's scale s set at inference (s < 0 reverses the edit, s = 0
is the base model). The image-pair variant trains it from pairs that differ in one attribute only;
the kit's renderer gives such pairs exactly (`render_faces` with the same seed, the attribute pinned
at its two ends), so no probe takes part in training (neither the main probe nor the judge).

The objective, as the authors' image-slider script trains it: both images of a pair are noised to
the same t with the same noise z; the U-Net with the slider at +1 must predict z from the "high"
image's x_t, and at -1 from the "low" image's x_t:

    L = || eps_{theta + dtheta}(x_t(high), t) - z ||^2 + || eps_{theta - dtheta}(x_t(low), t) - z ||^2

(the two gradients are accumulated into one optimiser step). The frozen base is untouched; what the
pair has in common is already predicted by theta, so dtheta learns the attribute. At inference the
authors keep the slider off at the noisiest steps so the layout forms first (their SD-1 notebook:
off while t > 800 of 1000), then on: `sample_with_slider(..., t_on=800)` does the same.

Layers: the authors' default network ("c3lier", training method "noxattn") puts LoRA on every Linear
and Conv2d inside the U-Net's attention, resnet, downsample and upsample blocks, except cross-attention
and the time embedding; rank 4, alpha 1 (`PAPER_SETTINGS`). `slider_targets` lists those layers of any
diffusers U-Net.

    python benchmarks/train_sliders.py  # trains and ships data/sliders/<attr>/

References
- Gandikota, Materzynska, Zhou, Torralba & Bau (2024), "Concept Sliders: LoRA Adaptors for Precise
  Control in Diffusion Models", ECCV (arXiv 2311.12092); the image-based slider as trained by
  github.com/rohitgandikota/sliders, trainscripts/imagesliders/train_lora-scale.py and its config.yaml.
- Hu et al. (2022), "LoRA: Low-Rank Adaptation of Large Language Models", ICLR.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model, set_peft_model_state_dict
from peft.tuners.lora import LoraLayer
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from tqdm.auto import tqdm

from .ddim import ddim_sample, eps_from_output
from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, render_faces
from .hspace import eps_of_batch
from .model import Model, check_x

__all__ = ["Slider", "PAPER_SETTINGS", "SLIDER_SETTINGS", "SLIDERS_DIR", "slider_targets", "train_slider",
           "save_slider", "load_slider", "shipped_sliders", "applied", "sample_with_slider"]

SLIDERS_DIR = Path(__file__).resolve().parent.parent / "data" / "sliders"
#: The authors' image-slider recipe (README command and trainscripts/imagesliders/data/config.yaml, SD 1.4):
#: rank 4, alpha 1, AdamW at lr 2e-4 (constant), 1000 iterations of one pair, t drawn from a 50-step grid
#: (indices 1 to 48), slider off at inference while t > 800 (SD1-sliders-inference.ipynb, `start_noise`).
PAPER_SETTINGS = {"rank": 4, "alpha": 1.0, "lr": 2e-4, "iterations": 1000, "batch": 1, "t_on": 800,
                  "blocks": ("Attention", "ResnetBlock2D", "Downsample2D", "Upsample2D")}
#: The kit's recipe for the bundled 32 px faces model: the paper's rank, alpha, layers and t_on; a batch
#: of 8 pairs and a larger step so that it trains in under 5 minutes on one CPU core.
SLIDER_SETTINGS = {"rank": 4, "alpha": 1.0, "lr": 2e-3, "steps": 200, "batch": 8, "n_pairs": 512, "t_on": 800}
_ADAPTER = "slider"
_PEFT_PREFIX = "base_model.model."  # a PeftModel's name for the wrapped U-Net in its saved files
_BLOCKS = PAPER_SETTINGS["blocks"]


@dataclass
class Slider:
    """A trained Concept Slider: a LoRA adapter whose scale s moves `attr` from `low` (s = -1) to `high` (s = +1).

    `state` is peft's adapter state dict (`get_peft_model_state_dict`: `<layer>.lora_A.weight`,
    `<layer>.lora_B.weight` for each layer of `targets`); `t_on`: the slider acts at the steps with
    t <= t_on. `info`: the training recipe, its time and the command that built it.
    """
    attr: str
    low: float
    high: float
    rank: int
    alpha: float
    targets: tuple[str, ...]
    state: dict[str, Tensor] = field(repr=False)
    t_on: int = PAPER_SETTINGS["t_on"]
    info: dict = field(default_factory=dict, repr=False)

    @property
    def goal(self) -> float:
        """The value s = +1 moves towards (`high`); s < 0 moves towards `low`."""
        return self.high

    def lora_config(self) -> LoraConfig:
        """peft's config of this adapter (no dropout, no bias: the slider is B A alone)."""
        return _lora_config(self.rank, self.alpha, self.targets)

    def delta(self, target: str) -> Tensor:
        """The weight change of layer `target` at scale 1, `(alpha / r) B A` in the layer's weight shape.

        >>> s = Slider("smile", -1.0, 1.0, 2, 1.0, ("l",), {"l.lora_A.weight": torch.ones(2, 3),
        ...                                                   "l.lora_B.weight": torch.ones(4, 2)})
        >>> s.delta("l")[0].tolist()
        [1.0, 1.0, 1.0]
        """
        A, B = self.state[f"{target}.lora_A.weight"], self.state[f"{target}.lora_B.weight"]
        # a conv LoRA: A is a conv with the layer's kernel, B a 1x1 conv; their product keeps A's kernel
        return self.alpha / self.rank * torch.einsum("or,rk->ok", B.flatten(1), A.flatten(1)).reshape(
            B.shape[0], *A.shape[1:])


def _lora_config(rank: int, alpha: float, targets) -> LoraConfig:
    return LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, bias="none", target_modules=list(targets))


def slider_targets(unet: nn.Module) -> tuple[str, ...]:
    """The layers a slider adapts (the authors' "c3lier" + "noxattn"): every Linear and Conv2d inside an
    attention, resnet, downsample or upsample block, except cross-attention (`attn2`) and the time embedding.

    >>> from latentlab import tiny_model
    >>> t = slider_targets(tiny_model().unet)
    >>> len(t), t[0], "conv_in" in t
    (47, 'down_blocks.0.resnets.0.conv1', False)
    """
    blocks = [n for n, m in unet.named_modules() if type(m).__name__ in _BLOCKS]
    out = []
    for name, m in unet.named_modules():
        if not isinstance(m, (nn.Linear, nn.Conv2d)) or "attn2" in name or "time_embed" in name:
            continue
        if any(name.startswith(b + ".") for b in blocks):
            out.append(name)
    return tuple(out)


def _check_attr(attr: str) -> tuple[float, float]:
    if attr not in ATTRIBUTES:
        raise ValueError(f"attr must be one of {', '.join(ATTRIBUTES)}, got {attr!r}")
    return ATTRIBUTES[attr]


def _check_fits(unet: nn.Module, slider: Slider) -> None:
    """A clear error unless every layer the slider adapts exists in `unet` with the shapes of its A and B."""
    modules = dict(unet.named_modules())
    for target in slider.targets:
        m = modules.get(target)
        A, B = slider.state.get(f"{target}.lora_A.weight"), slider.state.get(f"{target}.lora_B.weight")
        if A is None or B is None:
            raise ValueError(f"the {slider.attr} slider's state has no LoRA weights for its target {target!r}")
        if isinstance(m, nn.Conv2d):
            want_A = (slider.rank, m.in_channels // m.groups, *m.kernel_size)
            want_B = (m.out_channels, slider.rank, 1, 1)
        elif isinstance(m, nn.Linear):
            want_A, want_B = (slider.rank, m.in_features), (m.out_features, slider.rank)
        else:
            raise ValueError(f"the {slider.attr} slider does not fit this model's U-Net: it adapts {target!r}, "
                             f"which the U-Net {'lacks' if m is None else 'has as a ' + type(m).__name__}")
        if tuple(A.shape) != want_A or tuple(B.shape) != want_B:
            raise ValueError(f"the {slider.attr} slider does not fit this model's U-Net: layer {target!r} needs "
                             f"A {want_A} and B {want_B}, the slider has A {tuple(A.shape)} and B {tuple(B.shape)}")


@contextlib.contextmanager
def _injected(unet: nn.Module, config: LoraConfig, state: dict[str, Tensor] | None = None) -> Iterator[list]:
    """peft's LoRA layers in `unet` for the duration (fresh, or loaded from `state`); yields them.

    On exit every adapted layer is replaced by its own base layer again and the parameters' requires_grad
    flags are restored, so the U-Net is the same module tree with the same tensors as before.
    """
    flags = {n: p.requires_grad for n, p in unet.named_parameters()}
    had_config = hasattr(unet, "peft_config")
    inject_adapter_in_model(config, unet, adapter_name=_ADAPTER)
    try:
        if state is not None:
            result = set_peft_model_state_dict(unet, state, adapter_name=_ADAPTER)
            if result.unexpected_keys:
                raise ValueError(f"the slider's state has weights for layers it did not adapt: "
                                 f"{result.unexpected_keys[:3]}")
        layers = [m for m in unet.modules() if isinstance(m, LoraLayer)]
        ref = next(unet.parameters())
        for m in layers:  # peft creates A and B in float32; keep the U-Net's device and dtype
            m.lora_A.to(device=ref.device, dtype=ref.dtype)
            m.lora_B.to(device=ref.device, dtype=ref.dtype)
        yield layers
    finally:
        for name, m in list(unet.named_modules()):
            if isinstance(m, LoraLayer):
                parent, _, child = name.rpartition(".")
                setattr(unet.get_submodule(parent) if parent else unet, child, m.get_base_layer())
        if not had_config and hasattr(unet, "peft_config"):
            del unet.peft_config
        for n, p in unet.named_parameters():
            p.requires_grad_(flags[n])


def _set_scale(layers: list, scale: float) -> None:
    for m in layers:
        m.set_scale(_ADAPTER, scale)  # peft: scaling = scale * alpha / r


@contextlib.contextmanager
def applied(model: Model, slider: Slider, scale: float = 1.0, *, t_on: int | None = None) -> Iterator[Model]:
    """The model with `slider` at `scale` inside the block (peft's LoRA layers, unmerged); the model as it
    was after it (the same modules and tensors, bit for bit). With `t_on`, the slider acts only in U-Net
    calls at timesteps t <= t_on (scale 0 above), as the authors sample (Gandikota et al. 2024).

    Not thread-safe: the U-Net itself is modified for the duration.

    >>> from latentlab import tiny_model
    >>> m = tiny_model(); x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> s = train_slider(m, "smile", steps=1, batch=1, n_pairs=1, progress=False)
    >>> with applied(m, s, -1.0):
    ...     y = m.unet(x, 500).sample
    >>> y.shape
    torch.Size([1, 3, 16, 16])
    """
    if not isinstance(slider, Slider):
        raise TypeError(f"slider must be a Slider (train_slider, load_slider), got {type(slider).__name__}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not torch.isfinite(torch.tensor(scale)):
        raise ValueError(f"scale must be a finite number (negative reverses the slider), got {scale!r}")
    T = model.num_train_timesteps
    if t_on is not None and (isinstance(t_on, bool) or not isinstance(t_on, int) or not 0 <= t_on < T):
        raise ValueError(f"t_on must be None (every step) or an integer timestep in [0, {T - 1}], got {t_on!r}")
    unet = model.unet
    _check_fits(unet, slider)
    with _injected(unet, slider.lora_config(), slider.state) as layers:
        _set_scale(layers, float(scale))
        handle = None
        if t_on is not None:
            def gate(module, args, kwargs):
                t = args[1] if len(args) > 1 else kwargs["timestep"]
                t = torch.as_tensor(t)
                if t.dim() and not (t == t.flatten()[0]).all():
                    raise ValueError(f"a slider gated by t_on needs one timestep per U-Net call, got {t.tolist()}")
                _set_scale(layers, float(scale) if int(t.flatten()[0]) <= t_on else 0.0)
            handle = unet.register_forward_pre_hook(gate, with_kwargs=True)
        try:
            yield model
        finally:
            if handle is not None:
                handle.remove()


def sample_with_slider(model: Model, slider: Slider, x_T: Tensor, steps: int = 20, scale: float = 1.0, *,
                       t_on: int | None = -1, progress: bool = False, **sample_options) -> Tensor:
    """DDIM samples from `x_T` with the slider at `scale` at the steps t <= t_on (`ddim_sample` inside `applied`).

    Args:
        t_on: -1 (default): the slider's own `t_on` (the authors': 800 of 1000); None: every step.
        sample_options: go to `ddim_sample` (eta, generator, clip, callback, ...).

    >>> from latentlab import tiny_model
    >>> m = tiny_model(); x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> s = train_slider(m, "glasses", steps=1, batch=1, n_pairs=1, progress=False)
    >>> sample_with_slider(m, s, x, 2, scale=0.0).equal(ddim_sample(m, x, 2, progress=False))
    True
    """
    x, _ = check_x(model, x_T, "x_T")
    with applied(model, slider, scale, t_on=slider.t_on if t_on == -1 else t_on):
        return ddim_sample(model, x_T, steps, progress=progress, **sample_options)


def train_slider(model: Model, attr: str, *, low: float | None = None, high: float | None = None,
                 rank: int = SLIDER_SETTINGS["rank"], alpha: float = SLIDER_SETTINGS["alpha"],
                 steps: int = SLIDER_SETTINGS["steps"], batch: int = SLIDER_SETTINGS["batch"],
                 lr: float = SLIDER_SETTINGS["lr"], n_pairs: int = SLIDER_SETTINGS["n_pairs"], seed: int = 0,
                 t_on: int = SLIDER_SETTINGS["t_on"], targets: tuple[str, ...] | None = None,
                 progress: bool = True, history: list | None = None) -> Slider:
    """Train an image-pair Concept Slider (Gandikota et al. 2024) on renders that differ in `attr` only.

    Each step draws `batch` of the `n_pairs` pairs, one t uniform in [1, T - 1] and one noise z per pair
    shared by its two images; the loss is MSE(eps at +1 on x_t(high), z) + MSE(eps at -1 on x_t(low), z),
    AdamW on the LoRA's A and B only (the U-Net is frozen and left as it was).

    Args:
        attr: an attribute of `ATTRIBUTES`; low, high: its two values (default: the ends of its range).
        rank, alpha: the LoRA's (scaling alpha / rank). steps: optimiser steps. lr: AdamW's step.
        targets: the adapted layers (default `slider_targets(model.unet)`).
        history: if a list, gets one dict per step (`t`, `loss`).

    >>> from latentlab import tiny_model
    >>> s = train_slider(tiny_model(), "smile", steps=2, batch=2, n_pairs=4, progress=False)
    >>> s.attr, s.low, s.high, s.rank, len(s.state) == 2 * len(s.targets)
    ('smile', -1.0, 1.0, 4, True)
    """
    lo_range, hi_range = _check_attr(attr)
    low = lo_range if low is None else low
    high = hi_range if high is None else high
    for name, v in (("low", low), ("high", high)):
        if (isinstance(v, bool) or not isinstance(v, (int, float)) or not lo_range <= v <= hi_range
                or (attr in BINARY_ATTRIBUTES and v not in (0, 1))):
            allowed = "0 or 1" if attr in BINARY_ATTRIBUTES else f"a number in [{lo_range}, {hi_range}]"
            raise ValueError(f"{name} must be {allowed} for {attr}, got {v!r}")
    if low == high:
        raise ValueError(f"low and high must differ, got {low!r} for both")
    for name, v in (("rank", rank), ("steps", steps), ("batch", batch), ("n_pairs", n_pairs)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    for name, v in (("alpha", alpha), ("lr", lr)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise ValueError(f"{name} must be a number > 0, got {v!r}")
    C, H, W = model.sample_shape
    if model.vae is not None or C != 3 or H != W or H % 8 or not 16 <= H <= 128:
        raise ValueError(f"train_slider trains on the kit's renders: a pixel-space model of 3 x S x S samples "
                         f"(S a multiple of 8 from 16 to 128), got samples {model.sample_shape}"
                         f"{' through a VAE' if model.vae is not None else ''}")
    T = model.num_train_timesteps
    unet = model.unet
    targets = slider_targets(unet) if targets is None else tuple(targets)
    if not targets:
        raise ValueError("this U-Net has no layer a slider adapts (Linear or Conv2d in attention, resnet, "
                         "down- or upsample blocks)")
    # the renderer draws at 32 px and more; a smaller model (the tiny test models) gets them pooled down
    size = max(32, H)
    x_lo = render_faces(n_pairs, seed=seed, size=size, **{attr: float(low)})[0]
    x_hi = render_faces(n_pairs, seed=seed, size=size, **{attr: float(high)})[0]
    if size != H:
        x_lo, x_hi = F.adaptive_avg_pool2d(x_lo, H), F.adaptive_avg_pool2d(x_hi, H)
    device, dtype = model.device, model.dtype
    x_lo, x_hi = x_lo.to(device=device, dtype=dtype), x_hi.to(device=device, dtype=dtype)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # peft initialises A from the global generator (Kaiming uniform; B starts at 0)
    ac = model.scheduler.alphas_cumprod
    start, cpu = time.time(), time.process_time()
    with _injected(unet, _lora_config(rank, alpha, targets)) as layers:
        params = [p for m in layers for p in (*m.lora_A.parameters(), *m.lora_B.parameters())]
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.AdamW(params, lr=lr)
        bar = tqdm(range(steps), disable=not progress, desc=f"slider {attr}")
        for _ in bar:
            idx = torch.randint(n_pairs, (batch,), generator=g)
            t = int(torch.randint(1, T, (1,), generator=g))
            z = torch.randn(batch, C, H, W, generator=g).to(device=device, dtype=dtype)
            a = ac[t].to(device=device, dtype=dtype)
            tb = torch.full((batch,), t, dtype=torch.long, device=device)
            opt.zero_grad(set_to_none=True)
            total = 0.0
            for s, x0 in ((1.0, x_hi[idx]), (-1.0, x_lo[idx])):
                _set_scale(layers, s)
                x_t = a.sqrt() * x0 + (1 - a).sqrt() * z
                loss = F.mse_loss(eps_from_output(model, eps_of_batch(model, x_t, tb), x_t, t).float(), z.float())
                loss.backward()  # accumulated: one step for the pair of scales, as the authors do
                total += loss.item()
            opt.step()
            if history is not None:
                history.append({"t": t, "loss": total})
            bar.set_postfix(loss=f"{total:.4f}")
        state = {k: v.detach().cpu().float().clone().contiguous()
                 for k, v in get_peft_model_state_dict(unet, adapter_name=_ADAPTER).items()}
    info = {"steps": steps, "batch": batch, "lr": lr, "n_pairs": n_pairs, "seed": seed,
            "seconds": round(time.time() - start, 1), "cpu_seconds": round(time.process_time() - cpu, 1),
            "objective": "image pairs, +1 on high, -1 on low"}
    return Slider(attr, float(low), float(high), rank, float(alpha), targets, state, t_on, info)


def save_slider(slider: Slider, folder: str | Path, command: str | None = None) -> Path:
    """Write peft's adapter files (`adapter_config.json`, `adapter_model.safetensors`, as
    `PeftModel.save_pretrained` writes them: `PeftModel.from_pretrained(model.unet, folder)` loads it) and
    `slider.json` (attribute, ends, t_on, training recipe and time, the command that built it).

    >>> import tempfile
    >>> from latentlab import tiny_model
    >>> s = train_slider(tiny_model(), "glasses", steps=1, batch=1, n_pairs=1, progress=False)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_slider(s, d)
    ...     sorted(p.name for p in Path(d).iterdir())
    ['adapter_config.json', 'adapter_model.safetensors', 'slider.json']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    slider.lora_config().save_pretrained(str(folder))
    # keys as PeftModel.save_pretrained writes them, so `PeftModel.from_pretrained(unet, folder)` loads the slider
    save_file({_PEFT_PREFIX + k: v.contiguous() for k, v in slider.state.items()}, folder / "adapter_model.safetensors")
    meta = {k: v for k, v in asdict(slider).items() if k != "state"}
    meta["targets"] = list(slider.targets)
    meta["command"] = command
    (folder / "slider.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def _read_folder(folder: Path) -> Slider:
    paths = [folder / "slider.json", folder / "adapter_model.safetensors"]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"slider file missing: {p}")
    try:
        meta = json.loads(paths[0].read_text())
        info = dict(meta.get("info", {}), command=meta.get("command"))
        slider = Slider(meta["attr"], float(meta["low"]), float(meta["high"]), int(meta["rank"]),
                        float(meta["alpha"]), tuple(meta["targets"]), {}, int(meta["t_on"]), info)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{paths[0]} is not a slider config as save_slider writes it: "
                         f"{type(e).__name__}: {e}") from None
    try:
        state = load_file(paths[1])
    except Exception as e:  # safetensors' own error for a truncated file
        raise ValueError(f"{paths[1]} is not a readable safetensors file ({type(e).__name__}: {e})") from None
    slider.state = {k.removeprefix(_PEFT_PREFIX): v for k, v in state.items()}
    return slider


def shipped_sliders() -> list[str]:
    """The attributes with a slider shipped in `data/sliders/`.

    >>> set(shipped_sliders()) >= {"smile", "glasses"}
    True
    """
    return sorted(p.parent.name for p in SLIDERS_DIR.glob("*/slider.json"))


def load_slider(attr: str, goal: float | None = None, *, folder: str | Path | None = None) -> Slider:
    """A shipped slider (`data/sliders/<attr>/`), or the one `save_slider` wrote to `folder`.

    One slider serves both directions: scale > 0 moves towards `slider.high`, < 0 towards `slider.low`;
    `goal`, if given, must be one of the two (the registry's sign is +1 towards `high`).

    >>> s = load_slider("smile")
    >>> s.attr, s.low, s.high, s.rank, s.t_on
    ('smile', -1.0, 1.0, 4, 800)
    """
    if folder is not None:
        slider = _read_folder(Path(folder))
        if attr is not None and slider.attr != attr:
            raise ValueError(f"attr={attr!r} was asked for, but the slider in {folder} is for {slider.attr!r}")
    else:
        _check_attr(attr)
        if not (SLIDERS_DIR / attr / "slider.json").is_file():
            raise ValueError(f"no shipped slider for attr={attr!r}; shipped: {', '.join(shipped_sliders()) or 'none'}"
                             " (train one with benchmarks/train_sliders.py)")
        slider = _read_folder(SLIDERS_DIR / attr)
    if goal is not None and goal not in (slider.low, slider.high):
        raise ValueError(f"goal must be one of the {slider.attr} slider's ends {slider.low:g} (scale < 0) or "
                         f"{slider.high:g} (scale > 0), got {goal!r}")
    return slider
