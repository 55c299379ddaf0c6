"""h-space: the output of the U-Net's middle block (Kwon et al., "Diffusion Models Already Have A
Semantic Latent Space", ICLR 2023, Sec. 3.2).

Everything here works through forward hooks on `unet.mid_block`, never by re-implementing the
U-Net's forward pass (the papers' code did and broke with later diffusers):
- `h_of` stops the network right after the middle block (the decoder is never run);
- `eps_of(dh=...)` replaces the middle block's output by `h + dh` while the skip connections,
  computed by the down blocks before it, keep their values.

A hook acts only on calls from the thread that installed it: a widget's worker thread and a notebook
cell may then run the same U-Net at once without one's edit leaking into the other's call.
"""
from __future__ import annotations

import threading
from typing import Callable

import torch
from torch import Tensor

from .model import Model, _check_t, _check_x

__all__ = ["h_of", "eps_of"]


class _StopAtH(Exception):
    def __init__(self, h: Tensor):
        self.h = h


def _call(model: Model, x: Tensor, t: Tensor, repeat: int = 1) -> Tensor:
    """One U-Net call on a (B, C, H, W) batch; conditional U-Nets get `model.cond`.

    `repeat`: x holds `repeat` copies of a batch stacked on axis 0, so a per-sample `cond` is repeated too.
    """
    if model.conditional:
        if model.cond.shape[0] == 1:
            cond = model.cond.expand(x.shape[0], *model.cond.shape[1:])
        else:
            cond = model.cond.repeat(repeat, *(1,) * (model.cond.dim() - 1)) if repeat > 1 else model.cond
        return model.unet(x, t, encoder_hidden_states=cond, return_dict=False)[0]
    return model.unet(x, t, return_dict=False)[0]


def _mid_block(model: Model):
    mid = getattr(model.unet, "mid_block", None)
    if mid is None:
        raise ValueError("this U-Net has no middle block (mid_block_type=None), so it has no h-space")
    return mid


def _h(model: Model, x: Tensor, t: Tensor) -> Tensor:
    """h for a checked batch; safe under torch.func transforms (no data-dependent checks)."""
    owner = threading.get_ident()

    def stop(module, args, output):
        if threading.get_ident() == owner:
            raise _StopAtH(output)

    handle = _mid_block(model).register_forward_hook(stop)
    try:
        _call(model, x, t)
    except _StopAtH as s:
        return s.h
    finally:
        handle.remove()
    raise RuntimeError("the U-Net returned without running its middle block")


def _eps(model: Model, x: Tensor, t: Tensor, dh: Tensor | Callable | None = None, record: list | None = None,
         repeat: int = 1) -> Tensor:
    """eps for a checked batch with h -> h + dh; the unedited h is appended to `record` if given.

    `dh` may be a callable `h -> dh` (evaluated inside the same pass, so h is computed once).
    """
    owner = threading.get_ident()

    def edit(module, args, output):
        if threading.get_ident() != owner:
            return None
        if record is not None:
            record.append(output)
        if dh is None:
            return None
        return output + (dh(output) if callable(dh) else dh)

    handle = _mid_block(model).register_forward_hook(edit)
    try:
        return _call(model, x, t, repeat=repeat)
    finally:
        handle.remove()


def _eps_pair(model: Model, x: Tensor, t: Tensor, dh: Tensor | Callable, record: list | None = None) -> tuple[Tensor, Tensor]:
    """(eps, eps_edit) of Asyrp's asymmetric step in one U-Net pass over the batch `[x; x]`.

    Both halves see the same x_t; the mid-block hook adds dh to the second half only, so the first
    half is the unedited eps and the second `eps_theta(x_t | h_t + dh)` (a callable dh sees the first
    half's h, which is also what `record` gets). At batch 1 on a CPU one pass of batch 2 costs about
    0.7 of two passes of batch 1 (bundled model, one thread: 16 ms against 2 x 11.4 ms); the results
    equal two passes up to float rounding (a batched convolution may sum in another order).
    """
    B, owner = x.shape[0], threading.get_ident()

    def edit(module, args, output):  # output (2B, C_h, H_h, W_h): [unedited; to edit]
        if threading.get_ident() != owner:
            return None
        h = output[:B]
        if record is not None:
            record.append(h)
        shift = dh(h) if callable(dh) else dh
        return torch.cat([h, output[B:] + shift])

    handle = _mid_block(model).register_forward_hook(edit)
    try:
        out = _call(model, torch.cat([x, x]), torch.cat([t, t]), repeat=2)
    finally:
        handle.remove()
    return out[:B], out[B:]


def _check_dh(model: Model, dh, batch: int, name: str = "dh") -> Tensor | None:
    if dh is None:
        return None
    if not isinstance(dh, Tensor):
        raise TypeError(f"{name} must be a tensor (or None), got {type(dh).__name__}")
    hs = model.h_shape
    if tuple(dh.shape) not in (hs, (batch, *hs)):
        raise ValueError(f"{name} must have the shape of h, {hs} or {(batch, *hs)}, got {tuple(dh.shape)}")
    if not torch.isfinite(dh).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    p = next(model.unet.parameters())  # a float32 CPU dh works with a float16 GPU model
    return dh.to(device=p.device, dtype=p.dtype)


def h_of(model: Model, x_t: Tensor, t: int | Tensor) -> Tensor:
    """h_t, the middle block's output (Kwon et al. 2023, Sec. 3.2); the decoder never runs.

    Args:
        model: from `load_model` or `tiny_model`.
        x_t: `(B, C, H, W)` or one sample `(C, H, W)`.
        t: timestep, an int or a `(B,)` tensor.

    Returns:
        h: `(B, *model.h_shape)`, or `model.h_shape` for one sample.

    >>> from latentlab import tiny_model
    >>> m = tiny_model()
    >>> h_of(m, torch.zeros(2, 3, 16, 16), 500).shape
    torch.Size([2, 16, 8, 8])
    """
    xb, single = _check_x(model, x_t)
    h = _h(model, xb, _check_t(model, t, xb.shape[0]))
    return h[0] if single else h


def eps_of(model: Model, x_t: Tensor, t: int | Tensor, dh: Tensor | None = None) -> Tensor:
    """The predicted noise eps_theta(x_t | h_t + dh) (Kwon et al. 2023, Eq. 5: only h changes).

    Args:
        dh: `None`, or a shift of h with the shape of h or of one sample's h; the skip connections
            keep their unedited values.

    Returns:
        eps, the shape of `x_t`.

    >>> from latentlab import tiny_model
    >>> m = tiny_model(); x = torch.zeros(3, 16, 16)
    >>> bool((eps_of(m, x, 500) == m.unet(x[None], 500).sample[0]).all())
    True
    """
    xb, single = _check_x(model, x_t)
    tb = _check_t(model, t, xb.shape[0])
    eps = _eps(model, xb, tb, _check_dh(model, dh, xb.shape[0]))
    return eps[0] if single else eps
