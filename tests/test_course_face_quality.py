"""Per-face quality rows against independent oracles: scipy's KS test, numpy's median and PSNR's
formula, and a face sampled alone against the same face sampled in a batch."""
import numpy as np
import pytest
import torch
from scipy import stats

import latentlab as ll
from latentlab.course.face_quality import (
    face_rows,
    inversion_rows,
    ks_tests,
    null_false_alarms,
    quality_summary,
    render_by_seed,
    sample_faces,
)
from latentlab.faces import ATTRIBUTES
from latentlab.probe import Probe, ProbeConfig


@pytest.fixture(scope="module")
def probe():
    torch.manual_seed(0)
    return Probe(ProbeConfig.tiny()).eval()


def test_a_face_is_its_seed_alone_or_in_a_batch():
    model = ll.tiny_model()
    batch = sample_faces(model, [5, 6, 7], steps=3, progress=False)
    alone = sample_faces(model, [6], steps=3, progress=False)
    torch.testing.assert_close(alone[0], batch[1], atol=1e-5, rtol=0)
    noise = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(6))
    direct = ll.ddim_sample(model, noise[None], 3, progress=False)
    torch.testing.assert_close(alone, direct, atol=1e-5, rtol=0)


def test_render_by_seed_is_render_faces_one_at_a_time():
    x = render_by_seed([3, 9])
    torch.testing.assert_close(x[1], ll.render_faces(1, seed=9)[0][0])


def test_summary_against_scipy_and_numpy(probe):
    samples, renders = render_by_seed(list(range(20))), render_by_seed(list(range(100, 130)))
    rows = face_rows(samples, probe, kind="sample", seeds=list(range(20)))
    rows += face_rows(renders, probe, kind="render", seeds=list(range(100, 130)))
    s = quality_summary(rows)
    with torch.no_grad():
        ps, pr = probe(samples), probe(renders)
    for k in s["ks"]:
        assert s["ks"][k] == pytest.approx(stats.ks_2samp(ps[k].numpy(), pr[k].numpy()).statistic, abs=1e-6)
    assert s["glasses_rate"][1] == pytest.approx(np.mean(pr["glasses"].numpy() > 0.5))
    mse = np.array([r["rerender_mse"] for r in rows if r["kind"] == "render"])
    assert s["rerender_mse"][1] == pytest.approx(np.median(mse))
    assert (s["n_samples"], s["n_renders"], s["inversion_psnr"]) == (20, 30, None)
    assert set(rows[0]) == {"kind", "seed", "rerender_mse", *ATTRIBUTES}


def test_inversion_psnr_is_the_round_trip_against_its_formula():
    model = ll.tiny_model()
    x0 = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    rows = inversion_rows(model, x0, [4, 8], steps=4, progress=False)
    recon = ll.ddim_sample(model, ll.ddim_invert(model, x0, 4, progress=False), 4, clip=False, progress=False)
    mse = ((recon - x0) ** 2).flatten(1).mean(1).double().numpy()
    assert [r["seed"] for r in rows] == [4, 8]
    np.testing.assert_allclose([r["psnr"] for r in rows], 10 * np.log10(4 / mse), rtol=1e-4)


@pytest.mark.parametrize("bad", [[], [1.5], "012", [-1], [True]])
def test_bad_seeds_are_refused(bad):
    with pytest.raises(ValueError, match="seeds"):
        render_by_seed(bad)


def test_summary_needs_samples_and_renders():
    with pytest.raises(ValueError, match="'sample' and 'render'"):
        quality_summary([{"kind": "sample", "rerender_mse": 1.0}])


def test_ks_tests_and_false_alarms_against_scipy_and_a_count_by_hand():
    g = np.random.default_rng(0)
    rows = [{"kind": k, **{a: float(g.normal(shift)) for a in ATTRIBUTES}, "rerender_mse": 1.0}
            for k, shift, n in (("sample", 0.5, 80), ("render", 0.0, 100)) for _ in range(n)]
    nulls = [{"kind": "null", **{f"ks_{a}": float(g.uniform(0, 0.3)) for a in ATTRIBUTES if a != "glasses"},
              "glasses_diff": float(g.uniform(0, 0.2))} for _ in range(30)]
    tests = {t["attr"]: t for t in ks_tests(rows + nulls, alpha=0.05, family=11)}
    samples = lambda a, k: [r[a] for r in rows if r["kind"] == k]  # noqa: E731
    for a, t in tests.items():
        res = stats.ks_2samp(samples(a, "sample"), samples(a, "render"))
        assert t["ks"] == pytest.approx(res.statistic)
        assert t["null_q95"] == pytest.approx(np.quantile([r[f"ks_{a}"] for r in nulls], 0.95))
        # Bonferroni's critical value is scipy's asymptotic one at alpha / 11
        assert (t["ks"] > t["critical_family"]) == t["detectable"]
    assert tests["smile"]["critical_family"] > tests["smile"]["critical"]
    by_hand = sum(any(v > 0.2 for k, v in r.items() if k.startswith("ks_")) or r["glasses_diff"] > 0.15
                  for r in nulls)
    assert null_false_alarms(nulls, 0.2, 0.15) == (by_hand, 30)
    with pytest.raises(ValueError, match="null runs"):
        null_false_alarms(rows, 0.2, 0.15)
