"""The linear read-out of lecture 03 against scikit-learn's own cross-validation, and h against a hook of
our own on the U-Net's middle block."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import latentlab as ll
from latentlab.course.decodability import decodability_row, decode_r2


def test_decode_r2_equals_scikit_learns_cross_validation():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 8))
    y = np.stack([X @ rng.normal(size=8) + 0.5 * rng.normal(size=120), rng.normal(size=120)], 1)
    ours = decode_r2(X, y, folds=4, seed=3)
    for j in range(2):
        reg = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 13)))
        ref = cross_val_score(reg, X, y[:, j], cv=KFold(4, shuffle=True, random_state=3), scoring="r2")
        np.testing.assert_allclose(ours[:, j], ref, atol=1e-10)
    assert ours[:, 0].mean() > 0.8 and abs(ours[:, 1].mean()) < 0.15


@pytest.mark.parametrize("bad", [dict(features=np.zeros((10, 2)), targets=np.zeros((9, 1))),
                                 dict(features=np.zeros(10), targets=np.zeros((10, 1))),
                                 dict(features=np.zeros((10, 2)), targets=np.zeros((10, 1)), folds=1)])
def test_decode_r2_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="features|folds"):
        decode_r2(**bad)


def test_decodability_row_reads_the_middle_blocks_output():
    m = ll.tiny_model(sample_size=32)
    row = decodability_row(m, 300, "h", 24, attributes=["pos_x", "hair_color"], folds=3, seed=5)
    faces, truth = ll.render_faces(24, seed=5, size=32)
    x_t = ll.q_sample(m, faces, 300, generator=torch.Generator().manual_seed(300))
    seen = []
    handle = m.unet.mid_block.register_forward_hook(lambda mod, args, out: seen.append(out))
    with torch.no_grad():
        m.unet(x_t, torch.full((24,), 300))
    handle.remove()
    y = torch.stack([truth["pos_x"], truth["hair_color"]], 1).numpy()
    ref = decode_r2(seen[0].flatten(1).numpy(), y, folds=3)
    assert row["pos_x"] == pytest.approx(ref[:, 0].mean(), abs=1e-4)
    assert row["hair_color_se"] == pytest.approx(ref[:, 1].std(ddof=1) / 3 ** 0.5, abs=1e-4)
    assert (row["t"], row["space"], row["n"]) == (300, "h", 24)


def test_decodability_row_rejects_unknown_space_and_attribute():
    m = ll.tiny_model(sample_size=32)
    with pytest.raises(ValueError, match="space"):
        decodability_row(m, 300, "z", 10)
    with pytest.raises(ValueError, match="attributes"):
        decodability_row(m, 300, "h", 10, attributes=["beard"])
