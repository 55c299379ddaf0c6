"""Asyrp's four properties as rows (`latentlab.course.editor_properties`) and the averaged editors
(`asyrp.mean_dh`, `asyrp.global_dh`), each against an independent computation: scipy's linear
regression, numpy on the probe's readings, the raw editor's own parameters."""
import numpy as np
import pytest
import torch
from scipy import stats

import latentlab as ll
from latentlab.asyrp import global_dh, mean_dh
from latentlab.course.editor_properties import additivity_row, edit_row, faces_noise, linearity_fit
from latentlab.probe import Probe, ProbeConfig


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return ll.tiny_model(sample_size=32), Probe(ProbeConfig.tiny()).eval()


def test_linearity_fit_matches_scipy():
    g = torch.Generator().manual_seed(3)
    c = [-2.0, -1.0, 0.0, 1.0, 2.0]
    y = (0.3 * torch.tensor(c) + 0.1 * torch.randn(5, generator=g)).tolist()
    ref = stats.linregress(c, y)
    fit = linearity_fit(c, y)
    assert fit["slope"] == pytest.approx(ref.slope, abs=1e-8)
    assert fit["intercept"] == pytest.approx(ref.intercept, abs=1e-8)
    assert fit["r2"] == pytest.approx(ref.rvalue ** 2, abs=1e-8)
    assert fit["mirror"] == pytest.approx(y[1] / y[3], abs=1e-8)


def test_linearity_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 3"):
        linearity_fit([0, 1], [0, 1])
    with pytest.raises(ValueError, match="not all be equal"):
        linearity_fit([1, 1, 1], [0, 1, 2])


def test_edit_row_reads_the_probe(tiny):
    model, probe = tiny
    x = faces_noise(model, 3, seed=0)
    base = ll.ddim_sample(model, x, 2, progress=False)
    edited = (base + 0.3 * torch.randn(base.shape, generator=torch.Generator().manual_seed(1))).clamp(-1, 1)
    row = edit_row(model, x, None, attr="smile", goal=1.0, steps=2, t_edit=0, probe=probe, base=base, edited=edited,
                   digits=8)
    with torch.no_grad():
        before, after = probe(base), probe(edited)
    for a, r in ll.ATTRIBUTES.items():
        want = np.mean((after[a] - before[a]).numpy()) / r.span
        assert row[f"d_{a}"] == pytest.approx(want, abs=1e-6)
    rms = np.sqrt(((edited - base).numpy() ** 2).reshape(3, -1).mean(1)).mean()
    assert row["pixel_change"] == pytest.approx(rms, abs=1e-6)
    assert row["n_faces"] == 3


def test_edit_row_rejects_mismatched_images(tiny):
    model, probe = tiny
    x = faces_noise(model, 2, seed=0)
    with pytest.raises(ValueError, match="edited must have the shape"):
        edit_row(model, x, None, attr="smile", goal=1.0, steps=2, t_edit=0, probe=probe,
                 edited=torch.zeros(3, *model.sample_shape))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        faces_noise(model, 0, seed=0)


def test_additivity_row_matches_numpy(tiny):
    _, probe = tiny
    g = torch.Generator().manual_seed(2)
    base = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
    a, b, ab = ((base + 0.2 * torch.randn(base.shape, generator=g)).clamp(-1, 1) for _ in range(3))
    row = additivity_row(base, a, b, ab, probe=probe, digits=8)
    with torch.no_grad():
        r0, ra, rb, rab = (probe(x) for x in (base, a, b, ab))
    span = np.array([r.span for r in ll.ATTRIBUTES.values()])
    D = {k: np.stack([(r[n] - r0[n]).numpy() for n in ll.ATTRIBUTES], 1) / span for k, r in
         (("a", ra), ("b", rb), ("ab", rab))}
    want = np.linalg.norm(D["ab"] - D["a"] - D["b"]) / np.linalg.norm(D["a"] + D["b"])
    assert row["additivity"] == pytest.approx(want, rel=1e-5)
    shares = [row[f"residual_{n}"] for n in ll.ATTRIBUTES]
    assert sum(shares) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="edited_b"):
        additivity_row(base, a, b[:2], ab, probe=probe)


def test_mean_dh_of_a_raw_editor_is_its_own_dh():
    ed = ll.load_editor("smile", 1.0, "dh")
    ts = ed.timesteps[:3]  # training timesteps: interpolation returns the stored dh exactly
    h = torch.randn(5, 3, *ed.h_shape, generator=torch.Generator().manual_seed(0))
    d = mean_dh(ed, ts, h)
    assert torch.allclose(d.directions, ed.dh.detach()[:3], atol=1e-6)
    assert torch.allclose(global_dh(ed, ts, h), ed.dh.detach()[:3].mean(0), atol=1e-6)


def test_mean_dh_of_f_averages_over_faces():
    ed = ll.load_editor("smile", 1.0, "f")
    ts = torch.tensor([900, 500, 100])  # 100 < t_edit = 200: left out
    h = torch.randn(4, 3, *ed.h_shape, generator=torch.Generator().manual_seed(1))
    d = mean_dh(ed, ts, h)
    assert d.timesteps.tolist() == [900, 500]
    with torch.no_grad():
        want = np.stack([np.mean([ed(t, h[j, i][None])[0].numpy() for j in range(4)], 0)
                         for i, t in enumerate([900, 500])])
    np.testing.assert_allclose(d.directions.numpy(), want, atol=1e-5)
    with pytest.raises(ValueError, match="h must have shape"):
        mean_dh(ed, ts, h[:, :2])
    with pytest.raises(ValueError, match="no timestep"):
        mean_dh(ed, torch.tensor([100]), h[:, :1])


def test_linearity_interval_matches_a_numpy_bootstrap():
    from latentlab.course.editor_properties import linearity_interval

    g = torch.Generator().manual_seed(5)
    d = {c: c * 0.2 + 0.1 * torch.randn(40, generator=g, dtype=torch.float64) for c in (-1.0, 1.0, 2.0)}
    got = linearity_interval(d, n_boot=4000, seed=1)
    rng = np.random.default_rng(0)
    ys = np.stack([np.zeros(40), *(d[c].numpy() for c in (-1.0, 1.0, 2.0))])  # c = 0, -1, 1, 2
    cs = np.array([0.0, -1.0, 1.0, 2.0])
    slopes, mirrors = [], []
    for _ in range(4000):
        m = ys[:, rng.integers(0, 40, 40)].mean(1)
        slopes.append(np.polyfit(cs, m, 1)[0])
        mirrors.append(m[1] / m[2])
    for name, ref in (("slope", slopes), ("mirror", mirrors)):
        lo, hi = np.quantile(ref, [0.025, 0.975])
        assert got[name][0] == pytest.approx(lo, abs=0.02) and got[name][1] == pytest.approx(hi, abs=0.02), name
    with pytest.raises(ValueError, match="per_face"):
        linearity_interval({1.0: torch.zeros(3), 2.0: torch.zeros(3)})


def test_face_table_matches_right_way_and_read_edit(tiny):
    from latentlab.course.editor_properties import face_table

    m, p = tiny
    g = torch.Generator().manual_seed(2)
    base = torch.rand(6, 3, 32, 32, generator=g) * 2 - 1
    edited = (base + 0.3 * torch.randn(6, 3, 32, 32, generator=g)).clamp(-1, 1)
    rows = face_table(base, {"e": edited}, attr="smile", goal=1.0, probe=p)
    with torch.no_grad():
        before, after = p(base)["smile"], p(edited)["smile"]
    movable = (1.0 - before).abs() > 0.1
    moved = movable & ((after - before) * torch.sign(1.0 - before) > 0.1)
    assert [r["movable"] for r in rows] == movable.tolist()
    assert [r["ok_e"] for r in rows] == moved.tolist()
    np.testing.assert_allclose([r["d_e"] for r in rows], ((after - before) / 2).numpy(), atol=1e-4)
