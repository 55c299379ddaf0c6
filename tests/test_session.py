"""The edit session: every image against a direct call of the registry's `Candidate` or of
`ddim_sample` with the same settings (the oracle), random baselines against their definition,
the worker (stale work dropped, previews first, errors as messages) and a clean interpreter exit.

Tiny config-built U-Nets and a linear stand-in probe keep this file to seconds; only the Asyrp test
loads the bundled model (the shipped editors are shaped for its h)."""
import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import torch

import latentlab as ll
from latentlab.methods import METHODS
from latentlab.session import Edit, EditSession, Face, load_image

from helpers import LinearProbe, gen

STEPS, PREVIEW = 4, 2
ATOL = 1e-4  # the session runs an asymmetric step as one U-Net batch (fused=True): equal up to float rounding


@pytest.fixture(scope="module")
def session(tiny, bench):
    s = EditSession(tiny, probe=LinearProbe(), steps=STEPS, preview_steps=PREVIEW, workbench=bench)
    yield s
    s.close()


def x_T_of(model, seed):
    return torch.randn((1, *model.sample_shape), generator=gen(seed))


def close(a, b, msg=""):
    torch.testing.assert_close(a, b, rtol=0, atol=ATOL, msg=msg)


def plus_minus(bench, name):
    """A "both" method's '+' and '-' candidates, in the registry's order."""
    found = bench.candidates(name, "smile", 1.0)
    return [c for k, c in found.items() if k[0] == "+"], [c for k, c in found.items() if k[0] == "-"]


SHIPPED_ONLY = {"SAE feature", "LoRA slider"}  # shipped for the bundled model's h and U-Net only


@pytest.mark.parametrize("name", [n for n, m in METHODS.items()
                                  if m.sign == "goal" and m.t_edit != "editor" and n not in SHIPPED_ONLY])
def test_goal_methods_equal_the_registry_candidate(session, bench, tiny, name):
    face = Face(3)
    x = session.render(Edit(name, "smile -> +1", 1.5), face=face)
    cand, = bench.candidates(name, "smile", 1.0).values()
    close(x, cand(x_T_of(tiny, 3), 1.5)[0], name)
    # pushing the other way is c < 0 of the same direction (the registry's sign points towards the goal)
    close(session.render(Edit(name, "smile -> +1", -1.0), face=face), cand(x_T_of(tiny, 3), -1.0)[0])


@pytest.mark.parametrize("name", [n for n, m in METHODS.items() if m.sign == "both"])
def test_both_methods_take_the_ith_candidate_by_the_sign_of_c(session, bench, tiny, name):
    plus, minus = plus_minus(bench, name)
    x_T = x_T_of(tiny, 4)
    close(session.render(Edit(name, 1, 2.0), face=Face(4)), plus[1](x_T, 2.0)[0], name)
    close(session.render(Edit(name, 1, -2.0), face=Face(4)), minus[1](x_T, 2.0)[0], name)
    assert len(session.targets(name)) == len(plus)


def test_h_space_settings_come_from_the_registry_unless_overridden(session, bench, tiny):
    """Haas PCA: symmetric at every step (the registry); an override runs Asyrp's step from t = 500."""
    assert session.defaults("Haas PCA") == (0, False)
    assert session.defaults("mean difference") == (bench.t_edit(METHODS["mean difference"]), True)
    plus, _ = plus_minus(bench, "Haas PCA")
    x_T = x_T_of(tiny, 1)
    close(session.render(Edit("Haas PCA", 0, 1.0), face=Face(1)),
          ll.ddim_sample(tiny, x_T, STEPS, dh=plus[0].dh(1.0), t_edit=0, asymmetric=False, progress=False)[0])
    close(session.render(Edit("Haas PCA", 0, 1.0), t_edit=500, asymmetric=True, face=Face(1)),
          ll.ddim_sample(tiny, x_T, STEPS, dh=plus[0].dh(1.0), t_edit=500, asymmetric=True, progress=False)[0])


def test_combination_adds_dh_with_the_last_edits_settings(session, bench, tiny):
    pca, _ = plus_minus(bench, "Haas PCA")
    md, = bench.candidates("mean difference", "hair_color", 1.0).values()
    a, b = Edit("Haas PCA", 0, 2.0), Edit("mean difference", "hair_color -> 1", -1.0)
    dh = ll.combine(pca[0].dh(2.0), md.dh(-1.0))
    direct = ll.ddim_sample(tiny, x_T_of(tiny, 5), STEPS, dh=dh, t_edit=md.t_edit, asymmetric=True, progress=False)
    close(session.render(a, b, face=Face(5)), direct[0])
    with pytest.raises(ValueError, match="cannot be combined"):
        session.render(a, Edit("Park pullback (move)", 0, 1.0), face=Face(5))


def test_strength_zero_and_no_edit_give_the_unedited_image(session, tiny):
    x0 = ll.ddim_sample(tiny, x_T_of(tiny, 6), STEPS, progress=False)[0]
    close(session.render(face=Face(6)), x0)
    close(session.render(Edit("Haas PCA", 0, 0.0), face=Face(6)), x0)


def test_rendered_and_uploaded_faces_are_inverted_and_regenerated_unclipped(session, tiny):
    from PIL import Image

    state = session.face_state(Face.rendered(seed=0, smile=0.5, glasses=1.0))
    face = ll.render_faces(1, seed=0, size=32, smile=0.5, glasses=1.0)[0]
    x_T = ll.ddim_invert(tiny, face, STEPS, progress=False)
    close(state.x_T, x_T)
    close(state.x0, ll.ddim_sample(tiny, x_T, STEPS, clip=False, progress=False))
    # an uploaded file twice the model's size: PIL's bicubic resize against torch's, then inverted
    big = ll.render_faces(1, seed=7, size=64)[0][0]
    pixels = ((big.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    import io
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    resized = load_image(buf.getvalue(), (32, 32))
    small = torch.nn.functional.interpolate(big[None], size=(32, 32), mode="bicubic", antialias=True)[0]
    assert resized.shape == (3, 32, 32) and (resized - small).abs().mean() < 0.03
    state = session.face_state(Face.uploaded(buf.getvalue()))
    close(state.x_T, ll.ddim_invert(tiny, resized[None], STEPS, progress=False))
    with pytest.raises(ValueError, match="not an image PIL can read"):
        session.face_state(Face.uploaded(b"not an image"))


def test_sweep_batches_what_render_computes_one_by_one(session):
    edits = [Edit("mean difference", "hair_color -> 1", 1.5), Edit("Haas PCA", 1, -2.0), Edit("Haas PCA", 0, 0.0),
             Edit("Haas Jacobian", 0, 0.7), Edit("Park pullback (guidance)", 0, 1.0),
             Edit("Park pullback (move)", 1, -2.0), Edit("Park pullback (guidance)", 0, 2.0, random=3),
             Edit("mean difference", "hair_color -> 1", 1.5, random=1), Edit("random", 2, 1.0)]
    images = session.sweep(edits, face=Face(4))
    assert images.shape == (len(edits), 3, 32, 32)
    for e, x in zip(edits, images):
        close(x, session.render(e, face=Face(4)), e.label())
    close(images[2], session.face_state(Face(4)).x0[0])


def test_random_baselines_have_the_size_of_their_edit(session, tiny):
    """h-space: the edit's ||dh|| at every step of the face's trajectory (so the median size too),
    reproducible by seed; x-space: a Gaussian unit v moved with the same gamma."""
    face = Face(5)
    for e in (Edit("mean difference", "hair_color -> 1", 2.0), Edit("Haas PCA", 0, -1.5),
              Edit("Haas Jacobian", 1, 1.0)):
        r = Edit(e.method, e.target, e.strength, random=7)
        assert session.edit_size(r, face) == pytest.approx(session.edit_size(e, face), rel=1e-5)
        assert session.edit_size(e, face) > 0
    a, b, c = session.sweep([Edit("Haas PCA", 0, 2.0, random=s) for s in (1, 1, 2)], face)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # the size by hand for PCA: |c| sigma_0(t) over ||h_t|| of the unedited run, median over the steps
    hs = {}
    ll.ddim_sample(tiny, x_T_of(tiny, 5), STEPS, progress=False, callback=lambda s: hs.__setitem__(s["t"], s["h"]))
    pcs = ll.pca_directions(tiny, None, STEPS, METHODS["Haas PCA"].settings["k"],
                            trajectory=session.workbench.trajectories()[0], progress=False)
    by_hand = np.median([float(pcs.direction(0, 2.0)(t, h).norm() / h.norm()) for t, h in hs.items()])
    assert session.edit_size(Edit("Haas PCA", 0, 2.0), face) == pytest.approx(by_hand, rel=1e-5)
    # Park's baseline: guidance along a random unit v, gamma as the method's
    s = METHODS["Park pullback (guidance)"].settings
    t = session.defaults("Park pullback (guidance)")[0]
    x_t = ll.ddim_sample(tiny, x_T_of(tiny, 5), STEPS, return_trajectory=True, progress=False)[1][
        session.grid.index(t)]
    v = torch.randn(tiny.sample_shape, generator=gen(0))
    moved = ll.x_space_guidance(tiny, x_t, t, v / v.norm(), gamma=s["gamma"] * 1.5, n=s["n"])
    size = session.edit_size(Edit("Park pullback (guidance)", 2, 1.5, random=0), face)
    assert size == pytest.approx(float((moved - x_t).norm() / x_t.norm()), rel=1e-4)
    close(session.render(Edit("Park pullback (guidance)", 2, 1.5, random=0), face=face),
          ll.ddim_sample(tiny, moved, STEPS, t_start=t, progress=False)[0])


@pytest.mark.parametrize("edit, error, match", [
    (lambda: Edit("PCA", 0, 1.0), ValueError, "method must be one of mean difference, paired"),
    (lambda: Edit("Haas PCA", "smile -> +1", 1.0), ValueError, "target must be a direction index >= 0 for Haas PCA"),
    (lambda: Edit("paired", 0, 1.0), TypeError, "target must be 'attribute -> goal' for paired"),
    (lambda: Edit("paired", "grin -> +1", 1.0), ValueError, "target must be 'attribute -> goal'"),
    (lambda: Edit("paired", "glasses -> 0.5", 1.0), ValueError, "goal must be 0 or 1"),
    (lambda: Edit("random", 0, float("nan")), ValueError, "strength must be a finite number"),
])
def test_bad_edits_raise_clear_errors(edit, error, match):
    with pytest.raises(error, match=match):
        edit()


def test_bad_requests_raise_clear_errors(session, tiny):
    with pytest.raises(ValueError, match="target must be a direction index from 0 to 4 for Haas PCA, got 5"):
        session.render(Edit("Haas PCA", 5, 1.0))
    with pytest.raises(ValueError, match="has no direction for smile -> \\+1 on this model"):
        session.render(Edit("Asyrp f", "smile -> +1", 1.0))  # the shipped editors fit the bundled model only
    with pytest.raises(ValueError, match="t_edit and asymmetric apply to h-space methods only"):
        session.render(Edit("Park pullback (move)", 0, 1.0), t_edit=500)
    with pytest.raises(ValueError, match="t_edit must be None or a timestep from 0 to 1000"):
        session.render(Edit("Haas PCA", 0, 1.0), t_edit=-1)
    with pytest.raises(TypeError, match="edits must be Edit objects"):
        session.sweep(["Haas PCA"])
    with pytest.raises(TypeError, match="model must be a latentlab Model"):
        EditSession("faces32", probe=LinearProbe())
    with pytest.raises(ValueError, match="preview_steps must be an integer >= 0"):
        EditSession(tiny, probe=LinearProbe(), preview_steps=-1)
    with pytest.raises(ValueError, match="steps must be an integer from 1 to 1000"):
        EditSession(tiny, probe=LinearProbe(), steps=0)
    with pytest.raises(ValueError, match="workbench must be a Workbench of this model with steps=5"):
        EditSession(tiny, probe=LinearProbe(), steps=5, workbench=session.workbench)


def test_asyrp_editor_equals_the_registry_candidate():
    """The shipped editors are shaped for the bundled model's h: this one test loads it (5 steps)."""
    model, probe = ll.load_model(), ll.load_probe()
    s = EditSession(model, probe=probe, steps=5, preview_steps=0)
    try:
        assert s.targets("Asyrp f") == ["glasses -> 1", "glasses -> 0", "smile -> +1", "smile -> -1"]
        editor = ll.load_editor("smile", 1.0, "f")
        assert s.defaults("Asyrp f", "smile -> +1") == (editor.t_edit, True)
        x_T = x_T_of(model, 11)
        direct = ll.ddim_sample(model, x_T, 5, dh=lambda t, h: 1.5 * editor(t, h), t_edit=editor.t_edit,
                                asymmetric=True, progress=False)
        close(s.render(Edit("Asyrp f", "smile -> +1", 1.5), face=Face(11)), direct[0])
        raw = ll.load_editor("glasses", 0.0, "dh")
        direct = ll.ddim_sample(model, x_T, 5, dh=lambda t, h: raw(t, h), t_edit=raw.t_edit, progress=False)
        close(s.render(Edit("Asyrp dh", "glasses -> 0", 1.0), face=Face(11)), direct[0])
    finally:
        s.close()


# ----------------------------------------------------------------------------- the worker


def test_submit_shows_a_preview_then_the_full_image(session, tiny):
    seen = []
    session.on_result = seen.append
    try:
        gen_ = session.submit([Edit("Haas PCA", 1, 1.5)], face=Face(2))
        assert session.wait(60)
    finally:
        session.on_result = None
    assert [r.stage for r in seen] == ["preview", "full"] and all(r.generation == gen_ for r in seen)
    assert seen[0].steps == PREVIEW and seen[1].steps == STEPS and seen[0].seconds < seen[1].seconds
    close(seen[1].image, session.render(Edit("Haas PCA", 1, 1.5), face=Face(2)))
    assert seen[1].readings_after == pytest.approx({k: v.item() for k, v in LinearProbe()(seen[1].image[None]).items()},
                                                   abs=1e-4)
    assert session.latest is seen[1] and session.face == Face(2)


def test_stale_requests_are_dropped(tiny):
    """Twenty quick submits: superseded ones stop within a U-Net call, the last one is shown."""
    s = EditSession(tiny, probe=LinearProbe(), steps=50, preview_steps=0)
    try:
        s.face_state()
        s.render(Edit("random", 0, 1.0))  # the directions are drawn once, before timing
        seen = []
        s.on_result = seen.append
        for i in range(1, 21):
            s.submit([Edit("random", 0, i / 10)])
        assert s.wait(120)
        assert 1 <= len(seen) < 20 and seen[-1].generation == s.generation
        close(seen[-1].image, s.render(Edit("random", 0, 2.0)))
    finally:
        s.close()


def test_errors_become_results_with_a_message(session):
    seen = []
    session.on_result = seen.append
    try:
        session.submit([Edit("Haas PCA", 9, 1.0)])
        assert session.wait(60)
    finally:
        session.on_result = None
    assert [r.stage for r in seen] == ["error"]
    assert "target must be a direction index from 0 to 4" in seen[0].message and "Traceback" not in seen[0].message


def test_a_closed_session_stops_its_worker_and_refuses_requests(tiny):
    s = EditSession(tiny, probe=LinearProbe(), steps=500, preview_steps=0)
    before = set(threading.enumerate())
    s.submit([Edit("random", 0, 1.0)])
    thread, = set(threading.enumerate()) - before
    s.close()
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        s.submit([Edit("random", 0, 1.0)])


EXIT_STEPS = 100  # every job of the worker makes at least this many U-Net calls (a face load, an edit's sampling)
EXIT_SCRIPT = textwrap.dedent("""
    import atexit, threading
    import torch
    import latentlab as ll
    from latentlab.session import Edit, EditSession
    torch.set_num_threads(1)
    probe = lambda x: {{a: x.mean((1, 2, 3)) for a in ll.ATTRIBUTES}}
    s = EditSession(ll.tiny_model(sample_size=32), probe=probe, steps={steps}, preview_steps=0)
    {prepare}
    calls, inside = [], threading.Event()
    def count(module, args):  # from here on, only the worker calls the U-Net
        calls.append(1)
        if len(calls) == 3:
            inside.set()
    s.model.unet.register_forward_pre_hook(count)
    s.submit([Edit("random", 0, 1.0)])
    assert inside.wait(60)
    assert any(t.name == "latentlab-edit-session" for t in threading.enumerate())  # mid-render: {what}
    print("exiting", flush=True)
    # runs before the session's own exit handler (registered earlier; atexit runs the last first)
    atexit.register(lambda: print(f"U-Net calls: {{len(calls)}}", flush=True))
    {end}
""")
EXIT_CASES = {  # what: (prepare, end)
    "loading the face": ("", ""),
    "sampling the edit": ("s.face_state(); s.candidate(Edit('random', 0, 1.0))", ""),
    "the script raises": ("s.face_state()", "raise SystemExit(0)"),
    "the script drops the session": ("s.face_state()", "del s; import gc; gc.collect()"),
}
# One interpreter imports latentlab (6 s, most of a script's run) and forks a child per script: each child
# runs its script at module level and then ends as a script does (atexit, then the interpreter's teardown,
# where a thread left in torch aborts it with "terminate called": measured, a fork reports it as a plain
# script does). Every child's stdout, stderr and exit code go to files.
FORK_EACH = textwrap.dedent("""
    import json, os, sys
    import latentlab
    scripts, out = json.loads(sys.argv[1]), sys.argv[2]
    for i, script in enumerate(scripts):
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            for fd, ext in ((1, "out"), (2, "err")):
                os.dup2(os.open(f"{out}/{i}.{ext}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
            namespace = {"__name__": "__main__"}  # a global here, as a script's globals live until its end
            exec(script, namespace)
            break
        _, status = os.wait()
        with open(f"{out}/{i}.rc", "w") as f:
            f.write(str(os.waitstatus_to_exitcode(status)))
""")


@pytest.fixture(scope="module")
def exits(tmp_path_factory) -> dict[str, tuple[int, str, str]]:
    """Each case's (exit code, stdout, stderr)."""
    out = tmp_path_factory.mktemp("exits")
    scripts = [EXIT_SCRIPT.format(steps=EXIT_STEPS, prepare=prepare, what=what, end=end)
               for what, (prepare, end) in EXIT_CASES.items()]
    run = subprocess.run([sys.executable, "-c", FORK_EACH, json.dumps(scripts), str(out)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    return {what: (int((out / f"{i}.rc").read_text()), (out / f"{i}.out").read_text(), (out / f"{i}.err").read_text())
            for i, what in enumerate(EXIT_CASES)}


@pytest.mark.slow
@pytest.mark.parametrize("what", EXIT_CASES)
def test_the_interpreter_exits_cleanly_mid_render(exits, what):
    """A script (or a kernel shut down) while the worker is inside torch: exit code 0, no
    "terminate called without an active exception" (the abort of a thread left in torch). The worker is
    checked to be mid-job when the script ends: fewer U-Net calls than its job needs."""
    returncode, stdout, stderr = exits[what]
    assert "exiting" in stdout, stderr[-2000:]
    assert returncode == 0 and "terminate called" not in stderr, stderr[-2000:]
    assert "U-Net calls: " in stdout, stderr[-2000:]
    calls = int(stdout.split("U-Net calls: ")[1].split()[0])
    assert 3 <= calls < EXIT_STEPS, f"the worker made {calls} U-Net calls: its job was over before the exit"


# ----------------------------------------------------------------------------- what the session relies on


@pytest.mark.parametrize("conditional", [False, True])
def test_fused_asymmetric_step_equals_two_passes(conditional):
    """ddim_sample(fused=True): one U-Net pass of batch 2B per asymmetric step, the same x_0 up to
    float rounding (the session's every asymmetric edit)."""
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
    """While a worker thread's edit is inside the U-Net, a call from another thread runs the plain
    U-Net: the session's worker and a notebook cell can share one model."""
    inside, release = threading.Event(), threading.Event()

    def slow_dh(t, h):
        inside.set()
        release.wait(30)
        return torch.ones_like(h)

    x = torch.randn(1, 3, 16, 16, generator=gen(0))
    worker = threading.Thread(target=ll.ddim_sample, args=(model, x, 2), kwargs=dict(dh=slow_dh, progress=False))
    worker.start()
    try:
        assert inside.wait(30)
        assert torch.equal(ll.eps_of(model, x, 500), model.unet(x, 500).sample)
        assert ll.h_of(model, x, 500).shape == (1, *model.h_shape)
    finally:
        release.set()
        worker.join()


@pytest.mark.slow  # a full DDIM run or the bundled model: `make test` runs it, `make check` does not
@pytest.mark.parametrize("name", sorted(SHIPPED_ONLY))
def test_shipped_later_methods_on_the_bundled_model_equal_the_registry_candidate(name):
    """The SAE feature (an h-space edit) and the LoRA slider (the U-Net's weights, on the workbench's
    own copy): the session's image is the candidate's, and the bundled model's weights never change."""
    model = ll.load_model()
    before = {k: v.clone() for k, v in model.unet.state_dict().items()}
    s = EditSession(model, probe=LinearProbe(), steps=2, preview_steps=0)
    try:
        assert "smile -> +1" in s.targets(name)
        cand, = s.workbench.candidates(name, "smile", 1.0).values()
        x_T = x_T_of(model, 0)
        close(s.render(Edit(name, "smile -> +1", 0.7), face=Face(0)), cand(x_T, 0.7)[0], name)
        if METHODS[name].space == "w":
            with pytest.raises(ValueError, match="cannot be combined"):
                s.render(Edit(name, "smile -> +1", 1.0), Edit("Haas PCA", 0, 1.0), face=Face(0))
            with pytest.raises(ValueError, match="random must be None"):
                s.render(Edit(name, "smile -> +1", 1.0, random=3), face=Face(0))
            close(s.sweep([Edit(name, "smile -> +1", 0.7)], face=Face(0))[0], cand(x_T, 0.7)[0])
    finally:
        s.close()
    after = model.unet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before) and before.keys() == after.keys()
