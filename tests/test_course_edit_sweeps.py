"""The editor's sweeps and unit sizes (lecture 08) against plain `ddim_sample` runs read by a probe with
known answers, the dh recomputed along a trajectory sampled on its own, and numpy's percentiles."""
import numpy as np
import pytest
import torch

import latentlab as ll
from latentlab.course.edit_sweeps import (
    load_images,
    save_images,
    sweep_changes,
    sweep_rows,
    unit_size_rows,
    unit_size_summary,
)
from latentlab.session import Edit, EditSession, Face

from helpers import LinearProbe


@pytest.fixture(scope="module")
def session(tiny):
    return EditSession(tiny, probe=LinearProbe(), steps=4)


def test_sweep_rows_at_zero_strength_read_the_plain_ddim_sample(tiny, session):
    rows, images = sweep_rows(session, {"r": Edit("random", 0, 1.0)}, (0.0, 2.0), seed=3, random=1)
    x_T = torch.randn(1, *tiny.sample_shape, generator=torch.Generator().manual_seed(3))
    plain = ll.ddim_sample(tiny, x_T, 4, progress=False)
    torch.testing.assert_close(images[0], plain[0], atol=1e-5, rtol=0)
    want = LinearProbe()(plain)
    for a in ll.ATTRIBUTES:
        assert rows[0][a] == pytest.approx(float(want[a][0]), abs=1e-5)
    assert [(r["c"], r["random"]) for r in rows] == [(0.0, -1), (2.0, -1), (2.0, 0)]
    assert not torch.allclose(images[1], images[0], atol=1e-4)  # c = 2 edits the face


def test_unit_size_is_the_median_dh_over_h_along_a_trajectory_sampled_apart(tiny, session):
    x_T = torch.randn(1, *tiny.sample_shape, generator=torch.Generator().manual_seed(5))
    hs = {}
    ll.ddim_sample(tiny, x_T, 4, progress=False, callback=lambda s: hs.__setitem__(s["t"], s["h"]))
    cand, c = session.candidate(Edit("random", 0, 1.0))
    dh = cand.dh(c)
    ratios = [float(dh(t, h).norm() / h.norm()) for t, h in hs.items()]
    rows = unit_size_rows(session, {"r": Edit("random", 0, 3.0)}, [5], progress=False)
    assert rows == [{"method": "r", "seed": 5, "size": pytest.approx(float(np.median(ratios)), rel=1e-5)}]


def test_unit_size_summary_matches_numpys_percentiles():
    v = np.random.default_rng(0).gamma(2.0, size=37)
    rows = [{"method": "a", "seed": i, "size": float(x)} for i, x in enumerate(v)]
    rows += [{"method": "b", "seed": i, "size": float(3 * x)} for i, x in enumerate(v)]
    a, b = unit_size_summary(rows, reference="a")
    assert (a["n"], a["median"]) == (37, pytest.approx(np.median(v)))
    assert (a["q1"], a["q3"]) == (pytest.approx(np.percentile(v, 25)), pytest.approx(np.percentile(v, 75)))
    assert b["ratio"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="reference must be one of"):
        unit_size_summary(rows, reference="c")


def test_bad_input_is_named(tmp_path):
    with pytest.raises(TypeError, match="session must be"):
        sweep_rows(object(), {}, (1.0,))
    with pytest.raises(ValueError, match="images must be"):
        save_images(torch.zeros(3, 4, 4), tmp_path / "x.safetensors")
    with pytest.raises(FileNotFoundError, match="no image file"):
        load_images(tmp_path / "missing.safetensors")
    assert Face(seed=1).seed == 1


def test_sweep_changes_are_the_largest_range_fractions_recomputed_by_hand():
    import random as rnd

    g = rnd.Random(0)
    rows = [{"method": "m", "c": c, "random": r, **{a: g.uniform(-1, 1) for a in ll.ATTRIBUTES}}
            for c, r in ((-1.0, -1), (0.0, -1), (1.0, -1), (1.0, 0), (1.0, 1))]
    mine, rand = sweep_changes(rows, "m", top=2)
    span = {a: hi - lo for a, (lo, hi) in ll.ATTRIBUTES.items()}
    own = [rows[0], rows[2]]
    by_hand = {a: max(((r[a] - rows[1][a]) / span[a] for r in own), key=abs) for a in ll.ATTRIBUTES}
    want = sorted(by_hand.items(), key=lambda kv: -abs(kv[1]))[:2]
    assert [a for a, _ in mine] == [a for a, _ in want]
    assert [v for _, v in mine] == pytest.approx([v for _, v in want])
    by_hand = {a: max(((r[a] - rows[1][a]) / span[a] for r in rows[3:]), key=abs) for a in ll.ATTRIBUTES}
    a, v = max(by_hand.items(), key=lambda kv: abs(kv[1]))
    assert rand[0] == a and rand[1] == pytest.approx(v)
    with pytest.raises(ValueError, match="method must name a sweep"):
        sweep_changes(rows, "x")
