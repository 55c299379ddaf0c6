"""The widget editor, driven from Python as a user drives it: set a control's value, wait, and compare
the shown image (tensor and PNG) with a direct call of the registry's `Candidate` (the oracle);
the controls each method shows, messages for bad values, and a clean exit of `EditWidget()`."""
import datetime
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import latentlab as ll
from latentlab.course.widget import EditWidget, image_to_png, in_voila
from latentlab.methods import METHODS
from latentlab.session import Edit, EditSession

from helpers import LinearProbe, gen

STEPS = 4


@pytest.fixture
def make(tiny, bench):
    made = []

    def make(**kw):
        session = EditSession(tiny, probe=LinearProbe(), steps=STEPS, preview_steps=2, workbench=bench)
        w = EditWidget(session=session, **({"method": "Haas PCA", "strength": 0.0} | kw))
        made.append(w)
        assert w.wait(60)
        return w
    yield make
    for w in made:
        w.close()


def x_T_of(model, seed):
    return torch.randn((1, *model.sample_shape), generator=gen(seed))


def set_and_wait(w, control, value):
    control.value = value
    assert w.wait(60)


def png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def assert_shown(w, direct):
    """The widget's edited tensor and its PNG both show `direct` (float tolerance; one grey level)."""
    torch.testing.assert_close(w.edited, direct[0], rtol=0, atol=1e-4)
    diff = np.abs(png_pixels(w.edited_image.value) - png_pixels(image_to_png(direct[0])))
    assert diff.max() <= 1


def test_the_strength_slider_shows_the_registry_edit(make, bench, tiny):
    w = make(seed=3)
    assert w.edited_image.value == w.original_image.value  # strength 0: the original
    set_and_wait(w, w.target, 1)
    set_and_wait(w, w.strength, -2.0)
    minus = [c for k, c in bench.candidates("Haas PCA", "smile", 1.0).items() if k[0] == "-"]
    assert_shown(w, minus[1](x_T_of(tiny, 3), 2.0))
    assert w.message.value == "" and 'data-stage="full"' in w.status.value
    assert w.readings_after == pytest.approx({k: v.item() for k, v in LinearProbe()(w.edited[None]).items()},
                                             abs=1e-4)
    set_and_wait(w, w.method, "mean difference")
    set_and_wait(w, w.target, "hair_color -> 1")
    cand, = bench.candidates("mean difference", "hair_color", 1.0).values()
    assert_shown(w, cand(x_T_of(tiny, 3), -2.0))
    set_and_wait(w, w.method, "Park pullback (guidance)")
    set_and_wait(w, w.strength, 1.5)
    plus = [c for k, c in bench.candidates("Park pullback (guidance)", "smile", 1.0).items() if k[0] == "+"]
    assert_shown(w, plus[0](x_T_of(tiny, 3), 1.5))


def test_each_method_sets_its_registry_settings_and_controls(make):
    w = make(method="mean difference", target="smile -> +1")
    shown = lambda x: x.layout.display != "none"  # noqa: E731
    for name, m in METHODS.items():
        if m.t_edit == "editor":
            continue  # the shipped editors fit the bundled model only (test_session.py)
        w.method.value = name
        assert list(w.target.options[i][1] for i in range(len(w.target.options))) == w.session.targets(name)
        assert (w.t_edit.value, w.asymmetric.value) == w.session.defaults(name)
        assert w.t_edit.disabled == (m.space != "h") and shown(w.asymmetric) == (m.space == "h")
        assert m.unit[:20] in w.unit.value
    assert shown(w.seed) and not shown(w.upload) and not shown(w.face_box)
    w.source.value = "rendered face"
    assert shown(w.face_box) and shown(w.seed) and not shown(w.upload)
    w.source.value = "uploaded image"
    assert shown(w.upload) and not shown(w.seed)
    assert w.wait(60)


def test_t_edit_and_asymmetric_override_the_registry(make, bench, tiny):
    w = make(seed=1, strength=1.0)
    w.t_edit.value = 500
    set_and_wait(w, w.asymmetric, True)
    plus = [c for k, c in bench.candidates("Haas PCA", "smile", 1.0).items() if k[0] == "+"]
    assert_shown(w, ll.ddim_sample(tiny, x_T_of(tiny, 1), STEPS, dh=plus[0].dh(1.0), t_edit=500, asymmetric=True,
                                   progress=False))


def test_combination_adds_directions_and_reset_clears_it(make, bench, tiny):
    w = make(seed=5)
    set_and_wait(w, w.strength, 2.0)
    w.add()
    assert w.strength.value == 0.0 and w.wait(60)
    w.target.value = 1
    set_and_wait(w, w.strength, -1.0)
    found = bench.candidates("Haas PCA", "smile", 1.0)
    dh = ll.combine(found["+pc_1"].dh(2.0), found["-pc_2"].dh(1.0))
    assert_shown(w, ll.ddim_sample(tiny, x_T_of(tiny, 5), STEPS, dh=dh, asymmetric=False, progress=False))
    assert "combined with" in w.combo_label.value
    w.method.value = "Park pullback (move)"
    set_and_wait(w, w.strength, 1.0)
    assert "cannot be combined" in w.message.value and "ll-error" in w.message.value
    w.reset()
    assert w.wait(60) and w.combination == [] and torch.equal(w.edited, w.x0) and w.message.value == ""


def upload(w, data: bytes):
    w.upload.value = ({"name": "face.png", "type": "image/png", "size": len(data), "content": memoryview(data),
                       "last_modified": datetime.datetime.now(datetime.timezone.utc)},)


def test_faces_from_a_render_or_an_upload(make, tiny):
    w = make()
    w.face_smile.value = 0.5
    set_and_wait(w, w.source, "rendered face")
    face = ll.render_faces(1, seed=0, size=32, smile=0.5, glasses=0.0, hair_color=0.5)[0]
    x_T = ll.ddim_invert(tiny, face, STEPS, progress=False)
    torch.testing.assert_close(w.x0, ll.ddim_sample(tiny, x_T, STEPS, clip=False, progress=False)[0], rtol=0, atol=1e-5)
    set_and_wait(w, w.source, "uploaded image")
    assert "no image uploaded yet" in w.message.value
    upload(w, b"not an image")
    assert w.wait(60) and "not an image PIL can read" in w.message.value and "Traceback" not in w.message.value
    upload(w, image_to_png(face[0]))
    assert w.wait(60) and w.message.value == ""
    pixels = torch.from_numpy(png_pixels(image_to_png(face[0]))).permute(2, 0, 1).float() / 127.5 - 1
    torch.testing.assert_close(w.x_T, ll.ddim_invert(tiny, pixels, STEPS, progress=False), rtol=0, atol=1e-5)
    set_and_wait(w, w.source, "seed")
    assert w.message.value == ""


def test_save_png_writes_the_strip(make, tmp_path):
    w = make()
    set_and_wait(w, w.strength, 1.0)
    w.save_path.value = str(tmp_path / "edit.png")
    w.save_button.click()
    assert "saved" in w.message.value
    assert Image.open(tmp_path / "edit.png").size == (3 * 32 * w.image_scale, 32 * w.image_scale)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(method="PCA"), ValueError, "method must be one of mean difference, paired"),
    (dict(method="Asyrp f", target="smile -> +2"), ValueError,
     "target must be one of .*'smile -> \\+1'.* for Asyrp f, got 'smile -> \\+2'"),
    (dict(method="Haas PCA", target=5), ValueError, "target must be one of 0, 1, 2, 3, 4 for Haas PCA, got 5"),
    (dict(image_scale=0), ValueError, "image_scale must be a positive integer"),
    (dict(session="faces32"), TypeError, "session must be an EditSession"),
])
def test_bad_arguments_raise_clear_errors(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        EditWidget(tiny, probe=LinearProbe(), steps=STEPS, **kwargs)


def test_image_to_png_round_trips_and_in_voila_reads_the_environment(monkeypatch):
    x = torch.rand(3, 4, 5, generator=gen(0)) * 2 - 1
    back = png_pixels(image_to_png(x, scale=2))
    assert back.shape == (8, 10, 3)
    assert np.abs(back[::2, ::2] - ((x + 1) * 127.5).round().permute(1, 2, 0).numpy()).max() <= 1
    with pytest.raises(ValueError, match="x must be one image"):
        image_to_png(torch.zeros(2, 3, 4, 4))
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    monkeypatch.delenv("VOILA_SERVER_URL", raising=False)
    assert not in_voila()
    monkeypatch.setenv("VOILA_KERNEL_ID", "abc")
    assert in_voila()


@pytest.mark.slow
def test_a_script_that_builds_the_editor_exits_cleanly():
    """`EditWidget()` (bundled model, shipped probe) starts rendering at once; the script ends mid-render."""
    proc = subprocess.run([sys.executable, "-c", "from latentlab.course.widget import EditWidget; EditWidget()"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0 and "terminate called" not in proc.stderr, proc.stderr[-2000:]


def test_the_session_is_shared_not_copied(make):
    w = make()
    assert w.model is w.session.model and w.steps == STEPS and w.probe is w.session.probe
    assert w.current() == Edit("Haas PCA", 0, 0.0)

