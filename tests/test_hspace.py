"""h-space hooks: h_of stops at the middle block, eps_of edits h and only h."""
import pytest
import torch
from diffusers import UNet2DModel

import latentlab as ll
from latentlab.hspace import eps_of_batch

from helpers import gen


def record_mid_output(model, x, t):
    """The oracle for h: a plain forward hook on the full forward pass."""
    out = []
    handle = model.unet.mid_block.register_forward_hook(lambda m, a, o: out.append(o))
    try:
        kw = {"encoder_hidden_states": model.cond.expand(len(x), -1, -1)} if model.conditional else {}
        model.unet(x, t, **kw)
    finally:
        handle.remove()
    return out[0]


@pytest.mark.parametrize("conditional", [False, True])
def test_h_of_equals_mid_block_output(conditional):
    model = ll.tiny_model(conditional=conditional)
    x = torch.randn(2, 3, 16, 16, generator=gen(0))
    h = ll.h_of(model, x, 300)
    assert h.shape == (2, *model.h_shape)
    assert torch.equal(h, record_mid_output(model, x, 300))
    assert torch.allclose(ll.h_of(model, x[1], 300), h[1], atol=1e-6)  # one sample in, one out


def test_h_of_never_runs_the_decoder():
    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=32, block_out_channels=(4, 4, 4, 4, 4, 4), layers_per_block=1, norm_num_groups=2,
        attention_head_dim=2,
        down_block_types=("DownBlock2D",) * 6, up_block_types=("UpBlock2D",) * 6,
    )
    model = ll.Model(unet, ll.model.DDIMScheduler())
    calls = []
    handles = [b.register_forward_pre_hook(lambda m, a: calls.append(1)) for b in unet.up_blocks]
    handles.append(unet.conv_out.register_forward_pre_hook(lambda m, a: calls.append(1)))
    h = ll.h_of(model, torch.zeros(1, 3, 32, 32), 10)
    assert calls == [] and h.shape == (1, 4, 1, 1)
    unet(torch.zeros(1, 3, 32, 32), 10)
    assert len(calls) == 7  # the counter does see a full forward pass
    for hd in handles:
        hd.remove()


@pytest.mark.parametrize("conditional", [False, True])
def test_eps_of_without_edit_is_the_unet(conditional):
    model = ll.tiny_model(conditional=conditional)
    x = torch.randn(2, 3, 16, 16, generator=gen(1))
    kw = {"encoder_hidden_states": model.cond.expand(2, -1, -1)} if conditional else {}
    ref = model.unet(x, 700, **kw).sample
    assert torch.equal(ll.eps_of(model, x, 700), ref)
    assert torch.equal(ll.eps_of(model, x, 700, dh=torch.zeros(model.h_shape)), ref)


def test_cond_is_used(cond_model):
    x = torch.randn(1, 3, 16, 16, generator=gen(1))
    a = ll.eps_of(cond_model, x, 500)
    cond_model.cond = cond_model.cond + 1
    assert not torch.allclose(a, ll.eps_of(cond_model, x, 500))


def test_edit_keeps_skip_connections(model):
    """With dh != 0 the up blocks receive bit-identical skip tensors and a shifted h."""
    x = torch.randn(2, 3, 16, 16, generator=gen(2))
    dh = torch.randn(model.h_shape, generator=gen(3))

    def run(edit):
        seen = []
        hooks = [b.register_forward_pre_hook(lambda m, a, kw: seen.append((a, kw)), with_kwargs=True)
                 for b in model.unet.up_blocks]
        try:
            eps = ll.eps_of(model, x, 400, dh=edit)
        finally:
            for hd in hooks:
                hd.remove()
        return eps, seen

    eps0, plain = run(None)
    eps1, edited = run(dh)
    assert not torch.allclose(eps0, eps1)
    for (a0, k0), (a1, k1) in zip(plain, edited):
        skips0 = k0.get("res_hidden_states_tuple", a0[1] if len(a0) > 1 else None)
        skips1 = k1.get("res_hidden_states_tuple", a1[1] if len(a1) > 1 else None)
        assert all(torch.equal(s0, s1) for s0, s1 in zip(skips0, skips1))
    h0 = plain[0][0][0] if plain[0][0] else plain[0][1]["hidden_states"]
    h1 = edited[0][0][0] if edited[0][0] else edited[0][1]["hidden_states"]
    assert torch.allclose(h1 - h0, dh.expand_as(h0), atol=1e-6)  # the first up block gets h + dh


def test_batched_dh(model):
    x = torch.randn(2, 3, 16, 16, generator=gen(2))
    dh = torch.randn(2, *model.h_shape, generator=gen(3))
    both = ll.eps_of(model, x, 400, dh=dh)
    assert torch.allclose(both[1], ll.eps_of(model, x[1], 400, dh=dh[1]), atol=1e-6)


def test_hooks_removed_after_an_exception(model):
    def boom(h):
        raise RuntimeError("inside the hook")

    with pytest.raises(RuntimeError, match="inside the hook"):
        eps_of_batch(model, torch.zeros(1, 3, 16, 16), torch.tensor([5]), boom)
    with pytest.raises(ValueError):
        ll.h_of(model, torch.zeros(1, 3, 16, 16), 5000)
    ll.h_of(model, torch.zeros(1, 3, 16, 16), 5)
    assert not model.unet.mid_block._forward_hooks and not model.unet.mid_block._forward_pre_hooks


@pytest.mark.parametrize("conditional", [False, True])
def test_forward_ad_matches_finite_differences(conditional):
    """jvp through the whole U-Net (attention and GroupNorm included) against float64 central
    differences: relative error <= 1e-6."""
    model = ll.tiny_model(conditional=conditional)
    model.to(dtype=torch.float64)
    x = torch.randn(1, 3, 16, 16, generator=gen(4), dtype=torch.float64)
    v = torch.randn(1, 3, 16, 16, generator=gen(5), dtype=torch.float64)
    t = torch.tensor([250])
    f = lambda x: eps_of_batch(model, x, t)  # noqa: E731
    with ll.forward_ad(model):
        _, jv = torch.func.jvp(f, (x,), (v,))
    eps = 1e-5
    fd = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
    assert (jv - fd).norm() / fd.norm() <= 1e-6
    assert not any(m._forward_pre_hooks for m in model.unet.modules())  # the mode leaves no trace


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: ll.h_of(m, torch.zeros(1, 2, 3, 16, 16), 5), ValueError, "x_t must have shape"),
        (lambda m: ll.h_of(m, torch.zeros(2, 1, 16, 16), 5), ValueError, "per-sample shape"),
        (lambda m: ll.h_of(m, torch.zeros(2, 3, 24, 24), 5), ValueError, "per-sample shape"),
        (lambda m: ll.h_of(m, torch.full((3, 16, 16), float("nan")), 5), ValueError, "NaN"),
        (lambda m: ll.h_of(m, torch.zeros(3, 16, 16), -1), ValueError, r"t must lie in \[0, 1000\)"),
        (lambda m: ll.h_of(m, torch.zeros(3, 16, 16), 1000), ValueError, r"t must lie in \[0, 1000\)"),
        (lambda m: ll.h_of(m, torch.zeros(2, 3, 16, 16), torch.tensor([1, 2, 3])), ValueError,
         "t must be a scalar or have shape"),
        (lambda m: ll.h_of(m, torch.zeros(3, 16, 16), 2.5), TypeError, "t must be an int"),
        (lambda m: ll.eps_of(m, torch.zeros(3, 16, 16), 5, dh=torch.zeros(16, 4, 4)), ValueError,
         "dh must have the shape of h"),
        (lambda m: ll.eps_of(m, torch.zeros(3, 16, 16), 5, dh=torch.full((16, 8, 8), float("nan"))), ValueError,
         "dh contains NaN"),
    ],
)
def test_bad_input(model, call, error, match):
    with pytest.raises(error, match=match):
        call(model)


def test_dh_follows_the_models_dtype():
    """A float32 dh on a float64 (or float16) model is cast, not a mixed-dtype error from inside torch."""
    m = ll.tiny_model().to(dtype=torch.float64)
    x = torch.randn(2, *m.sample_shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    dh = torch.randn(m.h_shape, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ll.eps_of(m, x, 500, dh=dh), ll.eps_of(m, x, 500, dh=dh.double()))
    out = ll.ddim_sample(m, x, 3, dh=dh, progress=False)
    assert out.dtype == torch.float64
