"""Concept Sliders: peft's own merge as the oracle of `applied`, the base model untouched, saving, training."""
import copy

import pytest
import torch
import torch.nn.functional as F
from peft import PeftModel, get_peft_model, set_peft_model_state_dict
from peft.tuners.lora import LoraLayer

import latentlab as ll
from latentlab import slider as sl
from latentlab.slider import Slider, applied, load_slider, sample_with_slider, save_slider, train_slider

from helpers import gen


@pytest.fixture
def slider(model):
    """A slider on the tiny model with random A and B (a trained one starts with B = 0: too easy a case)."""
    s = train_slider(model, "smile", steps=1, batch=1, n_pairs=1, progress=False)
    g = gen(5)
    s.state = {k: 0.3 * torch.randn(v.shape, generator=g) for k, v in s.state.items()}
    return s


def _merged(unet, slider, scale):
    """peft's own merge: a PeftModel of a copy of the U-Net, the slider's state loaded, the layers'
    scale set, `merge_and_unload()`."""
    pm = get_peft_model(copy.deepcopy(unet), slider.lora_config(), adapter_name="oracle")
    result = set_peft_model_state_dict(pm, {f"base_model.model.{k}": v for k, v in slider.state.items()},
                                       adapter_name="oracle")
    assert not result.unexpected_keys
    for m in pm.modules():
        if isinstance(m, LoraLayer):
            m.set_scale("oracle", scale)
    return pm.merge_and_unload()


@pytest.mark.parametrize("scale", [1.0, -1.0, 2.5])
def test_applied_equals_peft_merge_and_unload(model, slider, scale):
    x = torch.randn(2, 3, 16, 16, generator=gen(1))
    t = torch.tensor([300, 300])
    merged = _merged(model.unet, slider, scale)
    with applied(model, slider, scale):
        out = model.unet(x, t).sample
    torch.testing.assert_close(out, merged(x, t).sample, atol=1e-5, rtol=1e-5)
    base = model.unet(x, t).sample
    assert (out - base).abs().max() > 1e-3  # the slider does change the output


@pytest.mark.parametrize("scale", [1.0, -0.5])
def test_merged_weights_are_w_plus_scaled_low_rank_product_by_hand(model, slider, scale):
    merged = dict(_merged(model.unet, slider, scale).named_modules())
    base = dict(model.unet.named_modules())
    for target in slider.targets:
        A = slider.state[f"{target}.lora_A.weight"]
        B = slider.state[f"{target}.lora_B.weight"]
        W = base[target].weight
        if W.dim() == 4:  # conv: B is 1x1, so (B A)[o, i, u, v] = sum_r B[o, r] A[r, i, u, v]
            BA = (B[:, :, 0, 0] @ A.flatten(1)).reshape(W.shape)
        else:
            BA = B @ A
        expected = W + scale * BA * slider.alpha / slider.rank
        torch.testing.assert_close(merged[target].weight, expected, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(slider.delta(target), BA * slider.alpha / slider.rank, atol=1e-6, rtol=1e-6)


def test_applied_leaves_the_model_bitwise_unchanged(model, slider):
    unet = model.unet
    before = {k: v.clone() for k, v in unet.state_dict().items()}
    kinds = [(n, type(m)) for n, m in unet.named_modules()]
    flags = {n: p.requires_grad for n, p in unet.named_parameters()}
    with applied(model, slider, -2.0):
        assert any(isinstance(m, LoraLayer) for m in unet.modules())
    with pytest.raises(RuntimeError, match="inside"):
        with applied(model, slider, 1.0):
            raise RuntimeError("an error inside the block")
    after = unet.state_dict()
    assert set(after) == set(before) and all(torch.equal(after[k], before[k]) for k in before)
    assert [(n, type(m)) for n, m in unet.named_modules()] == kinds
    assert {n: p.requires_grad for n, p in unet.named_parameters()} == flags
    assert not hasattr(unet, "peft_config")


def test_save_load_round_trip(model, slider, tmp_path):
    save_slider(slider, tmp_path / "s", command="python make_it.py")
    back = load_slider("smile", folder=tmp_path / "s")
    assert (back.attr, back.low, back.high, back.rank, back.alpha, back.targets, back.t_on) == (
        slider.attr, slider.low, slider.high, slider.rank, slider.alpha, slider.targets, slider.t_on)
    assert back.info["command"] == "python make_it.py"
    assert set(back.state) == set(slider.state) and all(torch.equal(back.state[k], slider.state[k])
                                                        for k in slider.state)
    # the files are peft's: PeftModel.from_pretrained loads them, and its U-Net is the slider at scale 1
    pm = PeftModel.from_pretrained(copy.deepcopy(model.unet), str(tmp_path / "s"))
    assert (pm.peft_config["default"].r, pm.peft_config["default"].lora_alpha) == (slider.rank, slider.alpha)
    x, t = torch.randn(1, 3, 16, 16, generator=gen(4)), torch.tensor([600])
    with applied(model, back, 1.0):
        torch.testing.assert_close(pm(x, t).sample, model.unet(x, t).sample)
    with pytest.raises(ValueError, match="is for 'smile'"):
        load_slider("glasses", folder=tmp_path / "s")
    with pytest.raises(FileNotFoundError, match="slider.json"):
        load_slider("smile", folder=tmp_path / "nothing")


@pytest.mark.slow  # a full-size U-Net or a training run: `make test` runs it, `make check` does not
def test_training_lowers_the_objective_against_the_base_model(model):
    """The objective evaluated independently on held-out pairs: the slider starts as the base model
    (B = 0), so the base model's loss is the starting point; training must lower it."""
    size = 16
    hi = F.adaptive_avg_pool2d(ll.render_faces(8, seed=50, size=32, glasses=1.0)[0], size)
    lo = F.adaptive_avg_pool2d(ll.render_faces(8, seed=50, size=32, glasses=0.0)[0], size)
    z = torch.randn(8, 3, size, size, generator=gen(2))
    ac = model.scheduler.alphas_cumprod

    def objective(scale_hi, scale_lo, s=None):
        total = 0.0
        for t in (100, 400, 700):
            a = ac[t]
            for x0, c in ((hi, scale_hi), (lo, scale_lo)):
                x_t = a.sqrt() * x0 + (1 - a).sqrt() * z
                if s is None:
                    eps = model.unet(x_t, t).sample
                else:
                    with applied(model, s, c):
                        eps = model.unet(x_t, t).sample
                total += F.mse_loss(eps, z).item()
        return total

    start = objective(1.0, -1.0)
    s = train_slider(model, "glasses", steps=20, batch=4, n_pairs=64, lr=1e-2, progress=False)
    assert objective(1.0, -1.0, s) < 0.95 * start  # 0.89 of it here


def test_gated_slider_equals_plain_steps_then_slider_steps(model, slider):
    x = torch.randn(2, 3, 16, 16, generator=gen(3))
    steps, t_on = 4, 500  # the 4-step grid: 750, 500, 250, 0
    _, traj = ll.ddim_sample(model, x, steps, return_trajectory=True, progress=False)
    with applied(model, slider, 1.5):
        expected = ll.ddim_sample(model, traj[1], steps, t_start=500, progress=False)
    got = sample_with_slider(model, slider, x, steps, 1.5, t_on=t_on)
    torch.testing.assert_close(got, expected)
    every = sample_with_slider(model, slider, x, steps, 1.5, t_on=None)
    assert (every - got).abs().max() > 1e-4
    torch.testing.assert_close(sample_with_slider(model, slider, x, steps, 0.0),
                               ll.ddim_sample(model, x, steps, progress=False))


def test_targets_follow_the_paper_layers(model):
    t = sl.slider_targets(model.unet)
    assert all(k not in t for k in ("conv_in", "conv_out", "time_embedding.linear_1"))
    assert any(".attentions." in k and k.endswith("to_q") for k in t)
    assert any(".downsamplers." in k for k in t) and any(".upsamplers." in k for k in t)
    assert any(k.endswith("time_emb_proj") for k in t)


def test_clear_errors(model, slider):
    with pytest.raises(ValueError, match="attr must be one of"):
        train_slider(model, "beard", steps=1, progress=False)
    with pytest.raises(ValueError, match="attr must be one of"):
        load_slider("beard")
    with pytest.raises(ValueError, match="no shipped slider for attr='hair_length'; shipped: .*smile"):
        load_slider("hair_length")
    with pytest.raises(ValueError, match="0 or 1"):
        train_slider(model, "glasses", low=0.5, steps=1, progress=False)
    with pytest.raises(ValueError, match="does not fit"):
        with applied(ll.tiny_model(levels=3), slider):
            pass
    with pytest.raises(ValueError, match="scale must be a finite number"):
        with applied(model, slider, float("nan")):
            pass
    with pytest.raises(ValueError, match="t_on must be"):
        sample_with_slider(model, slider, torch.zeros(1, 3, 16, 16), 2, t_on=5000)
    with pytest.raises(ValueError, match="goal must be one of"):
        load_slider("smile", 0.3)
    with pytest.raises(TypeError, match="slider must be a Slider"):
        with applied(model, "smile"):
            pass


def test_shipped_sliders_load_and_fit_the_bundled_model():
    assert {"smile", "glasses"} <= set(sl.shipped_sliders())
    m = ll.load_model()
    for attr in ("smile", "glasses"):
        s = load_slider(attr)
        assert isinstance(s, Slider) and s.attr == attr and s.info.get("command")
        assert set(s.targets) == set(sl.slider_targets(m.unet))
        with applied(m, s, 1.0):
            pass
