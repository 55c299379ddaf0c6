"""The step weights of lecture 03 against diffusers' DDIMScheduler, and the edit rows against edits whose
effect is known (none, or none before t_edit)."""
import pytest
import torch
from diffusers import DDIMScheduler

import latentlab as ll
from latentlab.course.asymmetric_step import edit_rows, face_outcomes, step_weights, symmetric_share

from helpers import LinearProbe, gen


@pytest.mark.parametrize("steps", [5, 10, 50])
def test_step_weights_match_the_schedulers_step(model, steps):
    s = DDIMScheduler.from_config(model.scheduler.config, clip_sample=False)
    s.set_timesteps(steps)
    w = step_weights(model, steps)
    assert w["timesteps"].tolist() == s.timesteps.tolist()
    x = torch.randn(1, 3, 8, 8, generator=gen(0), dtype=torch.float64)
    eps, d = torch.randn_like(x), torch.randn(x.shape, generator=gen(1), dtype=torch.float64)
    for i, t in enumerate(s.timesteps.tolist()):
        both = s.step(eps + d, t, x).prev_sample - s.step(eps, t, x).prev_sample
        p_only = (s.step(eps + d, t, x).pred_original_sample - s.step(eps, t, x).pred_original_sample)
        torch.testing.assert_close(both, (w["w_P"][i] + w["w_D"][i]) * d, atol=1e-9, rtol=1e-6)
        scale = torch.linalg.vecdot(p_only.flatten(), d.flatten()) / d.flatten().square().sum()  # P_t's shift / d
        a_p = s.alphas_cumprod[t - s.config.num_train_timesteps // steps] \
            if t >= s.config.num_train_timesteps // steps else s.final_alpha_cumprod
        assert float(a_p.double().sqrt() * scale) == pytest.approx(float(w["w_P"][i]), rel=1e-5)


def test_symmetric_share_falls_with_smaller_steps(model):
    shares = [symmetric_share(model, k) for k in (5, 20, 1000)]
    assert shares[0] > shares[1] > shares[2] and shares[2] < 0.05
    with pytest.raises(ValueError, match="steps"):
        step_weights(model, 0)


def test_edit_rows_with_no_edit_or_no_edited_step_change_nothing():
    m = ll.tiny_model(sample_size=32)
    x_T = torch.randn(3, 3, 32, 32, generator=gen(2))
    dh = 5 * torch.randn(m.h_shape, generator=gen(3))
    rows = edit_rows(m, x_T, dh, attr="smile", goal=1.0, steps=4, t_edits=[0, 999], symmetric_at=0,
                     probe=LinearProbe(), label="random")
    assert [(r["mode"], r["t_edit"], r["n"]) for r in rows] == [("asymmetric", 0, 3), ("asymmetric", 999, 3),
                                                                  ("symmetric", 0, 3)]
    assert rows[0]["pixel_change"] > 0 and rows[1]["pixel_change"] == 0 and rows[2]["pixel_change"] > 0
    direct = ll.ddim_sample(m, x_T, 4, dh=dh, progress=False)
    base = ll.ddim_sample(m, x_T, 4, progress=False)
    rms = ((direct - base) ** 2).flatten(1).mean(1).sqrt().mean()
    assert rows[0]["pixel_change"] == pytest.approx(float(rms), abs=2e-3)


def test_face_outcomes_match_samples_drawn_directly():
    m, probe = ll.tiny_model(sample_size=32), LinearProbe()
    x_T = torch.randn(3, 3, 32, 32, generator=gen(4))
    dh = 5 * torch.randn(m.h_shape, generator=gen(5))
    rows = face_outcomes(m, x_T, dh, attr="smile", goal=1.0, steps=4, t_edit=0, probe=probe)
    base = ll.ddim_sample(m, x_T, 4, progress=False)
    for mode, asym in (("asym", True), ("sym", False)):
        edited = ll.ddim_sample(m, x_T, 4, dh=dh, asymmetric=asym, progress=False)
        rms = ((edited - base) ** 2).flatten(1).mean(1).sqrt()
        change = probe(edited)["smile"] - probe(base)["smile"]
        sign = torch.sign(1.0 - probe(base)["smile"])
        for i, r in enumerate(rows):
            assert r["face"] == i
            assert r[f"pixel_{mode}"] == pytest.approx(float(rms[i]), abs=2e-3)
            assert r[f"change_{mode}"] == pytest.approx(float(change[i] * sign[i]), abs=2e-3)
            # right way: a movable face whose smile rose by more than 0.1 (5 % of its range)
            assert r[f"right_way_{mode}"] == (r["movable"] and float(change[i] * sign[i]) > 0.1)
