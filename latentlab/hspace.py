"""h-space: the output of the U-Net's middle block (Kwon et al., "Diffusion Models Already Have A
Semantic Latent Space", ICLR 2023).

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
from typing import Any, Callable

import torch
from torch import Tensor

from .model import Model, check_t, check_x

__all__ = ["h_of", "eps_of", "h_of_batch", "eps_of_batch", "eps_pair", "check_dh"]


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


def h_of_batch(model: Model, x: Tensor, t: Tensor) -> Tensor:
    """`h_of` for a batch already checked (`check_x`, `check_t`): x `(B, C, H, W)`, t `(B,)`.

    No checks, so no data-dependent branch: safe under torch.func transforms (vmap, jvp, jacrev),
    which is what the Jacobians need (x -> h is the encoder of Park et al. 2023).

    >>> from latentlab import tiny_model
    >>> m = tiny_model()
    >>> h_of_batch(m, torch.zeros(2, 3, 16, 16), torch.tensor([500, 500])).shape
    torch.Size([2, 16, 8, 8])
    """
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


def eps_of_batch(model: Model, x: Tensor, t: Tensor, dh: Tensor | Callable[[Tensor], Tensor] | None = None, *,
                 record: list | None = None, repeat: int = 1) -> Tensor:
    """The U-Net's output eps_theta(x_t | h_t + dh) (Kwon et al. 2023) for a batch already
    checked (`check_x`, `check_t`, `check_dh`); no checks, so safe under torch.func transforms.

    Args:
        dh: None, a shift of h (broadcast over the batch), or a callable `h -> dh` evaluated inside
            the same pass (h is computed once).
        record: if a list, the unedited h is appended to it (one U-Net pass gives both).
        repeat: x holds `repeat` copies of one batch stacked on axis 0 (a per-sample `model.cond`
            is repeated to match).

    >>> from latentlab import tiny_model
    >>> m = tiny_model(); hs = []
    >>> eps_of_batch(m, torch.zeros(2, 3, 16, 16), torch.tensor([500, 500]), record=hs).shape, hs[0].shape
    (torch.Size([2, 3, 16, 16]), torch.Size([2, 16, 8, 8]))
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


def eps_pair(model: Model, x: Tensor, t: Tensor, dh: Tensor | Callable[[Tensor], Tensor], *,
             record: list | None = None) -> tuple[Tensor, Tensor]:
    """(eps, eps_edit) of Asyrp's asymmetric step (Kwon et al. 2023) in one U-Net pass over `[x; x]`.

    Both halves see the same x_t; the mid-block hook adds dh to the second half only, so the first
    half is the unedited eps and the second `eps_theta(x_t | h_t + dh)` (a callable dh sees the first
    half's h, which is also what `record` gets). At batch 1 on a CPU one pass of batch 2 costs about
    0.7 of two passes of batch 1 (bundled model, one thread: 16 ms against 2 x 11.4 ms); the results
    equal two passes up to float rounding (a batched convolution may sum in another order).
    x, t: a checked batch, as for `eps_of_batch`.

    >>> from latentlab import tiny_model
    >>> m = tiny_model(); x, t = torch.zeros(1, 3, 16, 16), torch.tensor([500])
    >>> eps, eps_edit = eps_pair(m, x, t, torch.ones(m.h_shape))
    >>> bool((eps - eps_of_batch(m, x, t)).abs().max() < 1e-5), bool((eps_edit - eps).abs().max() > 0)
    (True, True)
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


def check_dh(model: Model, dh: Any, batch: int, name: str = "dh") -> Tensor | None:
    """Validate a shift of h: None, or a finite tensor of shape `model.h_shape` or `(batch, *h_shape)`.

    Returns it on the U-Net's device and in its dtype (a float32 CPU dh works with a float16 GPU
    model); a wrong type, shape or a NaN is a TypeError or ValueError naming `name`.

    >>> from latentlab import tiny_model
    >>> check_dh(tiny_model(), torch.zeros(16, 8, 8), 2).shape
    torch.Size([16, 8, 8])
    """
    if dh is None:
        return None
    if not isinstance(dh, Tensor):
        raise TypeError(f"{name} must be a tensor (or None), got {type(dh).__name__}")
    hs = model.h_shape
    if tuple(dh.shape) not in (hs, (batch, *hs)):
        raise ValueError(f"{name} must have the shape of h, {hs} or {(batch, *hs)}, got {tuple(dh.shape)}")
    if not torch.isfinite(dh).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    p = next(model.unet.parameters())
    return dh.to(device=p.device, dtype=p.dtype)


def h_of(model: Model, x_t: Tensor, t: int | Tensor) -> Tensor:
    """h_t, the middle block's output (Kwon et al. 2023); the decoder never runs.

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
    xb, single = check_x(model, x_t)
    h = h_of_batch(model, xb, check_t(model, t, xb.shape[0]))
    return h[0] if single else h


def eps_of(model: Model, x_t: Tensor, t: int | Tensor, dh: Tensor | None = None) -> Tensor:
    """The predicted noise eps_theta(x_t | h_t + dh) (Kwon et al. 2023: only h changes).

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
    xb, single = check_x(model, x_t)
    tb = check_t(model, t, xb.shape[0])
    eps = eps_of_batch(model, xb, tb, check_dh(model, dh, xb.shape[0]))
    return eps[0] if single else eps
