"""Asyrp's learned editors: the DeltaBlock, the raw dh, the training loop, saving and the shipped editors."""
import pytest
import torch

import latentlab as ll
from latentlab.asyrp import DeltaBlock, Editor, EditorConfig, load_editor, save_editor, shipped_editors, train_editor
from latentlab.directions import StepDirection
from latentlab.metrics import measure_edit
from latentlab.probe import Probe, ProbeConfig

from helpers import LinearProbe, gen


def test_delta_block_starts_at_zero_but_can_learn():
    f = DeltaBlock(16, temb_dim=8)
    h = torch.randn(3, 16, 4, 4, generator=gen(0))
    out = f(h, torch.tensor([100, 500, 900]))
    assert out.shape == h.shape and out.abs().max() == 0
    out.sum().backward()
    assert f.conv_out.weight.grad.abs().sum() > 0  # zero output, non-zero gradient: training can move it


def test_raw_dh_editor_interpolates_between_its_timesteps():
    ed = Editor(EditorConfig(kind="dh"), (2, 1, 1), torch.tensor([900, 500]))
    with torch.no_grad():
        ed.dh.copy_(torch.tensor([[[[1.0]], [[0.0]]], [[[3.0]], [[2.0]]]]))
    h = torch.zeros(4, 2, 1, 1)
    ref = StepDirection(torch.tensor([900, 500]), ed.dh.detach())
    for t in (999, 900, 700, 500, 100):
        torch.testing.assert_close(ed(t, h), ref(t, h).expand_as(h))
    assert ed(700, h)[0].flatten().tolist() == [2.0, 1.0]


@pytest.mark.parametrize("kind", ["f", "dh"])
def test_training_lowers_the_loss_on_a_tiny_model(kind):
    model = ll.tiny_model(sample_size=32)
    probe = LinearProbe()
    params_before = [p.clone() for p in model.unet.parameters()]
    model.unet.requires_grad_(True)
    hist = []
    ed = train_editor(model, "hair_color", 1.0, kind, probe=probe, progress=False, history=hist,
                      steps=4, t_edit=0, trajectories=8, batch=4, lr=0.05, l1=0.1, temb_dim=8)
    first, last = sum(h["attr_loss"] for h in hist[:4]) / 4, sum(h["attr_loss"] for h in hist[-4:]) / 4
    assert last < 0.8 * first, (first, last)
    assert all(torch.equal(a, b) for a, b in zip(params_before, model.unet.parameters()))  # only the editor trains
    assert all(p.requires_grad for p in model.unet.parameters())  # and the U-Net is left as it was
    assert ed.attr == "hair_color" and ed.goal == 1.0 and ed.kind == kind and ed.t_edit == 0


@pytest.mark.parametrize("kind", ["f", "dh"])
def test_save_and_load_give_the_same_edit(tmp_path, kind):
    model = ll.tiny_model(sample_size=32)
    ed = train_editor(model, "smile", -1.0, kind, probe=Probe(ProbeConfig.tiny()), progress=False,
                      **{k: v for k, v in vars(EditorConfig.tiny()).items() if k not in ("attr", "goal", "kind")})
    save_editor(ed, tmp_path / "e", command="test")
    back = load_editor("smile", -1.0, folder=tmp_path / "e")
    h = torch.randn(2, *model.h_shape, generator=gen(1))
    torch.testing.assert_close(back(750, h), ed(750, h))
    assert back.kind == kind and back.goal == -1.0
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == ["config.json", "editor.safetensors"]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(attr="beard"), ValueError, "attr must be one of"),
    (dict(goal=5.0), ValueError, r"goal must lie in smile's range"),
    (dict(attr="glasses", goal=0.5), ValueError, "goal must be 0 or 1"),
    (dict(kind="g"), ValueError, "kind must be one of"),
    (dict(t_edit=1000), ValueError, r"t_edit must be an integer timestep in \[0, 999\]"),
    (dict(t_edit=800, steps=4), ValueError, "leaves no step of the 4-step grid"),
    (dict(trajectories=0), ValueError, "trajectories must be a positive integer"),
])
def test_train_editor_bad_input(kwargs, error, match):
    args = dict(attr="smile", goal=1.0, kind="dh") | kwargs
    with pytest.raises(error, match=match):
        train_editor(ll.tiny_model(sample_size=32), args.pop("attr"), args.pop("goal"), args.pop("kind"),
                     probe=Probe(ProbeConfig.tiny()), progress=False, **args)


def test_load_editor_refuses_what_was_not_shipped():
    with pytest.raises(ValueError, match=r"no shipped editor for attr='hair_color'.*shipped: \('glasses'"):
        load_editor("hair_color", 1.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        load_editor("smile", 1.0, kind="x")
    with pytest.raises(FileNotFoundError, match="editor file missing"):
        load_editor("smile", 1.0, folder="/nonexistent")


def test_editor_rejects_h_of_the_wrong_shape():
    ed = Editor(EditorConfig(kind="f", temb_dim=8), (16, 4, 4), torch.tensor([500]))
    with pytest.raises(ValueError, match=r"h must have shape \(B, 16, 4, 4\)"):
        ed(500, torch.zeros(2, 8, 4, 4))


SHIPPED = [("smile", 1.0), ("smile", -1.0), ("glasses", 1.0), ("glasses", 0.0)]


def test_every_promised_editor_is_shipped():
    assert {(a, g, k) for a, g in SHIPPED for k in ("f", "dh")} <= set(shipped_editors())


@pytest.fixture(scope="module")
def bundled():
    model, probe = ll.load_model(), ll.load_probe()
    x_T = torch.randn(12, *model.sample_shape, generator=gen(2024))  # fresh: training drew from seed 0
    return model, probe, x_T, ll.ddim_sample(model, x_T, 10, progress=False)


@pytest.mark.parametrize("attr, goal", SHIPPED)
@pytest.mark.parametrize("kind", ["f", "dh"])
def test_shipped_editors_move_their_attribute_the_right_way(bundled, attr, goal, kind):
    model, probe, x_T, base = bundled
    ed = load_editor(attr, goal, kind)
    r = measure_edit(model, x_T, ed, attr=attr, goal=goal, steps=10, t_edit=ed.t_edit, probe=probe, base=base)
    assert r.n_movable >= 3 and r.right_way >= 0.5, r.summary()


def test_load_from_a_folder_refuses_another_attribute(tmp_path):
    model = ll.tiny_model(sample_size=32)
    ed = Editor(EditorConfig(attr="smile", goal=1.0, kind="dh"), model.h_shape, torch.tensor([500]))
    save_editor(ed, tmp_path / "e")
    with pytest.raises(ValueError, match=r"attr='glasses' was asked for, but the editor in .* has attr='smile'"):
        load_editor("glasses", 1.0, folder=tmp_path / "e")


def saved_editor(folder):
    ed = Editor(EditorConfig(attr="smile", goal=1.0, kind="dh"), (16, 8, 8), torch.tensor([750, 500]))
    return save_editor(ed, folder)


@pytest.mark.parametrize("damage, match", [
    ("{not json", r"config\.json is not valid JSON \(Expecting property name"),
    ('{"config": {"attr": "smile"}}',
     r"config\.json is not an editor config as save_editor writes it .*KeyError: 'h_shape'"),
    ('{"config": {"colour": 1}, "h_shape": [16, 8, 8], "timesteps": [500]}',
     r"config\.json is not an editor config .*TypeError"),
])
def test_load_editor_names_a_corrupt_config(tmp_path, damage, match):
    folder = saved_editor(tmp_path / "e")
    (folder / "config.json").write_text(damage)
    with pytest.raises(ValueError, match=match) as err:
        load_editor(None, None, folder=folder)
    assert str(folder / "config.json") in str(err.value)


@pytest.mark.parametrize("keep", [5, 200])  # inside the 8-byte header length; inside the tensors' data
def test_load_editor_names_a_truncated_weights_file(tmp_path, keep):
    folder = saved_editor(tmp_path / "e")
    weights = folder / "editor.safetensors"
    weights.write_bytes(weights.read_bytes()[:keep])
    with pytest.raises(ValueError,
                       match=r"editor\.safetensors is not a readable safetensors file \(SafetensorError") as err:
        load_editor(None, None, folder=folder)
    assert str(weights) in str(err.value) and "truncated or corrupt" in str(err.value)


def test_load_editor_names_weights_of_another_editor(tmp_path):
    folder = saved_editor(tmp_path / "e")
    other = Editor(EditorConfig(attr="smile", goal=1.0, kind="f", temb_dim=8), (16, 8, 8), torch.tensor([500]))
    save_editor(other, tmp_path / "f")
    (folder / "editor.safetensors").write_bytes((tmp_path / "f" / "editor.safetensors").read_bytes())
    with pytest.raises(ValueError, match=r"editor\.safetensors does not match .*config\.json \(kind 'dh'"):
        load_editor(None, None, folder=folder)
