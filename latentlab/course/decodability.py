"""What h knows, against x_t: how well a linear read-out decodes the faces' attributes from h_t and
from x_t itself (lecture 03, section 2).

Renders with known attributes are forward-noised to t; a ridge regression (standardised features,
penalty chosen per attribute by scikit-learn's efficient leave-one-out inside each training fold)
predicts each attribute, and the score is the R^2 on held-out folds of a shuffled K-fold split.
A high R^2 means the attribute is *linearly decodable*; it does not mean that adding a direction to h
edits it (that is what an edit measures).

Reference: Kwon, Jeong & Uh (2023), "Diffusion Models Already Have A Semantic Latent Space" (ICLR):
h-space is the U-Net's bottleneck.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

import latentlab as ll

__all__ = ["SPACES", "decode_r2", "decodability_row"]

SPACES = ("h", "x_t")
_ALPHAS = np.logspace(-1, 5, 13)


def decode_r2(features: np.ndarray, targets: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Held-out R^2 of a ridge read-out, per fold and target: `(folds, targets)`.

    Args:
        features: `(n, d)`; targets: `(n, k)`, one column per attribute.
        folds: K of the shuffled K-fold split; seed: its shuffle.

    >>> rng = np.random.default_rng(0); X = rng.normal(size=(200, 5))
    >>> y = np.stack([X[:, 0], rng.normal(size=200)], 1)
    >>> r2 = decode_r2(X, y); r2.shape, bool(r2[:, 0].min() > 0.95), bool(r2[:, 1].mean() < 0.1)
    ((5, 2), True, True)
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, targets = np.asarray(features, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    if features.ndim != 2 or targets.ndim != 2 or len(features) != len(targets):
        raise ValueError(f"features must be (n, d) and targets (n, k) with the same n, got "
                         f"{features.shape} and {targets.shape}")
    if not isinstance(folds, int) or not 2 <= folds <= len(features) // 2:
        raise ValueError(f"folds must be an int from 2 to n/2 = {len(features) // 2}, got {folds!r}")
    scores = []
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(features):
        reg = make_pipeline(StandardScaler(), RidgeCV(alphas=_ALPHAS, alpha_per_target=True))
        pred = reg.fit(features[train], targets[train]).predict(features[test])
        y = targets[test]
        scores.append(1 - ((y - pred) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0))
    return np.array(scores)


@torch.no_grad()
def decodability_row(model: ll.Model, t: int, space: str, n: int, *, attributes: Sequence[str] | None = None,
                     seed: int = 123, folds: int = 5, batch: int = 256) -> dict:
    """One row of the decodability table: `n` renders (seed `seed`) noised to `t` (noise seed `t`),
    each attribute's held-out R^2 from `space` ("h" or "x_t"): the mean over folds and its standard
    error (fold-to-fold spread / sqrt(folds); the folds share training faces, so it is a rough screen).

    Returns `{"t", "space", "n", "<attr>", "<attr>_se", ...}` with numbers rounded to 4 decimals.

    >>> m = ll.tiny_model(sample_size=32)
    >>> row = decodability_row(m, 500, "h", 20, attributes=["pos_x"], folds=2)
    >>> sorted(row)
    ['n', 'pos_x', 'pos_x_se', 'space', 't']
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    names = list(ll.ATTRIBUTES) if attributes is None else list(attributes)
    unknown = [a for a in names if a not in ll.ATTRIBUTES]
    if unknown:
        raise ValueError(f"attributes must be among {list(ll.ATTRIBUTES)}, got {unknown}")
    faces, truth = ll.render_faces(n, seed=seed, size=model.sample_shape[-1])
    x_t = ll.q_sample(model, faces, t, generator=torch.Generator().manual_seed(t))
    if space == "h":
        feats = torch.cat([ll.h_of(model, x_t[i:i + batch], t) for i in range(0, n, batch)])
    else:
        feats = x_t
    y = torch.stack([truth[a] for a in names], 1).numpy()
    r2 = decode_r2(feats.flatten(1).numpy(), y, folds=folds)
    row: dict = {"t": int(t), "space": space, "n": int(n)}
    for j, a in enumerate(names):
        row[a] = round(float(r2[:, j].mean()), 4)
        row[f"{a}_se"] = round(float(r2[:, j].std(ddof=1) / folds ** 0.5), 4)
    return row


def show_decodability(rows: Sequence[dict], *, t: int, n: int, scale: float = 1.0):
    """Bars of each attribute's R^2 from h and from x_t at timestep `t` and `n` renders (rows as
    `decodability_row` makes them, e.g. a shipped run's); returns the figure.

    >>> import matplotlib.pyplot as plt
    >>> rows = [{"t": 200, "space": s, "n": 8, "smile": v, "smile_se": 0.1} for s, v in (("h", .3), ("x_t", .1))]
    >>> fig = show_decodability(rows, t=200, n=8); plt.close(fig)
    """
    import matplotlib.pyplot as plt

    pick = {r["space"]: r for r in rows if r["t"] == t and r["n"] == n}
    if set(pick) != set(SPACES):
        raise ValueError(f"rows must hold an 'h' and an 'x_t' row at t={t}, n={n}; found {sorted(pick)}")
    names = [a for a in ll.ATTRIBUTES if a in pick["h"]]
    fig, ax = plt.subplots(figsize=(6.4 * scale, 2.6 * scale))
    x = np.arange(len(names))
    for i, (space, color) in enumerate((("h", "C0"), ("x_t", "C7"))):
        r = pick[space]
        ax.bar(x + (i - 0.5) * 0.4, [r[a] for a in names], 0.4, yerr=[2 * r[f"{a}_se"] for a in names],
               color=color, label=f"from {space}", capsize=2)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("held-out $R^2$")
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.0)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(f"linear read-out at t = {t}, {n:,} renders (bars: 2 standard errors)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
