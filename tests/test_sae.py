"""The sparse autoencoder on h: recovery of a known dictionary, detection scores against scikit-learn and
scipy, top-k sparsity, the safetensors round trip and clear errors."""
import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from latentlab.directions import StepDirection
from latentlab.sae import (
    SparseAutoencoder,
    auroc,
    best_feature,
    detection_scores,
    detection_strength,
    evaluate_sae,
    feature_activations,
    feature_direction,
    load_sae,
    monosemantic_features,
    save_sae,
    spearman,
    train_sae,
    trajectory_activations,
)


def sparse_data(n=4000, d=16, atoms=24, active=2, seed=0):
    """h = sum of `active` atoms of a known unit-norm dictionary with weights in [1, 2]: `(n, 1, d, 1, 1)`."""
    g = torch.Generator().manual_seed(seed)
    D = torch.randn(d, atoms, generator=g)
    D = D / D.norm(dim=0)
    z = torch.zeros(n, atoms)
    idx = torch.rand(n, atoms, generator=g).argsort(1)[:, :active]
    z.scatter_(1, idx, 1 + torch.rand(n, active, generator=g))
    return (z @ D.T).reshape(n, 1, d, 1, 1), D


@pytest.fixture(scope="module")
def synthetic():
    h, D = sparse_data()
    sae = train_sae(h, [0], n_features=48, k=2, steps=1500, batch=256, lr=3e-3, seed=0, progress=False)
    return h, D, sae


def test_recovers_a_known_dictionary(synthetic):
    h, D, sae = synthetic
    cos = (D.T @ sae.W_dec.detach()).abs()  # (atoms, features); both unit-norm
    best = cos.max(1).values
    # a random dictionary of 48 unit vectors in 16 dimensions comes nowhere near: its best |cos| is ~0.6
    rand = torch.randn(16, 48, generator=torch.Generator().manual_seed(1))
    assert (D.T @ (rand / rand.norm(dim=0))).abs().max(1).values.median() < 0.8
    assert (best > 0.95).float().mean() >= 0.9, best
    assert evaluate_sae(sae, h, torch.tensor([0]))["fvu"] < 0.1


def test_topk_fires_exactly_k_features(synthetic):
    h, _, sae = synthetic
    x = sae.inputs(h[:, 0], 0)
    z = sae.encode(x)
    pre = sae.pre_activations(x)
    n_pos = (pre > 0).sum(1)
    assert ((z > 0).sum(1) == n_pos.clamp(max=sae.k)).all()  # k where at least k pre-activations are > 0
    assert (n_pos >= sae.k).float().mean() > 0.99
    # the kept ones are the largest pre-activations (numpy's sort as the oracle)
    kth = np.sort(pre.detach().numpy(), axis=1)[:, -sae.k]
    zz = z.detach().numpy()
    assert (zz[pre.detach().numpy() < kth[:, None]] == 0).all()


def test_auroc_matches_scikit_learn():
    g = torch.Generator().manual_seed(0)
    labels = torch.rand(200, generator=g) > 0.4
    scores = torch.randn(200, 5, generator=g) + labels[:, None] * torch.tensor([0.0, 0.5, 1.0, -1.0, 0.0])
    scores[:, 4] = torch.randint(0, 3, (200,), generator=g).float()  # many ties
    ours = auroc(scores, labels)
    theirs = [roc_auc_score(labels.numpy(), scores[:, j].numpy()) for j in range(5)]
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-6)


def test_spearman_matches_scipy():
    g = torch.Generator().manual_seed(1)
    values = torch.randn(150, generator=g)
    scores = torch.stack([values + torch.randn(150, generator=g), torch.relu(torch.randn(150, generator=g)),
                          -values.round()], 1)  # the second and third with ties
    theirs = [spearmanr(scores[:, j].numpy(), values.numpy()).statistic for j in range(3)]
    np.testing.assert_allclose(spearman(scores, values).numpy(), theirs, atol=1e-5)


def test_detection_and_monosemantic_counts():
    g = torch.Generator().manual_seed(2)
    glasses = torch.rand(300, generator=g) > 0.5
    smile = torch.rand(300, generator=g) * 2 - 1
    acts = torch.stack([glasses.float() + 0.1 * torch.rand(300, generator=g), smile.clamp(min=0),
                        torch.rand(300, generator=g)], 1)
    scores = detection_scores(acts, {"glasses": glasses, "smile": smile})
    assert scores["glasses"][0] > 0.99 and abs(scores["smile"][1] - spearmanr(acts[:, 1], smile).statistic) < 1e-5
    mono = monosemantic_features(detection_strength(scores))
    assert mono == {"glasses": [0], "smile": [1]}


def test_save_load_round_trip(synthetic, tmp_path):
    h, _, sae = synthetic
    save_sae(sae, tmp_path / "sae", command="python -c 0")
    with safe_open(str(tmp_path / "sae" / "sae.safetensors"), "pt") as f:
        assert set(f.keys()) == set(sae.state_dict())
    back = load_sae(tmp_path / "sae")
    for k, v in sae.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
    assert torch.equal(feature_activations(sae, h[:50, 0], 0), feature_activations(back, h[:50, 0], 0))
    assert json.loads((tmp_path / "sae" / "config.json").read_text())["command"] == "python -c 0"


def test_feature_direction_is_one_typical_firing_in_h_units():
    """c = 1 is the feature's mean contribution to the reconstruction, in h's units, where it fires."""
    h, _ = sparse_data(n=2000, seed=3)
    h = torch.cat([h, 2 * h], 1)  # two timesteps, h twice as large at the second
    sae = train_sae(h, [800, 200], n_features=48, k=2, steps=800, batch=256, lr=3e-3, progress=False)
    i = int(sae.fire_rate.argmax())
    d = feature_direction(sae, i)
    assert isinstance(d, StepDirection) and d.h_shape == (16, 1, 1)
    for s, t in enumerate([800, 200]):
        z = feature_activations(sae, h[:, s], t)[:, i]
        one_hot = torch.zeros(int((z > 0).sum()), 48)
        one_hot[:, i] = z[z > 0]
        with torch.no_grad():  # the decoder's output for feature i alone, back in h's units at t
            contribution = (sae.decode(one_hot) - sae.b_pre) * (h[:, s] - h[:, s].mean(0)).pow(2).mean().sqrt()
        torch.testing.assert_close(d.at(t).flatten(), contribution.mean(0), rtol=1e-4, atol=1e-5)


def test_trajectory_activations_shape(synthetic):
    h, _, sae = synthetic
    assert trajectory_activations(sae, h[:7], torch.tensor([0])).shape == (7, 1, 48)


def test_clear_errors(synthetic, tmp_path):
    h, _, sae = synthetic
    with pytest.raises(ValueError, match="feature index must be an integer in \\[0, 47\\], got 48"):
        feature_direction(sae, 48)
    with pytest.raises(ValueError, match="feature index"):
        feature_direction(sae, -1)
    with pytest.raises(ValueError, match=r"h must have shape \(N, 16, 1, 1\)"):
        feature_activations(sae, torch.zeros(2, 8, 1, 1), 0)
    with pytest.raises(ValueError, match=r"h must have shape \(N, S, C, H, W\) with S = 2"):
        train_sae(h, [900, 0], progress=False)
    with pytest.raises(FileNotFoundError, match="SAE file missing"):
        load_sae(tmp_path / "nothing here")
    with pytest.raises(FileNotFoundError, match="detection scores"):
        best_feature("smile", 1.0, folder=tmp_path)
    with pytest.raises(ValueError, match="attr must be one of"):
        best_feature("beard", 1.0)
    with pytest.raises(ValueError, match="k must be at most n_features"):
        train_sae(h, [0], n_features=4, k=5, progress=False)
    untrained = SparseAutoencoder(sae.config, sae.h_shape, sae.timesteps)
    with pytest.raises(ValueError, match="never fired"):
        feature_direction(untrained, 0)
