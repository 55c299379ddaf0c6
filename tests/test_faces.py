"""The faces world: the renderer's contract and the shipped probe."""
import pytest
import torch

import latentlab as ll
from latentlab.probe import BUNDLED_PROBE, Probe, ProbeConfig, load_probe, save_probe, train_probe


def test_deterministic_per_seed_and_different_across_seeds():
    a, attrs_a = ll.render_faces(16, seed=3)
    b, attrs_b = ll.render_faces(16, seed=3)
    c, _ = ll.render_faces(16, seed=4)
    assert torch.equal(a, b) and all(torch.equal(attrs_a[k], attrs_b[k]) for k in ll.ATTRIBUTES)
    assert (a - c).abs().mean() > 0.05


def test_shapes_ranges_and_attribute_draws():
    x, attrs = ll.render_faces(4000, seed=0)
    assert x.shape == (4000, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert set(attrs) == set(ll.ATTRIBUTES) and len(ll.ATTRIBUTES) >= 8
    for name, (lo, hi) in ll.ATTRIBUTES.items():
        a = attrs[name]
        assert a.shape == (4000,) and a.min() >= lo and a.max() <= hi
        if name == "glasses":
            assert set(a.unique().tolist()) == {0.0, 1.0} and abs(a.mean() - 0.5) < 0.05
        else:  # uniform: mean and spread of U(lo, hi)
            assert abs(a.mean() - (lo + hi) / 2) < 0.03 * (hi - lo)
            assert abs(a.std() - (hi - lo) / 12**0.5) < 0.03 * (hi - lo)


@pytest.mark.parametrize("size", [32, 40, 64, 128])
def test_sizes(size):
    x, _ = ll.render_faces(2, seed=1, size=size)
    assert x.shape == (2, 3, size, size)


def test_pinning_pins_only_that_attribute():
    _, free = ll.render_faces(8, seed=5)
    x, pinned = ll.render_faces(8, seed=5, smile=1.0, glasses=torch.tensor([0.0, 1.0] * 4))
    assert (pinned["smile"] == 1).all() and pinned["glasses"].tolist() == [0.0, 1.0] * 4
    for k in ll.ATTRIBUTES:
        if k not in ("smile", "glasses"):
            assert torch.equal(free[k], pinned[k])
    # pinning every attribute re-renders the same faces
    again, _ = ll.render_faces(8, seed=99, **pinned)
    assert torch.equal(again, x)


@pytest.mark.parametrize("name", list(ll.ATTRIBUTES))
def test_every_attribute_visibly_changes_the_picture(name):
    lo, hi = ll.ATTRIBUTES[name]
    a, _ = ll.render_faces(8, seed=2, **{name: lo})
    b, _ = ll.render_faces(8, seed=2, **{name: hi})
    per_image = (a - b).abs().flatten(1).max(1).values
    assert (per_image > 0.3).all()  # at least one pixel moves by 15% of the range in every face


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=0), "n must be a positive integer"),
        (dict(n=4, beard=1.0), "unknown attribute 'beard'"),
        (dict(n=4, smile=1.5), r"smile must lie in \[-1.0, 1.0\]"),
        (dict(n=4, glasses=0.5), "glasses must be 0 or 1"),
        (dict(n=4, size=36), "size must be a multiple of 8 from 32 to 128"),
        (dict(n=4, size=16), "size must be a multiple of 8 from 32 to 128"),
        (dict(n=4, smile=torch.zeros(3)), r"smile must be a scalar or a tensor of shape \(4,\)"),
        (dict(n=4, eye_size=float("nan")), r"eye_size must lie in"),
    ],
)
def test_bad_input(kwargs, match):
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=match):
        ll.render_faces(n, **kwargs)


def test_probe_save_load_roundtrip(tmp_path):
    probe = train_probe(ProbeConfig.tiny(), progress=False)
    save_probe(probe, tmp_path)
    x, _ = ll.render_faces(4, seed=0)
    again = load_probe(tmp_path)
    assert all(torch.equal(probe(x)[k], again(x)[k]) for k in ll.ATTRIBUTES)
    with pytest.raises(FileNotFoundError, match="model.safetensors does not exist"):
        (tmp_path / "model.safetensors").unlink()
        load_probe(tmp_path)


def test_probe_is_differentiable():
    probe = Probe(ProbeConfig.tiny())
    x = torch.zeros(2, 3, 32, 32, requires_grad=True)
    probe(x)["smile"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.skipif(not (BUNDLED_PROBE / "model.safetensors").exists(), reason="probe not shipped yet")
def test_shipped_probe_recovers_pinned_attributes():
    """Tolerances: continuous attributes within 12% of their range for 95% of faces; glasses exact."""
    probe = load_probe()
    x, attrs = ll.render_faces(500, seed=4242)
    pred = probe(x)
    for name, (lo, hi) in ll.ATTRIBUTES.items():
        if name == "glasses":
            assert ((pred[name] > 0.5).float() == attrs[name]).float().mean() >= 0.99
        else:
            err = (pred[name] - attrs[name]).abs() / (hi - lo)
            assert err.quantile(0.95) <= 0.12, name
