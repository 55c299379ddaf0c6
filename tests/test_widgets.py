"""The widget editor, driven from Python: every shown image against a direct call of the package's
editing functions with the same settings (the oracle), messages for bad values, stale work dropped.

Tiny config-built U-Nets and a linear stand-in probe keep this file to seconds; only the Asyrp
test loads the bundled model (the shipped editors are shaped for its h)."""
import datetime
import io

import numpy as np
import pytest
import torch
from PIL import Image

import latentlab as ll
from helpers import LinearProbe, gen
from latentlab.widgets import JACOBIAN_UNIT, PARK_GAMMA, Edit, Editor, image_to_png, in_voila, largest_changes

STEPS, PREVIEW, N_DIR, DIR_STEPS, K = 4, 2, 6, 2, 2
DIRECTION_SEED = 12345  # the widget's documented seed for the trajectories its directions are fitted on


@pytest.fixture
def tiny():
    return ll.tiny_model(sample_size=32)


def make(model, probe=None, **kw):
    opts = dict(probe=probe or LinearProbe(), steps=STEPS, preview_steps=PREVIEW, n_directions=N_DIR,
                direction_steps=DIR_STEPS, k=K, jacobian_steps=2, jacobian_index=1, threaded=False,
                method="Haas PCA", strength=0.0)
    return Editor(model, **(opts | kw))


def x_T_of(model, seed):
    return torch.randn((1, *model.sample_shape), generator=gen(seed))


def png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def assert_shown(editor, direct):
    """The widget's edited tensor and its PNG both show `direct` (float tolerance; one grey level)."""
    torch.testing.assert_close(editor.edited, direct[0], rtol=0, atol=1e-4)
    diff = np.abs(png_pixels(editor.edited_image.value) - png_pixels(image_to_png(direct[0], 1)))
    assert diff.max() <= 1


def direction_trajectories(model):
    x = torch.randn(N_DIR, *model.sample_shape, generator=gen(DIRECTION_SEED))
    return ll.h_trajectory(model, x, DIR_STEPS, progress=False)


def test_slider_updates_the_image_in_the_worker_thread(tiny):
    ed = make(tiny, threaded=True)
    try:
        assert ed.wait(60)
        before = ed.edited_image.value
        assert before == ed.original_image.value  # strength 0: the original
        ed.strength.value = 2.0
        assert ed.wait(60)
        assert ed.edited_image.value != before and ed.message.value == ""
        direct = ll.ddim_sample(tiny, x_T_of(tiny, 0), STEPS, dh=ll.pca_directions(
            tiny, torch.randn(N_DIR, 3, 32, 32, generator=gen(DIRECTION_SEED)), DIR_STEPS, K, progress=False).direction(0, 2.0),
            asymmetric=False, progress=False)
        assert_shown(ed, direct)
    finally:
        ed.close()


def test_stale_requests_are_dropped(tiny):
    """Twenty quick moves: the worker skips superseded ones, and the last one is what is shown."""
    ed = make(tiny, threaded=True, steps=50, preview_steps=0)
    try:
        assert ed.wait(60)
        shown = len(ed.timings)
        for i in range(1, 21):
            ed.strength.value = i / 10
        assert ed.wait(120)
        assert len(ed.timings) - shown < 20
        pcs = ll.pca_directions(tiny, None, DIR_STEPS, K, trajectory=direction_trajectories(tiny), progress=False)
        assert_shown(ed, ll.ddim_sample(tiny, x_T_of(tiny, 0), 50, dh=pcs.direction(0, 2.0), asymmetric=False, progress=False))
    finally:
        ed.close()


def test_mean_difference_equals_direct_call(tiny):
    probe = LinearProbe()
    ed = make(tiny, probe, method="mean difference", target="hair_color", seed=3)
    ed.strength.value = 1.5
    ed.t_edit.value = 500
    tr = direction_trajectories(tiny)
    r = probe(tr.x0)["hair_color"]
    d = ll.StepDirection(tr.timesteps, ll.mean_difference(tr.h, r > r.median()))
    direct = ll.ddim_sample(tiny, x_T_of(tiny, 3), STEPS, dh=1.5 * d, t_edit=500, progress=False)
    assert_shown(ed, direct)
    assert ed.readings_after == pytest.approx({k: v.item() for k, v in probe(direct).items()}, abs=1e-4)
    assert ed.preview is not None and ed.preview.shape == (3, 32, 32)


def test_pca_symmetric_and_asymmetric_equal_direct_calls(tiny):
    ed = make(tiny, seed=1)
    ed.index.value = 1
    ed.strength.value = -3.0
    pcs = ll.pca_directions(tiny, None, DIR_STEPS, K, trajectory=direction_trajectories(tiny), progress=False)
    x_T = x_T_of(tiny, 1)
    assert_shown(ed, ll.ddim_sample(tiny, x_T, STEPS, dh=pcs.direction(1, -3.0), asymmetric=False, progress=False))
    ed.asymmetric.value = True
    assert_shown(ed, ll.ddim_sample(tiny, x_T, STEPS, dh=pcs.direction(1, -3.0), asymmetric=True, progress=False))


def test_jacobian_equals_direct_call(tiny):
    ed = make(tiny, method="Haas Jacobian", seed=2)
    ed.strength.value = 0.7
    x_T = x_T_of(tiny, 2)
    jd = ll.jacobian_directions(tiny, x_T[0], 2, K, t_index=1, tol=1e-2, progress=False)
    assert_shown(ed, ll.ddim_sample(tiny, x_T, STEPS, dh=jd.direction(0, JACOBIAN_UNIT * 0.7), asymmetric=False,
                                    progress=False))


def test_park_equals_direct_call(tiny):
    ed = make(tiny, method="Park pullback", seed=4)
    ed.index.value = 1
    ed.strength.value = -2.0
    t = ed.t_edit.value
    x_T = x_T_of(tiny, 4)
    _, traj = ll.ddim_sample(tiny, x_T, STEPS, return_trajectory=True, progress=False)
    x_t = traj[ll.ddim_timesteps(tiny, STEPS).tolist().index(t)]
    v = -ll.pullback(tiny, x_t[0], t, K, seed=0).V[1]
    guided = ll.x_space_guidance(tiny, x_t, t, v, gamma=PARK_GAMMA * 2.0)
    assert_shown(ed, ll.ddim_sample(tiny, guided, STEPS, t_start=t, progress=False))


def test_combination_adds_directions(tiny):
    ed = make(tiny, seed=5, asymmetric=True)
    ed.strength.value = 2.0
    ed.add()
    assert ed.strength.value == 0.0
    ed.index.value = 1
    ed.strength.value = -1.0
    pcs = ll.pca_directions(tiny, None, DIR_STEPS, K, trajectory=direction_trajectories(tiny), progress=False)
    dh = ll.combine(pcs.direction(0, 2.0), pcs.direction(1, -1.0))
    assert_shown(ed, ll.ddim_sample(tiny, x_T_of(tiny, 5), STEPS, dh=dh, progress=False))
    assert "combined with" in ed.combo_label.value
    ed.reset()
    assert ed.combination == [] and torch.equal(ed.edited, ed.x0)


def test_rendered_face_is_inverted_and_regenerated_unclipped(tiny):
    ed = make(tiny)
    ed.face_smile.value = 0.5
    ed.source.value = "rendered face"
    ed.strength.value = 1.0
    face = ll.render_faces(1, seed=0, size=32, smile=0.5, glasses=0.0, hair_color=0.5)[0]
    x_T = ll.ddim_invert(tiny, face, STEPS, progress=False)
    torch.testing.assert_close(ed.x0, ll.ddim_sample(tiny, x_T, STEPS, clip=False, progress=False)[0], rtol=0, atol=1e-5)
    pcs = ll.pca_directions(tiny, None, DIR_STEPS, K, trajectory=direction_trajectories(tiny), progress=False)
    assert_shown(ed, ll.ddim_sample(tiny, x_T, STEPS, dh=pcs.direction(0, 1.0), asymmetric=False, clip=False,
                                    progress=False))


def upload(ed, data: bytes):
    ed.upload.value = ({"name": "face.png", "type": "image/png", "size": len(data), "content": memoryview(data),
                        "last_modified": datetime.datetime.now(datetime.timezone.utc)},)


def test_uploaded_image_is_resized_and_inverted(tiny):
    ed = make(tiny)
    ed.source.value = "uploaded image"
    assert "no image uploaded yet" in ed.message.value
    face = ll.render_faces(1, seed=7, size=64)[0][0]  # twice the model's size: resized on the way in
    upload(ed, image_to_png(face, 1))
    assert ed.message.value == ""
    resized = ll.widgets.load_image(image_to_png(face, 1), (32, 32))
    small = torch.nn.functional.interpolate(face[None], size=(32, 32), mode="bicubic", antialias=True)[0]
    assert resized.shape == (3, 32, 32) and (resized - small).abs().mean() < 0.03  # PIL's resize against torch's
    x_T = ll.ddim_invert(tiny, resized, STEPS, progress=False)
    torch.testing.assert_close(ed.x_T, x_T, rtol=0, atol=1e-5)
    torch.testing.assert_close(ed.x0, ll.ddim_sample(tiny, x_T, STEPS, clip=False, progress=False), rtol=0, atol=1e-5)


@pytest.mark.parametrize("setting, expected", [
    (dict(index=5), "index must be a direction index from 0 to 1"),
    (dict(upload=b"not an image"), "not an image PIL can read"),
])
def test_bad_values_show_a_message(tiny, setting, expected):
    ed = make(tiny)
    if "index" in setting:
        ed.strength.value = 1.0
        ed.index.value = setting["index"]
    else:
        ed.source.value = "uploaded image"
        upload(ed, setting["upload"])
    assert expected in ed.message.value and "ll-error" in ed.message.value
    assert "Traceback" not in ed.message.value
    ed.index.value = 0  # a good value clears the message again
    if "upload" in setting:
        ed.source.value = "seed"
    assert ed.message.value == ""


def test_park_cannot_combine_with_h_directions(tiny):
    ed = make(tiny)
    ed.strength.value = 1.0
    ed.add()
    ed.method.value = "Park pullback"
    ed.strength.value = 1.0
    assert "cannot be combined" in ed.message.value


def test_asyrp_editor_equals_direct_call():
    """The shipped editors are shaped for the bundled model's h: this one test loads it (4 steps)."""
    model, probe = ll.load_model(), ll.load_probe()
    ed = make(model, probe, method="Asyrp f", target="smile -> +1", seed=11, n_directions=8, steps=5)
    assert ed.t_edit.value == 200 and ed.asymmetric.value
    ed.strength.value = 1.5
    editor = ll.load_editor("smile", 1.0, "f")
    x_T = x_T_of(model, 11)
    direct = ll.ddim_sample(model, x_T, 5, dh=lambda t, h: 1.5 * editor(t, h), t_edit=200, progress=False)
    assert_shown(ed, direct)
    ed.method.value = "Asyrp dh"
    ed.target.value = "glasses -> 1"
    ed.strength.value = 1.0
    raw = ll.load_editor("glasses", 1.0, "dh")
    assert_shown(ed, ll.ddim_sample(model, x_T, 5, dh=lambda t, h: raw(t, h), t_edit=200, progress=False))


def test_save_png_writes_the_strip(tiny, tmp_path):
    ed = make(tiny)
    ed.strength.value = 1.0
    ed.save_path.value = str(tmp_path / "edit.png")
    ed.save_button.click()
    assert "saved" in ed.message.value
    img = Image.open(tmp_path / "edit.png")
    assert img.size == (3 * 32 * ed.image_scale, 32 * ed.image_scale)


@pytest.mark.parametrize("conditional", [False, True])
def test_fused_asymmetric_step_equals_two_passes(conditional):
    """ddim_sample(fused=True): one U-Net pass of batch 2B per asymmetric step, the same x_0 up to
    float rounding (belongs beside tests/test_ddim.py's two-pass tests)."""
    model = ll.tiny_model(conditional=conditional)
    if conditional:
        model.cond = torch.randn(2, 5, 8, generator=gen(3))  # one conditioning per sample: repeated for the pair
    x_T = torch.randn(2, 3, 16, 16, generator=gen(1))
    seen = {}
    for fused in (False, True):
        hs = []
        dh = lambda t, h: 0.3 * h.flip(0)  # noqa: E731  per-sample and h-dependent
        seen[fused] = (ll.ddim_sample(model, x_T, 5, dh=dh, t_edit=300, fused=fused, progress=False,
                                      callback=lambda d: hs.append(d["h"])), hs)
    # a random U-Net's unclipped samples reach |x| ~ 10: float32 rounding then allows 1e-4
    torch.testing.assert_close(seen[True][0], seen[False][0], rtol=0, atol=1e-4)
    for a, b in zip(seen[True][1], seen[False][1]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4)
    calls = []
    handle = model.unet.conv_in.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape[0]))
    try:
        ll.ddim_sample(model, x_T, 3, dh=torch.ones(model.h_shape), fused=True, progress=False)
    finally:
        handle.remove()
    assert calls == [4, 4, 4]  # one pass of batch 2B per step


def test_hooks_act_only_on_their_own_thread(model):
    """While a worker thread's edit hook is installed (here: held open inside it), a call from another
    thread runs the plain U-Net: the editor's worker and a notebook cell can share one model."""
    import threading

    from latentlab.hspace import _eps

    inside, release = threading.Event(), threading.Event()

    def slow_dh(h):
        inside.set()
        release.wait(30)
        return torch.ones_like(h)

    worker = threading.Thread(target=_eps, args=(model, torch.zeros(1, 3, 16, 16), torch.tensor([500]), slow_dh))
    worker.start()
    try:
        assert inside.wait(30)
        x = torch.randn(1, 3, 16, 16, generator=gen(0))
        assert torch.equal(ll.eps_of(model, x, 500), model.unet(x, 500).sample)
        assert ll.h_of(model, x, 500).shape == (1, *model.h_shape)
    finally:
        release.set()
        worker.join()


def test_render_computes_any_edit_without_touching_the_display(tiny):
    from latentlab.widgets import Edit

    ed = make(tiny, seed=6)
    shown = ed.edited_image.value
    pcs = ll.pca_directions(tiny, None, DIR_STEPS, K, trajectory=direction_trajectories(tiny), progress=False)
    x = ed.render(Edit("Haas PCA", "", 1, 1.5))
    direct = ll.ddim_sample(tiny, x_T_of(tiny, 6), STEPS, dh=pcs.direction(1, 1.5), asymmetric=False, progress=False)
    torch.testing.assert_close(x, direct[0], rtol=0, atol=1e-4)
    assert ed.edited_image.value == shown


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(method="PCA"), ValueError, "method must be one of mean difference, Asyrp dh"),
    (dict(method="Asyrp f", target="smile -> +2"), ValueError, "target must be one of .*'smile -> \\+1'.* for Asyrp f, got 'smile -> \\+2'"),
    (dict(k=1), ValueError, "k must be an integer >= 2, got 1"),
    (dict(n_directions=2), ValueError, "n_directions must exceed k"),
    (dict(preview_steps=-1), ValueError, "preview_steps must be an integer >= 0"),
    (dict(steps=0), ValueError, "steps must be an integer from 1 to 1000"),
    (dict(jacobian_index=2), ValueError, "jacobian_index must be a step of the 2-step grid"),
])
def test_bad_arguments_raise_clear_errors(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        make(tiny, **kwargs)
    with pytest.raises(TypeError, match="model must be a latentlab Model"):
        Editor("faces32", probe=LinearProbe())


def test_only_the_controls_of_the_chosen_method_and_source_show(tiny):
    ed = make(tiny, method="mean difference", target="smile")
    shown = lambda w: w.layout.display != "none"  # noqa: E731
    assert shown(ed.target) and not shown(ed.index) and shown(ed.seed) and not shown(ed.upload)
    assert shown(ed.strength) and shown(ed.t_edit) and shown(ed.method) and not shown(ed.face_box)
    ed.method.value = "Haas PCA"
    assert not shown(ed.target) and shown(ed.index) and shown(ed.asymmetric)
    ed.method.value = "Park pullback"
    assert not shown(ed.asymmetric) and shown(ed.index)
    ed.source.value = "rendered face"
    assert shown(ed.face_box) and shown(ed.seed) and not shown(ed.upload)


# ----------------------------------------------------------------------------- static sweeps and baselines


def test_sweep_batches_what_render_computes_one_by_one(tiny):
    """Every method, several strengths and random baselines in one call: each image equals `render`'s."""
    ed = make(tiny, seed=4)
    edits = [Edit("mean difference", "hair_color", 0, 1.5), Edit("Haas PCA", "", 1, -2.0), Edit("Haas PCA", "", 0, 0.0),
             Edit("Haas Jacobian", "", 0, 0.7), Edit("Park pullback", "", 0, 1.0), Edit("Park pullback", "", 1, -2.0),
             Edit("Park pullback", "", 0, 2.0, random=3), Edit("mean difference", "hair_color", 0, 1.5, random=1),
             Edit("Haas PCA", "", 1, 2.0, random=2)]
    images = ed.sweep(edits)
    assert images.shape == (len(edits), 3, 32, 32)
    for e, x in zip(edits, images):
        torch.testing.assert_close(x, ed.render(e), rtol=0, atol=1e-4, msg=e.label())
    torch.testing.assert_close(images[2], ed.x0)  # strength 0: the original
    assert ed.message.value == ""


def test_random_edits_have_the_size_of_their_method(tiny):
    """A random baseline matches its method's ||dh|| at every step (so the median size too), is
    reproducible by seed and differs between seeds; Park's is a unit v with the same gamma."""
    ed = make(tiny, seed=5)
    for e in (Edit("mean difference", "hair_color", 0, 2.0), Edit("Haas PCA", "", 0, -1.5), Edit("Haas Jacobian", "", 1, 1.0)):
        r = Edit(e.method, e.target, e.index, e.strength, random=7)
        assert ed.edit_size(r) == pytest.approx(ed.edit_size(e), rel=1e-5)
        assert ed.edit_size(e) > 0
    a, b, c = ed.sweep([Edit("Haas PCA", "", 0, 2.0, random=s) for s in (1, 1, 2)])
    assert torch.equal(a, b) and not torch.equal(a, c)
    # the size by hand for PCA: c sigma_0(t) over ||h_t|| of the unedited run, median over the steps
    pcs = ll.pca_directions(tiny, None, DIR_STEPS, K, trajectory=direction_trajectories(tiny), progress=False)
    hs = {}
    ll.ddim_sample(tiny, x_T_of(tiny, 5), STEPS, progress=False, callback=lambda s: hs.__setitem__(s["t"], s["h"]))
    d = pcs.direction(0, 2.0)
    by_hand = np.median([float(d(t, h).norm() / h.norm()) for t, h in hs.items()])
    assert ed.edit_size(Edit("Haas PCA", "", 0, 2.0)) == pytest.approx(by_hand, rel=1e-5)
    park = ed.edit_size(Edit("Park pullback", "", 0, 1.0, random=0))
    x = ll.ddim_sample(tiny, x_T_of(tiny, 5), STEPS, return_trajectory=True, progress=False)[1][
        ll.ddim_timesteps(tiny, STEPS).tolist().index(ed._nearest(600))]
    v = torch.randn(tiny.sample_shape, generator=gen(0))
    moved = ll.x_space_guidance(tiny, x, ed._nearest(600), v / v.norm(), gamma=PARK_GAMMA)
    assert park == pytest.approx(float((moved - x).norm() / x.norm()), rel=1e-4)


def test_largest_changes_ranks_attributes_by_their_largest_move():
    r = {a: torch.zeros(5) for a in ll.ATTRIBUTES}
    r["smile"] = torch.tensor([-1.0, -0.9, -0.8, 0.2, 0.6])       # range 2: largest change +0.7
    r["glasses"] = torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0])         # range 1: -1.0 at both ends
    r["hair_length"] = torch.tensor([0.1, 0.0, 0.0, 0.0, -0.3])   # range 1: -0.3 beats +0.1
    top = largest_changes(r, reference=2)
    assert [a for a, _ in top] == ["glasses", "smile", "hair_length"]
    assert [v for _, v in top] == pytest.approx([-1.0, 0.7, -0.3])
    assert [a for a, _ in largest_changes(r, reference=2, top=2, exclude=("smile",))] == ["glasses", "hair_length"]
    # the old summary |r(+2) - r(-2)| would miss the glasses entirely (0 at both ends)
    assert abs(r["glasses"][-1] - r["glasses"][0]) == 0
    with pytest.raises(ValueError, match="missing"):
        largest_changes({"smile": torch.zeros(2)})
    with pytest.raises(ValueError, match="reference"):
        largest_changes(r, reference=5)


def test_in_voila_reads_the_kernel_environment(monkeypatch):
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    monkeypatch.delenv("VOILA_SERVER_URL", raising=False)
    assert not in_voila()
    monkeypatch.setenv("VOILA_KERNEL_ID", "abc")
    assert in_voila()
