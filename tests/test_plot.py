"""Figures: the U-Net layout against the shapes a real forward pass produces, the KS gap against scipy."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402

import latentlab as ll  # noqa: E402
from latentlab.course.plot import show_channels, show_ks, show_unet, unet_layout  # noqa: E402


def traced_shapes(model):
    """The oracle: shapes recorded by hooks during one forward pass of the U-Net itself."""
    unet, seen = model.unet, {}

    def hook(name):
        def record(module, args, kwargs, out):
            seen[name] = (args, kwargs, out)
        return record

    handles = [unet.conv_in.register_forward_hook(hook("in"), with_kwargs=True),
               unet.mid_block.register_forward_hook(hook("mid"), with_kwargs=True)]
    handles += [b.register_forward_hook(hook(("down", i)), with_kwargs=True) for i, b in enumerate(unet.down_blocks)]
    handles += [b.register_forward_hook(hook(("up", i)), with_kwargs=True) for i, b in enumerate(unet.up_blocks)]
    x = torch.zeros(1, *model.sample_shape)
    with torch.no_grad():
        if model.conditional:
            unet(x, 500, encoder_hidden_states=model.cond)
        else:
            unet(x, 500)
    for h in handles:
        h.remove()
    return seen


def chw(t):
    return (t.shape[1], tuple(t.shape[2:]))


@pytest.mark.parametrize("make", [lambda: ll.tiny_model(), lambda: ll.tiny_model(levels=3, sample_size=32),
                                  lambda: ll.tiny_model(conditional=True), ll.load_model],
                         ids=["tiny", "tiny-3-levels", "conditional", "bundled"])
def test_unet_layout_matches_a_forward_pass(make):
    model = make()
    stages, skips = unet_layout(model)
    seen = traced_shapes(model)
    downs = [i for i, s in enumerate(stages) if s.kind == "down"]
    ups = [i for i, s in enumerate(stages) if s.kind == "up"]
    assert stages[0].kind == "in" and chw(seen["in"][2]) == (stages[0].channels, stages[0].out_size)
    stored = [chw(seen["in"][2])]
    for k, i in enumerate(downs):
        out, res = seen[("down", k)][2][:2]
        assert chw(seen[("down", k)][1]["hidden_states"])[1] == stages[i].size
        assert chw(out) == (stages[i].channels, stages[i].out_size)
        stored += [chw(r) for r in res]
    mid = next(i for i, s in enumerate(stages) if s.kind == "mid")
    assert chw(seen["mid"][2]) == (stages[mid].channels, stages[mid].out_size)
    assert (stages[mid].channels, *stages[mid].out_size) == model.h_shape
    taken = []
    for k, i in enumerate(ups):
        args, kwargs, out = seen[("up", k)]
        hidden = args[0] if args else kwargs["hidden_states"]
        res = [chw(r) for r in (args[1] if len(args) > 1 else kwargs["res_hidden_states_tuple"])]
        assert chw(hidden)[1] == stages[i].size and chw(out) == (stages[i].channels, stages[i].out_size)
        assert res == [(s.channels, s.size) for s in skips if s.dst == i]
        taken += res
    assert sorted(taken) == sorted(stored) and len(skips) == len(stored)  # every stored skip is taken once


def test_unet_layout_skips_come_from_the_stage_that_stores_them():
    stages, skips = unet_layout(ll.load_model())
    for s in skips:
        src, dst = stages[s.src], stages[s.dst]
        assert src.kind in ("in", "down") and dst.kind == "up"
        assert s.size in (src.size, src.out_size) and s.size == dst.size


def test_show_unet_marks_h():
    model = ll.load_model()
    fig = show_unet(model)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "h = its output, 128 x 4 x 4" in texts
    assert sum("2 skips" in t for t in texts) == 4  # one arrow per resolution, 32 / 16 / 8 / 4
    plt.close(fig)


def test_show_unet_refuses_what_is_not_a_unet():
    with pytest.raises(ValueError, match="unet_or_config must be a Model, a diffusers"):
        show_unet({"sample_size": 32})


def test_show_ks_draws_the_scipy_distance():
    rng = np.random.default_rng(0)
    a, b = {"x": torch.tensor(rng.normal(size=64))}, {"x": torch.tensor(rng.normal(0.4, 1, size=50))}
    fig = show_ks(a, b, ["x"], critical=0.3)
    (gap,) = [line for line in fig.axes[1].lines if line.get_gid() == "ks_gap"]
    y0, y1 = gap.get_ydata()
    expected = stats.ks_2samp(a["x"].numpy(), b["x"].numpy()).statistic
    assert abs(y1 - y0) == pytest.approx(expected)
    assert f"KS = {expected:.2f} (critical 0.30)" in fig.axes[1].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="names must be keys of both a and b.*missing: \\['y'\\]"):
        show_ks(a, b, ["y"])


def test_show_channels_picks_the_most_varying_channels():
    h = torch.randn(3, 10, 4, 4, generator=torch.Generator().manual_seed(0))
    h[:, 7] *= 5
    h[:, 2] *= 3
    fig = show_channels(h, k=2)
    titles = [ax.get_title() for ax in fig.axes[:2]]
    var = h.numpy().transpose(1, 0, 2, 3).reshape(10, -1).var(1)  # numpy's variance per channel
    assert titles == [f"ch {c}" for c in np.argsort(-var)[:2]] == ["ch 7", "ch 2"]
    plt.close(fig)
    with pytest.raises(ValueError, match="k must be an integer from 1 to the 10 channels of h, got 11"):
        show_channels(h, k=11)
    with pytest.raises(ValueError, match="images must have one image per sample of h \\(3\\), got 2"):
        show_channels(h, images=torch.zeros(2, 3, 8, 8))


def test_show_comparison_orders_methods_by_change_and_checks_its_input():
    import pandas as pd

    from latentlab.course.plot import show_comparison
    iv = pd.DataFrame({"attr": ["smile"] * 3 + ["glasses"] * 3, "method": ["a", "b", "random"] * 2,
                       "change": [0.5, -0.2, 0.0, 0.1, 0.3, 0.0], "lo": [0.4, -0.3, -0.1, 0.0, 0.2, -0.1],
                       "hi": [0.6, -0.1, 0.1, 0.2, 0.4, 0.1]})
    fig = show_comparison(pd.concat([iv.assign(seed=0), iv.assign(seed=1)]))
    smile, glasses = fig.axes
    assert [t.get_text() for t in smile.get_yticklabels()] == ["b", "random", "a"]  # ascending change
    assert [t.get_text() for t in glasses.get_yticklabels()] == ["random", "a", "b"]
    assert smile.get_title() == "smile"
    plt.close(fig)
    with pytest.raises(ValueError, match="columns"):
        show_comparison(iv.drop(columns="lo"))
