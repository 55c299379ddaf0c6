"""Exercise checks of lab 09 (lecture 09, real checkpoints): how h scales with the input (09.1), what a pullback
costs (09.2), a checkpoint folder in safetensors only (09.3), and h read by a forward hook (09.4).

The references are the celebahq-256 config, the call's own product count, the two U-Nets' own
forward passes, and the package's `latentlab.h_of`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import latentlab as ll
from latentlab.architectures import CELEBAHQ_256_UNET

from .feedback import Hint, as_model, as_number, as_tensor, call_answer, checker, is_close

__all__ = ["check_h_scaling", "check_pullback_cost", "check_checkpoint_folder", "check_h_by_hook"]


def _shape3(x: Any, name: str) -> tuple[int, ...]:
    """A shape (C, H, W) from a tuple, list, torch.Size or tensor of three whole numbers, or a `Hint`."""
    if isinstance(x, Tensor) and x.dim() > 1:
        raise Hint(f"`{name}` should be a shape, like `tuple(h.shape[1:])`, not the tensor h itself.")
    t = as_tensor(list(x) if isinstance(x, torch.Size) else x, name)
    if t.dim() != 1 or (t != t.round()).any() or (t < 1).any():
        raise Hint(f"`{name}` should be a shape: three whole numbers (channels, height, width).")
    if len(t) == 4:
        raise Hint(f"`{name}` has four numbers; drop the batch dimension: (channels, height, width).")
    if len(t) != 3:
        raise Hint(f"`{name}` should hold three numbers (channels, height, width), yours holds {len(t)}.")
    return tuple(int(v) for v in t.tolist())


@checker("09.1 h at scale", ("h_256", "h_128", "factor"),
         "Fill in `h_256` and `h_128` (h's shape (C, H, W) for inputs "
         "of 256 and 128 px) and `factor` (input side / h's side).")
def check_h_scaling(h_256: Any, h_128: Any, factor: Any, width: int = 16) -> str:
    """Exercise 09.1: h of celebahq-256 at reduced width, from the config alone: C = last block's channels / width,
    side = input side / 2^(levels - 1) (one downsampling between levels, none after the last).

    >>> check_h_scaling((32, 8, 8), (32, 4, 4), 32).ok
    True
    """
    chans = CELEBAHQ_256_UNET["block_out_channels"]
    C, want_f = chans[-1] // width, 2 ** (len(chans) - 1)
    want = {256: (C, 256 // want_f, 256 // want_f), 128: (C, 128 // want_f, 128 // want_f)}
    got = {256: _shape3(h_256, "h_256"), 128: _shape3(h_128, "h_128")}
    for size, name in ((256, "h_256"), (128, "h_128")):
        g = got[size]
        if g == (chans[-1], *want[size][1:]):
            raise Hint(f"`{name}` has the full-size model's {chans[-1]} channels; at width={width} every channel "
                       f"count is divided by {width}.")
        if g[0] != C:
            raise Hint(f"`{name}` has {g[0]} channels; h has the last block's channels ({chans[-1]} / width).")
        if g == (C, size, size) or g == (C, size // 2 ** len(chans), size // 2 ** len(chans)):
            raise Hint(f"`{name}`: count the downsamplings: {len(chans)} levels downsample {len(chans) - 1} times.")
    if got[128] == got[256]:
        raise Hint("`h_128` equals `h_256`: build the model with sample_size=128 "
                   "and look again; h's side follows the input's.")
    for size, name in ((256, "h_256"), (128, "h_128")):
        if got[size] != want[size]:
            raise Hint(f"`{name}` = {got[size]}, but a {size} px input gives h of shape {want[size]}: ask the model "
                       f"(`tuple(ll.h_of(m, x, 500).shape[1:])`).")
    f = as_number(factor, "factor")
    if f != want_f:
        if f == 2 ** len(chans):
            raise Hint(f"{len(chans)} levels downsample {len(chans) - 1} "
                       f"times (none after the last): 2^{len(chans) - 1}.")
        raise Hint(f"`factor` = {f:g}: divide the input's side by h's side ({256} / {want[256][1]}).")
    return (f"h is {C} x {256 // want_f} x {256 // want_f} at 256 px and {C} x {128 // want_f} x {128 // want_f} at "
            f"128 px: its side is the input's / {want_f}, its channels do not depend on the input, so its size grows "
            f"with the input's area.")


@checker("09.2 what a pullback costs", ("seconds", "info", "products_per_iter", "est_seconds"),
         "Fill in `seconds` and `info` (time `ll.pullback(..., k=3, max_iters=2, return_info=True)`), "
         "`products_per_iter` and `est_seconds`.")
def check_pullback_cost(seconds: Any, info: Any, products_per_iter: Any, est_seconds: Any, k: int = 3,
                        iters: int = 27) -> str:
    """Exercise 09.2: a block iteration of `pullback` costs k forward-mode products (J V) and k reverse-mode ones
    (U^T J), 2k in all; a run of `iters` iterations at the measured speed costs iters * 2k * seconds / products.

    >>> check_pullback_cost(1.2, {"iterations": 2, "products": 12}, 6, 16.2).ok
    True
    """
    s = as_number(seconds, "seconds")
    if s <= 0:
        raise Hint("`seconds` should be the wall time of your pullback call, a positive number (time.perf_counter()).")
    if not isinstance(info, dict) or not {"iterations", "products"} <= set(info):
        raise Hint("`info` should be the dict `ll.pullback(..., return_info=True)` returns as its second value.")
    done = int(info["products"])
    p = as_number(products_per_iter, "products_per_iter")
    if p != 2 * k:
        if p == k:
            raise Hint("J V gives the k forward-mode products; each iteration also needs k reverse-mode ones (U^T J).")
        if p == 2:
            raise Hint("That is per direction; a block iteration works on all k = 3 directions at once.")
        raise Hint(f"`products_per_iter` = {p:g}: count the Jacobian products of one block iteration for k = {k} "
                   f"(compare info['products'] / info['iterations']).")
    want = iters * 2 * k * s / done
    e = as_number(est_seconds, "est_seconds")
    if abs(e - want) <= 0.02 * want:
        return (f"{iters} iterations = {iters * 2 * k} products: about {want:.0f} s here. On celebahq-256 (14-82 s per "
                f"iteration on 2 CPU cores, depending on the load) the same run takes {iters * 14 / 60:.0f}-"
                f"{iters * 82 / 60:.0f} minutes.")
    if abs(e - iters * s) <= 0.02 * iters * s:
        raise Hint(f"Your time covered {info['iterations']} iterations, not one: divide by them (or by its "
                   f"{done} products) before multiplying.")
    if abs(e - iters * k * s / done) <= 0.02 * want:
        raise Hint("Use 2k products per iteration (forward and reverse), not k.")
    raise Hint(f"`est_seconds` = {e:.3g}: the cost of one product is seconds / info['products']; a run of {iters} "
               f"iterations needs {iters} x products_per_iter of them.")


@checker("09.3 a checkpoint folder, safetensors only", ("folder", "loaded", "refused"),
         "Fill in `folder` (where write_pipeline saved the model), `loaded` (load_model of it) and `refused` (the "
         "exception load_model raised on the pickle-only folder).")
def check_checkpoint_folder(model: Any, folder: Any, loaded: Any, refused: Any) -> str:
    """Exercise 09.3: the saved folder holds safetensors only, loads back to the same network (oracle: the two
    U-Nets' own forward passes), and a pickle-only folder is refused.

    >>> check_checkpoint_folder(None, None, None, None).ok
    False
    """
    model = as_model(model)
    if not isinstance(folder, (str, Path)) or not Path(folder).is_dir():
        raise Hint("`folder` should be the path of a folder that exists: the one you gave `write_pipeline`.")
    folder = Path(folder)
    if not (folder / "model_index.json").is_file() or not list((folder / "unet").glob("*.safetensors")):
        raise Hint("`folder` should be a pipeline folder (model_index.json, unet/*.safetensors): save it with "
                   "`write_pipeline(model, folder)`.")
    if any(p.suffix in (".bin", ".ckpt", ".pt", ".pth", ".pkl") for p in folder.rglob("*")):
        raise Hint("`folder` holds pickle files too; keep the pickle copy in a folder of its own.")
    if loaded is model:
        raise Hint("`loaded` is the model you saved; load it back from the folder with `ll.load_model(folder)`.")
    loaded = as_model(loaded)
    if tuple(loaded.sample_shape) != tuple(model.sample_shape):
        raise Hint(f"`loaded` takes inputs {loaded.sample_shape}, the saved model {model.sample_shape}: load `folder`.")
    x = torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(0))
    a = model.unet(x.to(model.device, model.dtype), 500).sample.double().cpu()
    b = loaded.unet(x.to(loaded.device, loaded.dtype), 500).sample.double().cpu()
    if not is_close(b, a, 1e-4):
        raise Hint("`loaded` computes something else than the saved model: load the folder you saved it to.")
    if not isinstance(refused, BaseException):
        raise Hint("`refused` should be the exception load_model raised (`except ValueError as e: refused = e`); "
                   "if it loaded, the folder held safetensors: save with `safe_serialization=False`.")
    text = str(refused)
    if isinstance(refused, FileNotFoundError):
        raise Hint(f"load_model said: {text[:120]}. Save the pickle copy first: "
                   "`model.unet.save_pretrained(other_folder, safe_serialization=False)`.")
    if "pickle" not in text:
        raise Hint(f"That exception is not the refusal of pickle weights ({type(refused).__name__}: {text[:100]}).")
    return ("the folder holds safetensors only and loads back to the same network; the pickle copy is refused, "
            "because loading a pickle can run code.")


def _hooks(module: torch.nn.Module) -> set[tuple[int, str, int]]:
    """The forward hooks and pre-hooks `module` and its submodules hold: (module id, kind, hook id)."""
    return {(id(m), kind, k) for m in module.modules()
            for kind, hooks in (("post", m._forward_hooks), ("pre", m._forward_pre_hooks)) for k in hooks}


def _remove_hooks(module: torch.nn.Module, keys: set[tuple[int, str, int]]) -> None:
    for m in module.modules():
        for kind, hooks in (("post", m._forward_hooks), ("pre", m._forward_pre_hooks)):
            for k in [k for k in hooks if (id(m), kind, k) in keys]:
                del hooks[k]


@checker("09.4 h by a forward hook", ("h_by_hook",),
         "Fill in `h_by_hook`: a function `h_by_hook(unet, x, t)` that returns the output of `unet.mid_block`.")
def check_h_by_hook(model: Any, h_by_hook: Any, t: int = 500) -> str:
    """Exercise 09.4: h, the output of the U-Net's middle block, read with a forward hook on `unet.mid_block`
    during an ordinary forward pass, against `latentlab.h_of` (which stops the pass at h). Two inputs of
    the model's shape (a batch of 2) at timestep `t`; the hook must be gone afterwards.

    >>> check_h_by_hook(None, None).message[:21]
    'Fill in `h_by_hook`: '
    """
    model = as_model(model)
    if model.conditional:
        raise Hint("Use an unconditional U-Net (celebahq-256, as the notebook builds it): a text-conditioned one "
                   "also needs `encoder_hidden_states`.")
    x = torch.randn(2, *model.sample_shape, generator=torch.Generator().manual_seed(9)).to(model.device, model.dtype)
    hooks = _hooks(model.unet)
    got = call_answer(h_by_hook, "h_by_hook", model.unet, x.clone(), t)
    left = _hooks(model.unet) - hooks
    if left:
        _remove_hooks(model.unet, left)  # leave the notebook's model as it was, then say why
        raise Hint(f"Your function left {len(left)} hook(s) on the U-Net: every later call would run them too. "
                   "Keep the handle `register_forward_hook` returns and call `handle.remove()` (in a `finally:`).")
    if got is None:
        raise Hint("`h_by_hook` returned None: return what the hook saw (append `output` to a list in the hook).")
    if isinstance(got, (list, tuple)) and len(got) == 1:
        raise Hint("Return the tensor the hook saw, not the list that holds it (`seen[0]`).")
    got = as_tensor(got, "h_by_hook(...)")
    want = ll.h_of(model, x, t).double().cpu()
    if tuple(got.shape) == tuple(want.shape[1:]):
        raise Hint(f"Keep the batch: the input holds 2 samples, so h has shape {tuple(want.shape)}.")
    if tuple(got.shape) == tuple(x.shape):
        raise Hint("That has x's shape: it is the U-Net's output (the noise prediction), not h. Hook "
                   "`unet.mid_block` and keep its output.")
    seen: list[Tensor] = []
    handle = model.unet.mid_block.register_forward_pre_hook(lambda m, args: seen.append(args[0].double().cpu()))
    try:
        ll.h_of(model, x, t)
    finally:
        handle.remove()
    if tuple(got.shape) == tuple(seen[0].shape) and is_close(got, seen[0], 1e-4):
        raise Hint("That is the middle block's *input* (the last down block's output); h is its output: "
                   "`register_forward_hook(lambda module, args, output: ...)` and keep `output`.")
    if tuple(got.shape) != tuple(want.shape):
        raise Hint(f"h has shape {tuple(want.shape)} for this input; yours has {tuple(got.shape)}: hook "
                   "`unet.mid_block`, not another block.")
    if not is_close(got, want, 1e-4):
        raise Hint("Right shape, other numbers: hook `unet.mid_block` (not a block of the decoder) and run the U-Net "
                   "on the `x` and `t` your function was given.")
    return (f"h has shape {tuple(want.shape[1:])} per sample and equals `ll.h_of`. A hook sees h without changing "
            "the network; `ll.h_of` also stops the pass there, so the decoder never runs.")
