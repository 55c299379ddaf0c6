"""Park et al.'s editing against plain U-Net calls, the pullback's own SVD and known linear maps."""
import pytest
import torch

import latentlab as ll
from latentlab.park import edit_and_denoise, linearity_error, multi_edit, transport, x_space_guidance

from helpers import gen


def test_guidance_with_gamma_zero_is_the_identity(model):
    x = torch.randn(2, 3, 16, 16, generator=gen(0))
    assert torch.equal(x_space_guidance(model, x, 500, torch.randn(3, 16, 16, generator=gen(1)), gamma=0.0), x)


def test_one_guidance_step_equals_two_plain_unet_calls(model):
    x = torch.randn(2, 3, 16, 16, generator=gen(2))
    v = torch.randn(3, 16, 16, generator=gen(3))
    with torch.no_grad():
        t = torch.full((2,), 500)
        expected = x + 0.3 * (model.unet(x + v, t).sample - model.unet(x, t).sample)
    torch.testing.assert_close(x_space_guidance(model, x, 500, v, gamma=0.3, n=1), expected)


def test_transport_to_the_same_point_gives_back_v(model):
    x = torch.randn(3, 16, 16, generator=gen(4))
    svd = ll.pullback(model, x, 500, k=4, tol=1e-6)
    for i in range(4):
        v = transport(svd.U[i], svd)
        assert abs((v * svd.V[i]).sum().item()) == pytest.approx(1.0, abs=1e-4)


def test_multi_edit_moves_h_along_u(model):
    x = torch.randn(3, 16, 16, generator=gen(5))
    svd = ll.pullback(model, x, 500, k=3)
    xs = multi_edit(model, x, 500, 0, edits=2, k=3, strength=0.5, rule="move")
    assert len(xs) == 2
    torch.testing.assert_close(xs[0], x + 0.5 * svd.V[0])  # the first edit is along v_0 itself
    dh = ll.h_of(model, xs[1], 500) - ll.h_of(model, xs[0], 500)  # the second moves h along +u_0 (transported)
    assert (dh * svd.U[0]).sum() > 0


def test_edit_and_denoise_continues_ddim_from_the_edited_x(model):
    x = torch.randn(1, 3, 16, 16, generator=gen(6))
    v = torch.randn(3, 16, 16, generator=gen(7))
    out = edit_and_denoise(model, x, 500, v, steps=4, rule="move", strength=0.2, t_boost=0)
    ref = ll.ddim_sample(model, x + 0.2 * v, 4, t_start=500, progress=False)
    torch.testing.assert_close(out, ref)


def test_linearity_error_of_a_linear_map_and_of_the_encoder(model):
    A = torch.randn(5, 4, generator=gen(8), dtype=torch.float64)
    x, v = torch.randn(4, generator=gen(9), dtype=torch.float64), torch.randn(4, generator=gen(10), dtype=torch.float64)
    assert linearity_error(lambda z: A @ z, x, v, [0.1, 1.0, 10.0]).max() < 1e-9
    x_t = torch.randn(3, 16, 16, generator=gen(11))
    err = linearity_error(lambda z: ll.h_of(model, z, 500), x_t, torch.randn(3, 16, 16, generator=gen(12)), [0.01, 1.0])
    assert err[0] < err[1]  # non-linear: the error grows with the step


@pytest.mark.parametrize("call, match", [
    (lambda m, x: x_space_guidance(m, x, 500, torch.ones(3, 16, 16), gamma=-0.1), "gamma must be a finite number >= 0"),
    (lambda m, x: x_space_guidance(m, x, 500, torch.ones(3, 16, 16), n=0), "n must be a positive integer"),
    (lambda m, x: x_space_guidance(m, x, 500, torch.ones(3, 8, 8)),
     r"v must be one x-space direction of shape \(3, 16, 16\)"),
    (lambda m, x: edit_and_denoise(m, x, 510, torch.ones(3, 16, 16), steps=4),
     "t_edit must be a timestep of the 4-step grid"),
    (lambda m, x: edit_and_denoise(m, x, 500, torch.ones(3, 16, 16), steps=4, rule="push"), "rule must be"),
    (lambda m, x: multi_edit(m, x, 500, 3, k=3), r"i must be a direction index from 0 to 2"),
    (lambda m, x: transport(torch.ones(5), ll.SVD(torch.eye(3)[:1], torch.ones(1), torch.eye(4)[:1])),
     "u must have the shape of one h"),
    (lambda m, x: linearity_error(lambda z: z, x, x, [0.0]), "steps must be positive"),
])
def test_bad_input(model, call, match):
    with pytest.raises(ValueError, match=match):
        call(model, torch.zeros(3, 16, 16))


def test_linearity_error_with_an_exact_jv_has_no_difference_floor(model):
    from latentlab.jacobians import jacobian_products
    x_t, v = torch.randn(3, 16, 16, generator=gen(13)), torch.randn(3, 16, 16, generator=gen(14))
    jvp, _, _ = jacobian_products(model, x_t, 500)
    def f(z):
        return ll.h_of(model, z, 500)
    exact = linearity_error(f, x_t, v, [1e-3, 1.0], jv=jvp(v))
    m64 = ll.Model(model.unet.double(), model.scheduler)  # the float64 oracle: a finite difference without round-off
    ref = linearity_error(lambda z: ll.h_of(m64, z, 500), x_t.double(), v.double(), [1e-3, 1.0])
    model.unet.float()
    torch.testing.assert_close(exact[1].double(), ref[1].double(), rtol=0.05, atol=1e-4)
    with pytest.raises(ValueError, match="jv must have the shape of f"):
        linearity_error(f, x_t, v, [1.0], jv=torch.zeros(3))


def test_fused_guidance_equals_two_calls():
    m = ll.tiny_model()
    x = torch.randn(2, *m.sample_shape, generator=torch.Generator().manual_seed(0))
    v = torch.randn(m.sample_shape, generator=torch.Generator().manual_seed(1))
    two = ll.x_space_guidance(m, x, 500, v, gamma=0.5, n=3)
    torch.testing.assert_close(ll.x_space_guidance(m, x, 500, v, gamma=0.5, n=3, fused=True), two, rtol=1e-4, atol=1e-5)
    mc = ll.tiny_model(conditional=True)
    mc.cond = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(2))  # per-sample conditioning
    two = ll.x_space_guidance(mc, x, 500, v, gamma=0.5, n=2)
    torch.testing.assert_close(ll.x_space_guidance(mc, x, 500, v, gamma=0.5, n=2, fused=True), two,
                               rtol=1e-4, atol=1e-5)
