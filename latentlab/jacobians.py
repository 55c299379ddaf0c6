"""The U-Net's Jacobians at one sample: their products J v and J^T u, and their top-k SVDs.

- `pullback`: J = dh/dx_t, the encoder x_t -> h (Park et al. 2023): V are the editing directions
  in x-space, the local latent basis; G = J^T J is h's metric pulled back to x-space (the name).
- `eps_jacobian`: J = d eps/dh with the skips held fixed (Haas et al. 2023): V are directions in h.
- `pullback_spectra`: `pullback` at many samples (data-parallel under `accelerate launch`).

Both SVDs are `linalg.topk_svd` fed with products from `jacobian_products`: J^T u by reverse mode
through one recorded forward pass, J v either by reverse over reverse (the transpose of that vjp;
the default up to 64 x 64 pixels) or by forward mode (``torch.func.jvp``), each block of products
run as one batch. Reverse over reverse differentiates the recorded backward pass; autograd's own
formulas for that are wasteful for two layers, so while the pass is recorded its convolutions and
group norms are given their transposes (`_LayerRules`): each then costs one fused kernel in J v
instead of, for a convolution, a second one for the weights' gradient nothing uses, and for a group
norm a dozen small ops.

References
- Park et al. (2023), "Understanding the latent space of diffusion models through the lens of
  Riemannian geometry", NeurIPS: the SVD of J = dh/dx_t, by plain block subspace iteration.
- Haas et al. (2023), "Discovering interpretable directions in the semantic latent space of
  diffusion models", arXiv:2303.11073: the SVD of J = d eps/dh, by deflated power iteration.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode
from tqdm.auto import tqdm

from .hspace import eps_of_batch, h_of_batch
from .linalg import SVD, LinearMap, check_k, topk_svd
from .model import Model, check_t, check_x, forward_ad

__all__ = ["jacobian_products", "pullback", "eps_jacobian", "pullback_spectra"]

# Measured residual floors (pullback, k = 3, tiny and celebahq-256 layouts): float16 5e-4 - 1.2e-3, bfloat16
# 3e-3 - 8e-3 (the products carry the dtype's rounding); the default tol sits a few times above them.
_HALF_TOL = {torch.float16: 5e-3, torch.bfloat16: 3e-2}


def _one_sample(model: Model, x_t: Tensor, t: int | Tensor) -> tuple[Tensor, Tensor]:
    """Check x_t (one sample, (C, H, W) or (1, C, H, W)) and t; return them as (1, C, H, W), (1,)."""
    xb, _ = check_x(model, x_t)
    if len(xb) != 1:
        raise ValueError(f"x_t must be one sample, (C, H, W) or (1, C, H, W), got a batch of {len(xb)}: "
                         f"shape {tuple(x_t.shape)}; call once per sample")
    return xb.detach(), check_t(model, t, 1)


def jacobian_products(
    model: Model, x_t: Tensor, t: int | Tensor, which: Literal["pullback", "eps"] = "pullback",
    jvp_mode: Literal["auto", "double_vjp", "forward"] = "auto", *, layer_rules: bool = True, vjp_first: bool = False,
) -> tuple[LinearMap, LinearMap, torch.Size]:
    """J v and J^T u of the U-Net at one sample: J = dh/dx_t (Park et al. 2023) or d eps/dh (Haas et al. 2023).

    ``which="pullback"``: the encoder x_t -> h (the U-Net stops after its middle block).
    ``which="eps"``: dh -> eps(x_t | h + dh) at dh = 0 with the skip connections held at their
    unedited values (Haas et al.'s Jacobian of eps with respect to h).

    ``jvp_mode="double_vjp"`` runs a batch of b products as one batch of the U-Net itself:
    the point is repeated b times (the samples of a batch never interact in a U-Net), one forward
    pass is recorded and reused while b stays the same, J^T U is one backward pass through it, and J V is
    the transpose of that linear map, one more backward pass through the recorded backward graph
    (reverse over reverse). On the CPU this is 2-3x faster than forward mode, whose GroupNorm and
    attention rules cost about five reverse passes. Both products then accept one vector or a
    batch ``(b, *shape)`` (``topk_svd`` passes the batch); they cannot be vmapped and need autograd
    (not under ``torch.inference_mode``, where "auto" picks forward mode).
    ``jvp_mode="forward"``: J v by ``torch.func.jvp`` (forward mode), J^T u by ``torch.func.vjp``;
    both take one vector and may be called under ``torch.func.vmap``.
    ``jvp_mode="auto"`` (default) picks double_vjp for samples of at most 64 x 64 pixels and forward
    mode above: measured on 2 CPU cores (``benchmarks/jacobian_svd.py``), double_vjp makes the 32 px
    products 2-3x faster, but at 256 px (google/ddpm-ema-celebahq-256) it is 2x slower than
    forward mode and its recorded backward graph triples the peak memory (7.4 against 2.3 GiB).
    With ``layer_rules`` (the default) the double vjp records the U-Net's convolutions and group
    norms with their transposes, so that J v costs about what J^T u does (bundled model, batch 3, one
    thread: 9 ms against 19 ms with autograd's generic formulas, ``layer_rules=False``; the same
    products up to float rounding).

    Args:
        model: from ``load_model`` or ``tiny_model``.
        x_t: one sample, ``(C, H, W)`` or ``(1, C, H, W)``.
        t: the timestep.
        which: ``"pullback"`` or ``"eps"``.
        jvp_mode: ``"auto"``, ``"double_vjp"`` or ``"forward"``.
        layer_rules: double_vjp only: convolutions and group norms recorded with their transposes
            (True), or autograd's generic double backward (False, slower; kept as a reference).
        vjp_first: double_vjp only: the products will be used vjp first, as ``topk_svd``'s start
            J^T Omega does. The first vjp of a batch size then records the backward pass that the
            jvps transpose, and the first jvp need not make its own. Off by default, so that vjps
            alone (``hosvd.jacobian_tensor``) keep no backward graph they do not use.

    Returns:
        (jvp, vjp, in_shape): ``jvp(v)`` maps a tensor of ``in_shape`` (x-space for the pullback,
        h-space for eps) to the output space (h, resp. eps); ``vjp(u)`` maps back.

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> jvp, vjp, in_shape = jacobian_products(m, torch.zeros(3, 16, 16), 500, which="eps")
    >>> in_shape, jvp(torch.ones(in_shape)).shape, vjp(torch.ones(5, 3, 16, 16)).shape
    (torch.Size([16, 8, 8]), torch.Size([3, 16, 16]), torch.Size([5, 16, 8, 8]))
    """
    x, tb = _one_sample(model, x_t, t)
    if which == "pullback":
        point = x[0]
        f = lambda X: h_of_batch(model, X, tb.expand(len(X)))  # noqa: E731  (b, C, H, W) -> (b, *h_shape)
    elif which == "eps":
        point = torch.zeros(model.h_shape, dtype=x.dtype, device=x.device)
        f = lambda D: eps_of_batch(model, x.expand(len(D), *x.shape[1:]), tb.expand(len(D)), D)  # noqa: E731
    else:
        raise ValueError(f"which must be 'pullback' or 'eps', got {which!r}")
    if jvp_mode not in ("auto", "double_vjp", "forward"):
        raise ValueError(f"jvp_mode must be 'auto', 'double_vjp' or 'forward', got {jvp_mode!r}")
    for name, value in (("layer_rules", layer_rules), ("vjp_first", vjp_first)):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    if jvp_mode == "auto":
        small = math.prod(model.sample_shape[1:]) <= 64 * 64
        jvp_mode = "double_vjp" if small and not torch.is_inference_mode_enabled() else "forward"
    if jvp_mode == "forward":
        return (*_forward_products(model, f, point), point.shape)
    graphs = _RepeatedGraph(model, f, point, layer_rules, vjp_first)
    out_shape = torch.Size(model.h_shape if which == "pullback" else model.sample_shape)

    def as_batch(v: Tensor, shape: torch.Size, name: str) -> tuple[Tensor, bool]:
        if isinstance(v, Tensor) and torch._C._functorch.is_batchedtensor(v):
            raise ValueError(f"the double-vjp {name} takes a batch (b, *shape) itself and cannot be "
                             "vmapped; pass the batch, or use jvp_mode='forward'")
        if not isinstance(v, Tensor) or (v.shape != shape and v.shape[1:] != shape):
            got = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
            raise ValueError(f"{name} takes a tensor of shape {tuple(shape)} or a batch (b, *{tuple(shape)}), "
                             f"got {got}")
        return (v[None], True) if v.shape == shape else (v, False)

    def jvp(v: Tensor) -> Tensor:
        V, one = as_batch(v, point.shape, "jvp")
        out = graphs.jvp(V)
        return out[0] if one else out

    def vjp(u: Tensor) -> Tensor:
        U, one = as_batch(u, out_shape, "vjp")
        out = graphs.vjp(U)
        return out[0] if one else out

    jvp.takes_batches = vjp.takes_batches = True  # type: ignore[attr-defined]
    return jvp, vjp, point.shape


class _RepeatedGraph:
    """The recorded pass Y = f(X) at X = the point repeated b times, and its backward graph
    G = J^T Uz (linear in Uz, so its value at any Uz serves), for the latest batch size b (a new
    size replaces it). J^T U is a backward pass through Y, J V one through G.

    `vjp_first`: the first vjp of a batch size is computed as G itself, recorded at Uz = U (the
    backward pass the first jvp would otherwise make at Uz = 0).
    """

    def __init__(self, model: Model, f: Callable[[Tensor], Tensor], point: Tensor, layer_rules: bool = True,
                 vjp_first: bool = False) -> None:
        self.model, self.f, self.point = model, f, point
        self.layer_rules, self.vjp_first = layer_rules, vjp_first
        self.b, self.graph = None, None

    def jvp(self, V: Tensor) -> Tensor:
        X, Y, Uz, G = self._recorded(len(V))
        if G is None:
            Uz, G = self._transpose(Y.new_zeros(Y.shape))
        return torch.autograd.grad(G, Uz, V.to(Uz.dtype), retain_graph=True)[0]

    def vjp(self, U: Tensor) -> Tensor:
        X, Y, Uz, G = self._recorded(len(U))
        if G is None and self.vjp_first:
            return self._transpose(U)[1].detach()
        return torch.autograd.grad(Y, X, U.to(Y.dtype), retain_graph=True)[0]

    def _recorded(self, b: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        if torch.is_inference_mode_enabled():
            raise RuntimeError("jvp_mode='double_vjp' needs autograd, which torch.inference_mode turns "
                               "off; call outside inference_mode, or use jvp_mode='forward'")
        if b != self.b:
            self.b, self.graph = None, None  # free the old graph before recording the new one
            with torch.enable_grad(), forward_ad(self.model):  # MATH attention has a double backward
                X = self.point.detach().expand(b, *self.point.shape).clone().requires_grad_(True)
                with _LayerRules() if self.layer_rules else contextlib.nullcontext():
                    Y = self.f(X)
                self.graph, self.b = (X, Y, None, None), b
        return self.graph

    def _transpose(self, U: Tensor) -> tuple[Tensor, Tensor]:
        X, Y, _, _ = self.graph
        with torch.enable_grad(), forward_ad(self.model):
            Uz = U.detach().to(Y.dtype).clone().requires_grad_(True)
            G = torch.autograd.grad(Y, X, Uz, create_graph=True)[0]
        self.graph = (X, Y, Uz, G)
        return Uz, G


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


class _Transposed(torch.autograd.Function):
    """y = layer.vjp(g), a linear map whose transpose layer.jvp is known: the backward is one fused
    kernel, where autograd would differentiate the ops inside the vjp one by one."""

    @staticmethod
    def forward(ctx: Any, g: Tensor, layer: "_ConvLinear | _NormLinear") -> Tensor:
        ctx.layer = layer
        return layer.vjp(g)

    @staticmethod
    def backward(ctx: Any, v: Tensor) -> tuple[Tensor, None]:
        return ctx.layer.jvp(v), None


def _vjp(layer: "_ConvLinear | _NormLinear", g: Tensor) -> Tensor:
    """A layer's backward: recorded with its transpose while the backward itself is being recorded
    (create_graph: grad mode is on), a plain call otherwise (a vjp)."""
    return _Transposed.apply(g, layer) if torch.is_grad_enabled() else layer.vjp(g)


class _ConvLinear:
    """The linearisation of x -> conv2d(x, w) + b: J^T by the kernel autograd runs for the input's
    gradient, J by the convolution itself (autograd's double backward also convolves for w)."""

    def __init__(self, x: Tensor, w: Tensor, stride: Any, padding: Any, dilation: Any, groups: int) -> None:
        self.x, self.w, self.groups = x, w, groups  # x: only its shape and layout are read
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)

    def vjp(self, g: Tensor) -> Tensor:
        return torch.ops.aten.convolution_backward.default(
            g, self.x, self.w, None, self.stride, self.padding, self.dilation, False, [0, 0], self.groups,
            [True, False, False])[0]

    def jvp(self, v: Tensor) -> Tensor:
        return F.conv2d(v, self.w, None, self.stride, self.padding, self.dilation, self.groups)


class _NormLinear:
    """The linearisation of group norm (Wu & He 2018) at x: its vjp is diag(rstd) P diag(w) with
    P = I - 11^T/n - xhat xhat^T/n per group (symmetric), so its transpose is diag(w) diag(rstd) P:
    the same fused backward kernel without the weight, then times w."""

    def __init__(self, x: Tensor, mean: Tensor, rstd: Tensor, w: Tensor | None, groups: int) -> None:
        self.x, self.mean, self.rstd, self.w = x, mean, rstd, w
        self.sizes = (x.shape[0], x.shape[1], math.prod(x.shape[2:]), groups)
        self.w_column = None if w is None else w.reshape(1, -1, *[1] * (x.dim() - 2))

    def vjp(self, g: Tensor) -> Tensor:
        return torch.ops.aten.native_group_norm_backward.default(
            g.contiguous(), self.x, self.mean, self.rstd, self.w, *self.sizes, [True, False, False])[0]

    def jvp(self, v: Tensor) -> Tensor:
        out = torch.ops.aten.native_group_norm_backward.default(
            v.contiguous(), self.x, self.mean, self.rstd, None, *self.sizes, [True, False, False])[0]
        return out if self.w_column is None else out * self.w_column


class _Conv2d(torch.autograd.Function):
    """F.conv2d with weights that need no gradient, differentiated by `_ConvLinear`."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
                dilation: Any, groups: int) -> Tensor:
        # Attributes, not save_for_backward: the pass is recorded, used and dropped by _RepeatedGraph
        # alone, nothing modifies these tensors in place, and unpacking saved tensors costs per call.
        ctx.layer = _ConvLinear(x.detach(), weight, stride, padding, dilation, groups)
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        return _vjp(ctx.layer, g), None, None, None, None, None, None


class _GroupNorm(torch.autograd.Function):
    """F.group_norm with an affine part that needs no gradient, differentiated by `_NormLinear`."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, groups: int, weight: Tensor | None, bias: Tensor | None, eps: float) -> Tensor:
        N, C = x.shape[:2]
        y, mean, rstd = torch.ops.aten.native_group_norm.default(  # F.group_norm's own kernel: the same values
            x, weight, bias, N, C, math.prod(x.shape[2:]), groups, eps)
        ctx.layer = _NormLinear(x.detach(), mean, rstd, weight, groups)
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        return _vjp(ctx.layer, g), None, None, None, None


_CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_NORM_ARGS = ("input", "num_groups", "weight", "bias", "eps")


def _frozen(*tensors: Tensor | None) -> bool:
    return not any(t is not None and t.requires_grad for t in tensors)


class _LayerRules(TorchFunctionMode):
    """While a pass is recorded for the double vjp: F.conv2d and F.group_norm calls with frozen weights
    become `_Conv2d` / `_GroupNorm` (same values: the same kernels), anything else runs as it is.
    A torch function mode is thread-local: another thread's call of the same U-Net is untouched."""

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is F.conv2d:
            a = {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1,
                 **dict(zip(_CONV_ARGS, args)), **kwargs}
            if a["input"].dim() == 4 and not isinstance(a["padding"], str) and _frozen(a["weight"], a["bias"]):
                return _Conv2d.apply(*(a[name] for name in _CONV_ARGS))
        elif func is F.group_norm:
            a = {"weight": None, "bias": None, "eps": 1e-5, **dict(zip(_NORM_ARGS, args)), **kwargs}
            x, w, bias = a["input"], a["weight"], a["bias"]
            same_dtype = all(p is None or p.dtype == x.dtype for p in (w, bias))
            if x.dim() >= 2 and x.is_contiguous() and same_dtype and _frozen(w, bias):
                return _GroupNorm.apply(*(a[name] for name in _NORM_ARGS))
        return func(*args, **kwargs)


def _forward_products(model: Model, f: Callable[[Tensor], Tensor], point: Tensor) -> tuple[LinearMap, LinearMap]:
    one = lambda z: f(z[None])[0]  # noqa: E731
    with torch.no_grad(), forward_ad(model):  # function transforms ignore the outer no_grad
        _, vjp_fn = torch.func.vjp(one, point)

    # Vectors come in the SVD's working dtype (float32 for a half-precision model): cast to the model's.
    def jvp(v: Tensor) -> Tensor:
        with torch.no_grad(), forward_ad(model):
            return torch.func.jvp(one, (point,), (v.to(point.dtype),))[1]

    def vjp(u: Tensor) -> Tensor:
        with torch.no_grad():
            return vjp_fn(u.to(point.dtype))[0]

    return jvp, vjp


def _model_svd(model: Model, x_t: Tensor, t: int | Tensor, k: int, which: Literal["pullback", "eps"],
               options: dict[str, Any]) -> SVD | tuple[SVD, dict[str, Any]]:
    x, _ = _one_sample(model, x_t, t)  # validate before any work (jacobian_products checks again)
    h_numel, x_numel = math.prod(model.h_shape), math.prod(model.sample_shape)
    check_k(k, *((x_numel, h_numel) if which == "pullback" else (h_numel, x_numel)))
    jvp_mode, layer_rules = options.pop("jvp_mode", "auto"), options.pop("layer_rules", True)
    jvp, vjp, in_shape = jacobian_products(model, x, t, which, jvp_mode, layer_rules=layer_rules, vjp_first=True)
    # A half-precision model's products are cast up: the SVD itself runs in float32 at least.
    options.setdefault("dtype", torch.promote_types(x.dtype, torch.float32))
    options.setdefault("device", x.device)
    # Start from J^T Omega: the first vjp records the pass the jvps then reuse, so the start costs nothing.
    options.setdefault("out_shape", model.h_shape if which == "pullback" else model.sample_shape)
    if x.dtype in _HALF_TOL:  # products carry ~eps(dtype) relative noise: a tighter tol is never met
        options.setdefault("tol", _HALF_TOL[x.dtype])
    return topk_svd(jvp, vjp, in_shape, k, **options)


def pullback(model: Model, x_t: Tensor, t: int | Tensor, k: int = 3, **options: Any) -> SVD | tuple[SVD, dict]:
    """Top-k SVD of J = dh/dx_t at one sample: the local latent basis of Park et al. (2023).

    V[i] are Park et al.'s editing directions v_i in x-space (the unit tangent vectors at x_t that
    change h the most); U[i] = J V[i] / S[i] the directions u_i in h-space they map to.
    The name: G = J^T J is the Euclidean metric of h pulled back to x-space, |J v|^2 = v^T G v;
    V[i] are its top eigenvectors and S[i]**2 its eigenvalues (the Riemannian metric of Park et
    al.'s title, degenerate on the kernel of J). The talk's "J_x^-1" is the pseudo-inverse
    V S^-1 U^T on these k triplets (rows flattened: u -> V.T @ ((U @ u) / S)); it sends the part
    of u outside span(U) to 0.

    Args:
        model: from ``load_model`` or ``tiny_model`` (conditional U-Nets use ``model.cond``).
        x_t: one sample, ``(C, H, W)`` or ``(1, C, H, W)``.
        t: the timestep.
        k: how many singular triplets (``1 <= k <= min(x_t.numel(), h.numel())``).
        **options: passed to ``topk_svd``: ``tol``, ``seed``/``generator``, ``v0`` (warm start, e.g.
            the V of a nearby point), ``oversample``, ``max_iters``, ``return_info``, ``progress``...;
            and ``jvp_mode``, ``layer_rules``: how J v is computed (``jacobian_products``).
            Without ``v0`` the start is J^T Omega (``out_shape``, set here; ``out_shape=None``: a
            random start). Bundled model, k = 3, 2 threads: 0.18 s against 0.27 s for the previous
            version (``layer_rules=False, out_shape=None``; ``benchmarks/pullback_speed.py``).

    A float16 or bfloat16 model computes its products in its own dtype and the SVD in float32
    (torch.linalg has no half-precision SVD); the default ``tol`` is then 5e-3 (float16) or 3e-2
    (bfloat16), a few times the residual floor their rounding leaves (measured: 1e-3 and 8e-3).

    Returns:
        SVD(U ``(k, *model.h_shape)``, S ``(k,)``, V ``(k, *model.sample_shape)``); with
        ``return_info=True``, ``(SVD, info)``.

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> svd = pullback(m, x, 500)
    >>> svd.U.shape, svd.S.shape, svd.V.shape
    (torch.Size([3, 16, 8, 8]), torch.Size([3]), torch.Size([3, 3, 16, 16]))
    """
    return _model_svd(model, x_t, t, k, "pullback", options)


def eps_jacobian(model: Model, x_t: Tensor, t: int | Tensor, k: int = 3, **options: Any) -> SVD | tuple[SVD, dict]:
    """Top-k SVD of J = d eps/dh at one sample, skips fixed: the Jacobian directions of Haas et al. (2023).

    V[i] are Haas et al.'s directions in h-space (the shifts of h that change the predicted noise
    the most); U[i] = J V[i] / S[i] the matching changes of eps. J is the linearisation at dh = 0 of
    dh -> ``eps_of(model, x_t, t, dh=dh)``: only h moves, the skips keep their unedited values.
    (Haas et al.'s code names the two sides the other way round.)

    Args:
        model: from ``load_model`` or ``tiny_model`` (conditional U-Nets use ``model.cond``).
        x_t: one sample, ``(C, H, W)`` or ``(1, C, H, W)``.
        t: the timestep.
        k: how many singular triplets (``1 <= k <= min(h.numel(), x_t.numel())``).
        **options: passed to ``topk_svd`` (``tol``, ``seed``, ``v0``, ``return_info``, ...), and
            ``jvp_mode``, ``layer_rules`` (``jacobian_products``).

    Returns:
        SVD(U ``(k, *model.sample_shape)``, S ``(k,)``, V ``(k, *model.h_shape)``); with
        ``return_info=True``, ``(SVD, info)``.

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> svd = eps_jacobian(m, torch.zeros(3, 16, 16), 500, k=2)
    >>> svd.U.shape, svd.S.shape, svd.V.shape
    (torch.Size([2, 3, 16, 16]), torch.Size([2]), torch.Size([2, 16, 8, 8]))
    """
    return _model_svd(model, x_t, t, k, "eps", options)


def pullback_spectra(model: Model, x_t: Tensor, t: int | Tensor, k: int = 3, *, progress: bool = True,
                     **options: Any) -> SVD:
    """`pullback` at each of N samples, stacked: the per-sample spectra of J = dh/dx_t (Park et al. 2023).

    Data-parallel under `accelerate launch`: each process decomposes its contiguous share of the
    samples and every process gets all N, in order (`scale.py`); one process loops over all.
    Each sample gets the same start (``seed``, default 0), so a sample's result does not depend on
    how the samples were shared out.

    Args:
        x_t: `(N, C, H, W)`; t: one timestep for all; k and **options: as `pullback`
            (``return_info`` is not accepted here).

    Returns:
        SVD(U `(N, k, *h_shape)`, S `(N, k)`, V `(N, k, *sample_shape)`).

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> spectra = pullback_spectra(m, x, 500, k=2, progress=False)
    >>> tuple(spectra.S.shape), tuple(spectra.V.shape)
    ((2, 2), (2, 2, 3, 16, 16))
    """
    from .scale import gather, shard, world

    if options.get("return_info"):
        raise ValueError("return_info is not available for pullback_spectra; call pullback per sample for it")
    if "generator" in options:
        raise ValueError("pullback_spectra takes seed=, not generator=: one shared generator would make each "
                         "sample's start depend on the samples before it (and on the sharding)")
    xb, _ = check_x(model, x_t)
    n = len(xb)
    rank, size = world()
    if n < size:
        raise ValueError(f"x_t holds {n} samples for {size} processes; give at least one per process")
    U, S, V = [], [], []
    for x in tqdm(shard(xb), disable=not progress or rank != 0, leave=False, desc="pullbacks"):
        svd = pullback(model, x, t, k, **options)
        U.append(svd.U)
        S.append(svd.S)
        V.append(svd.V)
    return SVD(gather(torch.stack(U), n), gather(torch.stack(S), n), gather(torch.stack(V), n))
