"""The method registry: one definition per method, checked against direct computations."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import latentlab as ll
from latentlab.faces import ATTRIBUTES
from latentlab.methods import METHODS, Workbench, method, nearest_timestep, towards

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    torch.manual_seed(0)
    return Workbench(ll.tiny_model(sample_size=32), steps=3, seed=0)


def faces(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_every_method_has_complete_settings():
    for name, m in METHODS.items():
        assert m.name == name
        assert m.space in ("h", "x", "w") and m.sign in ("goal", "both")
        assert m.t_edit == "editor" or 0 <= m.t_edit < 1
        assert m.unit and m.paper


def test_unknown_names_are_refused_with_the_allowed_ones(bench):
    with pytest.raises(ValueError, match="method must be one of mean difference, paired"):
        method("Haas")
    with pytest.raises(ValueError, match="attr must be one of"):
        bench.candidates("paired", "grin", 1.0)
    with pytest.raises(ValueError, match="goal"):
        bench.candidates("paired", "glasses", 0.5)
    with pytest.raises(ValueError, match="n sets the number of candidates of the random baseline only"):
        bench.candidates("Haas PCA", "smile", 1.0, n=3)
    with pytest.raises(ValueError, match="n must be a positive number of candidates, got 0"):
        bench.candidates("random", "smile", 1.0, n=0)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        Workbench(ll.tiny_model(), steps=0)


def test_towards_and_nearest_follow_their_definitions():
    for attr, (lo, hi) in ATTRIBUTES.items():
        assert towards(attr, hi) == 1.0 and towards(attr, lo) == -1.0
    assert nearest_timestep([999, 666, 333, 0], 0.6 * 1000) == 666


def test_mean_difference_labels_faces_by_the_middle_of_the_range(bench):
    tr, readings = bench.trajectories()
    lo, hi = ATTRIBUTES["smile"]
    above = (readings["smile"] > (lo + hi) / 2).numpy()
    h = tr.h.double().numpy()
    expected = h[above].mean(0) - h[~above].mean(0)  # numpy's own group means: the oracle
    up = bench.candidates("mean difference", "smile", hi)["mean difference"]
    down = bench.candidates("mean difference", "smile", lo)["mean difference"]
    for s, t in enumerate(tr.timesteps.tolist()):
        torch.testing.assert_close(up.dh()(t, tr.h[:1, s]).double(), torch.from_numpy(expected[s]),
                                   rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(down.dh(2.0)(t, tr.h[:1, s]), -2 * up.dh()(t, tr.h[:1, s]))


def test_an_h_candidate_edits_with_its_papers_step(bench):
    """Haas PCA: c sigma_k(t) pc_k(t) in both terms of every step (Haas et al.), from the PCA itself."""
    x = faces(2)
    pcs = ll.pca_directions(bench.model, None, 3, 5, trajectory=bench.trajectories()[0], progress=False)
    cand = bench.candidates("Haas PCA", "smile", 1.0)["-pc_2"]
    direct = ll.ddim_sample(bench.model, x, 3, dh=pcs.direction(1, -1.5), asymmetric=False, progress=False)
    torch.testing.assert_close(cand(x, 1.5), direct)
    torch.testing.assert_close(cand(x, 0.0), ll.ddim_sample(bench.model, x, 3, progress=False))


def test_the_random_baseline_has_as_many_candidates_as_asked(bench):
    for n in (1, 2, 5, 6, 10):
        cands = bench.candidates("random", "smile", 1.0, n=n)
        assert len(cands) == n
    cands = bench.candidates("random", "smile", 1.0, n=6)
    h = torch.zeros(1, *bench.model.h_shape)
    for t in bench.grid:  # unit norm at every step; + and - are one draw
        torch.testing.assert_close(cands["+r_2"].dh()(t, h).norm(), torch.tensor(1.0))
        torch.testing.assert_close(cands["-r_2"].dh()(t, h), -cands["+r_2"].dh()(t, h))
    assert not torch.allclose(cands["+r_1"].dh()(0, h), cands["+r_2"].dh()(0, h))


@pytest.mark.slow  # a full DDIM run or the bundled model: `make test` runs it, `make check` does not
def test_park_directions_are_each_faces_own_and_aligned_with_the_reference(bench):
    x = faces(3, seed=1)
    cands = bench.candidates("Park pullback (guidance)", "smile", 1.0)
    t = cands["+v_1"].t_edit
    assert t == nearest_timestep(bench.grid, 0.6 * bench.model.num_train_timesteps)
    _, xs = ll.ddim_sample(bench.model, x, 3, return_trajectory=True, progress=False)
    x_t = xs[bench.grid.index(t)]
    ref = torch.randn(1, 3, 32, 32, generator=bench.generator(3))
    _, xr = ll.ddim_sample(bench.model, ref, 3, return_trajectory=True, progress=False)
    u_ref = ll.pullback(bench.model, xr[bench.grid.index(t)][0], t, 3, seed=0).U[1]
    V = cands["+v_2"].v(x)
    for j in range(3):
        svd = ll.pullback(bench.model, x_t[j], t, 3, seed=0)
        sign = torch.sign((svd.U[1] * u_ref).sum())
        torch.testing.assert_close(V[j], sign * svd.V[1], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(cands["-v_2"].v(x), -V)


def test_park_move_and_guidance_follow_the_formulas(bench):
    x = faces(2, seed=2)
    move = bench.candidates("Park pullback (move)", "smile", 1.0)["+v_1"]
    guide = bench.candidates("Park pullback (guidance)", "smile", 1.0)["+v_1"]
    t = move.t_edit
    x_t = bench.x_t(x, t)
    v = move.v(x)
    torch.testing.assert_close(move.move(x, x_t, 0.5), x_t + 0.5 * 2.0 * v)
    expected = x_t.clone()  # Park et al.: n times x_t <- x_t + gamma (eps(x_t + v) - eps(x_t))
    for _ in range(16):
        expected = expected + 0.1 * 0.5 * (
            ll.eps_of(bench.model, expected + v, t) - ll.eps_of(bench.model, expected, t)
        )
    torch.testing.assert_close(guide.move(x, x_t, 0.5), expected, rtol=1e-4, atol=1e-5)
    edited = guide(x, 0.5)
    torch.testing.assert_close(edited, ll.ddim_sample(bench.model, expected, 3, t_start=t, progress=False),
                               rtol=1e-4, atol=1e-5)


def test_the_per_face_cache_is_keyed_by_the_face_not_the_batch(bench):
    x = faces(3, seed=3)
    t = bench.grid[1]
    a = bench.x_t(x, t)
    b = bench.x_t(x.flip(0).clone(), t)
    torch.testing.assert_close(b, a.flip(0))
    _, xs = ll.ddim_sample(bench.model, x[1:2], 3, return_trajectory=True, progress=False)
    torch.testing.assert_close(a[1], xs[1][0])


def test_asyrp_candidates_exist_only_for_shipped_editors_of_the_bundled_model(bench):
    assert bench.candidates("Asyrp f", "smile", 1.0) == {}  # a tiny model has another h shape
    wb = Workbench(ll.load_model(), steps=4)
    cands = wb.candidates("Asyrp f", "smile", 1.0)
    assert list(cands) == ["editor f"]
    assert cands["editor f"].t_edit == ll.load_editor("smile", 1.0).t_edit
    assert wb.candidates("Asyrp dh", "hair_color", 1.0) == {}


SETTINGS = re.compile(r"PARK_GAMMA|JACOBIAN_UNIT|standard_methods|_method_defaults|nearest\(600\)")


def test_no_second_copy_of_a_methods_settings():
    """The registry is the only home of the methods' settings (the widget and the comparison ask it)."""
    files = [*ROOT.glob("latentlab/**/*.py"), *ROOT.glob("notebooks/**/*.py"), *ROOT.glob("benchmarks/*.py")]
    hits = [f"{f.relative_to(ROOT)}:{i}" for f in files for i, line in enumerate(f.read_text().splitlines(), 1)
            if SETTINGS.search(line)]
    assert hits == []


# ---------------------------------------------------------------------- after the three papers


def test_the_later_methods_offer_nothing_where_they_do_not_apply(bench):
    assert bench.candidates("SAE feature", "smile", 1.0) == {}  # the shipped autoencoder fits the bundled h
    assert bench.candidates("LoRA slider", "smile", 1.0) == {}  # the shipped sliders fit the bundled U-Net
    assert bench.candidates("LOCO Edit", "hair_color", 1.0) == {}  # no region mask for hair colour
    assert ll.methods.goal_targets("LoRA slider") == [("glasses", 1.0), ("glasses", 0.0), ("smile", 1.0),
                                                       ("smile", -1.0)]


@pytest.mark.slow  # a full DDIM run or the bundled model: `make test` runs it, `make check` does not
def test_a_loco_candidate_moves_x_t_along_the_faces_own_masked_direction_towards_the_goal(bench):
    from latentlab.ddim import P_t, alpha_bar
    from latentlab.loco import face_mask, loco_directions

    x = faces(1, seed=4)
    cand = bench.candidates("LOCO Edit", "smile", 1.0)["v_1 (mouth)"]
    t = cand.t_edit
    assert t == nearest_timestep(bench.grid, 0.6 * bench.model.num_train_timesteps)
    v = cand.v(x)[0]
    # independently: the mask from the unedited sample, the direction from loco_directions
    x0 = ll.ddim_sample(bench.model, x, bench.steps, progress=False)
    x_t = bench.x_t(x, t)
    ref = loco_directions(bench.model, x_t, t, face_mask(bench.probe, x0, "mouth")[0], seed=bench.seed).V[0]
    assert abs(float((v * ref).sum())) == pytest.approx(1.0, abs=1e-4)
    assert torch.allclose(cand.move(x, x_t, 0.5), x_t + 0.5 * 16 * 0.5 * v, atol=1e-5)
    with torch.no_grad():  # the sign: the probe reads the +c edit's x0_hat nearer the goal than the -c one's
        moved = torch.cat([x_t + 8 * v, x_t - 8 * v])
        read = bench.probe(P_t(moved, ll.eps_of(bench.model, moved, t), alpha_bar(bench.model, t)).clamp(-1, 1))
    assert read["smile"][0] >= read["smile"][1]


@pytest.fixture(scope="module")
def bundled():
    return Workbench(ll.load_model(), steps=2, seed=0)


@pytest.mark.slow  # a full DDIM run or the bundled model: `make test` runs it, `make check` does not
def test_a_slider_candidate_samples_as_peft_merged_weights_do_and_leaves_the_model_alone(bundled):
    import copy

    from peft import get_peft_model, set_peft_model_state_dict
    from peft.tuners.lora import LoraLayer

    model = bundled.model
    before = {k: v.clone() for k, v in model.unet.state_dict().items()}
    cand = bundled.candidates("LoRA slider", "glasses", 0.0)["slider glasses"]
    assert cand.sign == -1.0 and cand.t_edit == 500  # towards glasses 0; t <= 0.8 T holds every step of [500, 0]
    x = faces(2, seed=1)
    out = cand(x, 0.5)
    # the oracle: peft's own merge of the adapter at scale -0.5 into a copy of the U-Net
    slider = cand.direction
    merged = get_peft_model(copy.deepcopy(model.unet), slider.lora_config(), adapter_name="oracle")
    loaded = set_peft_model_state_dict(merged, {f"base_model.model.{k}": v for k, v in slider.state.items()},
                                       adapter_name="oracle")
    assert not loaded.unexpected_keys
    for m in merged.modules():
        if isinstance(m, LoraLayer):
            m.set_scale("oracle", -0.5)
    oracle = copy.copy(model)
    oracle.unet = merged.merge_and_unload()
    want = ll.ddim_sample(oracle, x, bundled.steps, progress=False)
    assert torch.allclose(out, want, atol=1e-4)
    assert torch.equal(cand(x, 0.0), ll.ddim_sample(model, x, bundled.steps, progress=False))
    after = model.unet.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_an_sae_candidate_adds_the_features_decoder_direction_signed_towards_the_goal(bundled):
    from latentlab.sae import best_feature, feature_direction, load_sae

    cand, = bundled.candidates("SAE feature", "smile", -1.0).values()
    i, sign = best_feature("smile", -1.0)
    d = feature_direction(load_sae(), i)
    t, h = bundled.grid[0], torch.zeros(bundled.model.h_shape)
    assert torch.allclose(cand.dh(2.0)(t, h), 2.0 * sign * d(t, h))


def test_the_course_groups_cover_the_registry_once():
    from latentlab.methods import AFTER_THE_PAPERS, THREE_PAPERS

    assert sorted(THREE_PAPERS + AFTER_THE_PAPERS + ("random",)) == sorted(METHODS)
    assert len(set(THREE_PAPERS + AFTER_THE_PAPERS)) == len(THREE_PAPERS) + len(AFTER_THE_PAPERS)


def test_one_sampler_run_serves_every_step_of_a_face(monkeypatch):
    import latentlab.methods as lm

    wb = Workbench(ll.tiny_model(sample_size=32), steps=3, seed=0)
    calls = []
    real = lm.ddim_sample
    monkeypatch.setattr(lm, "ddim_sample", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = faces(2, seed=7)
    xt, x0 = wb.x_t(x, wb.grid[1]), wb.x_t(x, -1)
    assert len(calls) == 1
    want0, traj = real(wb.model, x, 3, return_trajectory=True, progress=False)
    assert torch.allclose(x0, want0) and torch.allclose(xt, traj[1])
    with pytest.raises(ValueError, match="t must be a timestep of the workbench's grid"):
        wb.x_t(x, 123)
