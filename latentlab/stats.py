"""Every statistic of the kit in one place: exact tests on counts, empirical and rank-test p-values,
two-sample KS distances and critical values, bootstrap intervals, and the comparison's summaries.

The tests are the textbook ones, computed by scipy where scipy has them; what this module adds is
the kit's conventions (a test with no discordant pair or no nonzero difference has p = 1) and clear
errors on bad input.

References
- McNemar (1947), "Note on the sampling error of the difference between correlated proportions",
  Psychometrika 12: the exact form is a binomial test at 1/2 on the discordant pairs.
- Wilcoxon (1945), "Individual comparisons by ranking methods", Biometrics Bulletin 1.
- Davison & Hinkley (1997), "Bootstrap Methods and their Application", eq. 4.11 (empirical p) and
  Sec. 5.3 (percentile intervals); Phipson & Smyth (2010), "Permutation p-values should never be zero".
- Kolmogorov (1933), Smirnov (1948): the two-sample KS distance and its asymptotic distribution.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from .faces import BINARY_ATTRIBUTES

__all__ = [
    "binomial_test", "mcnemar", "signed_rank_test", "empirical_p", "ks_distance", "ks_critical_value",
    "proportion_critical_difference", "bootstrap_interval", "intervals", "paired_test", "manifold_shift",
]

_ALTERNATIVES = ("two-sided", "greater", "less")


def binomial_test(k: int, n: int, p: float = 0.5, alternative: str = "two-sided") -> float:
    """Exact binomial test: the p-value of k successes in n trials under a success rate p.

    `alternative="greater"` is P(X >= k), `"less"` P(X <= k), `"two-sided"` the sum of the
    probabilities of all outcomes no more likely than k (scipy's `binomtest`). n = 0 gives 1.

    >>> binomial_test(30, 30, 0.9, "greater") < 0.05, round(binomial_test(1, 4), 4)
    (True, 0.625)
    """
    from scipy.stats import binomtest  # scipy comes with scikit-learn

    for name, v in (("k", k), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    if k > n:
        raise ValueError(f"k must be at most n, got k={k}, n={n}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    return float(binomtest(int(k), int(n), p, alternative=alternative).pvalue) if n else 1.0


def mcnemar(ok_a: Tensor, ok_b: Tensor) -> float:
    """Exact two-sided McNemar test of two edits on the same faces: the p-value of the faces only `a`
    moved against those only `b` moved (a binomial test at 1/2 on the discordant pairs; 1 if none).

    >>> mcnemar(torch.tensor([True] * 5 + [False]), torch.tensor([False] * 6))
    0.0625
    """
    ok_a, ok_b = torch.as_tensor(ok_a).bool(), torch.as_tensor(ok_b).bool()
    if ok_a.shape != ok_b.shape or ok_a.dim() != 1:
        raise ValueError(f"ok_a and ok_b must be boolean (N,) tensors of the same faces, got {tuple(ok_a.shape)} "
                         f"and {tuple(ok_b.shape)}")
    a, b = int((ok_a & ~ok_b).sum()), int((ok_b & ~ok_a).sum())
    return binomial_test(a, a + b, 0.5)


def signed_rank_test(d) -> float:
    """Wilcoxon's signed-rank test (two-sided) that paired differences `d` are centred on 0; 1 if all are 0.

    >>> signed_rank_test([0.5, 0.2, 0.9, 0.1, 0.3])
    0.0625
    """
    from scipy.stats import wilcoxon

    d = _as_1d(d, "d")
    return float(wilcoxon(d).pvalue) if (d != 0).any() else 1.0


def empirical_p(stat: Tensor, baseline: Tensor) -> Tensor:
    """Empirical (Monte Carlo) p-value of each statistic against a baseline sample: (1 + #{b >= s}) / (N + 1).

    This is the standard permutation-test form (Davison & Hinkley 1997, eq. 4.11; Phipson & Smyth 2010,
    "Permutation p-values should never be zero"): it is never 0, its smallest value is 1 / (N + 1), and
    if `stat` were one more draw from the baseline's distribution, P(p <= a) <= a. So with N baseline
    draws no test can reach p < 1 / (N + 1): a Bonferroni threshold a / m needs N + 1 >= m / a.

    Args:
        stat: the statistics under test, any shape; baseline: `(N,)`, the same statistic on N baseline draws.

    Returns:
        float64 p-values, the shape of `stat`.

    >>> empirical_p(torch.tensor([0.5, 0.25, 0.0]), torch.tensor([0.1, 0.2, 0.3]))
    tensor([0.2500, 0.5000, 1.0000], dtype=torch.float64)
    """
    stat, baseline = torch.as_tensor(stat), torch.as_tensor(baseline)
    if baseline.dim() != 1 or len(baseline) < 1 or not torch.isfinite(baseline).all():
        raise ValueError(f"baseline must be a non-empty 1-d tensor of finite numbers, got shape "
                         f"{tuple(baseline.shape)}")
    if not torch.isfinite(stat).all():
        raise ValueError("stat must be finite")
    hits = (baseline.double() >= stat.double()[..., None]).sum(-1)
    return (1 + hits).double() / (len(baseline) + 1)


def _as_1d(x, name: str) -> np.ndarray:
    arr = (x.detach().double().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float64)).ravel()
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a non-empty set of finite numbers, got {arr.size} values")
    return arr


def ks_distance(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov distance: the largest gap between the two empirical CDFs.

    Returns `(D, x)`: the distance and a value `x` (one of the data) at which
    `|F_a(x) - F_b(x)| = D`, with `F(x)` the fraction of a set at or below `x`.

    >>> ks_distance(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([3.5, 5.0, 6.0, 7.0]))
    (0.75, 3.0)
    """
    a, b = np.sort(_as_1d(a, "a")), np.sort(_as_1d(b, "b"))
    x = np.concatenate([a, b])
    gap = np.abs(np.searchsorted(a, x, side="right") / a.size - np.searchsorted(b, x, side="right") / b.size)
    i = int(np.argmax(gap))
    return float(gap[i]), float(x[i])


def _check_sizes_alpha(n: int, m: int, alpha: float) -> None:
    for name, v in (("n", n), ("m", m)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer (a sample size), got {v!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number in (0, 1) (the test's significance level), got {alpha!r}")


def ks_critical_value(n: int, m: int, alpha: float = 0.05) -> float:
    """Asymptotic critical value of the two-sample KS distance: `c(alpha) sqrt((n + m) / (n m))`.

    `c(alpha) = sqrt(-ln(alpha / 2) / 2)`, the first term of the Kolmogorov distribution's tail
    `P(K > c) = 2 sum_k (-1)^(k-1) exp(-2 k^2 c^2)` (within 3e-5 of its quantile for alpha <= 0.1,
    3e-4 at 0.2).
    Two samples of sizes n and m from one continuous distribution have a KS distance above this
    with probability about alpha (asymptotically in n and m).

    >>> round(ks_critical_value(64, 64, 0.05), 3)
    0.24
    """
    _check_sizes_alpha(n, m, alpha)
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def proportion_critical_difference(n: int, m: int, alpha: float = 0.05, rate: float = 0.5) -> float:
    """Critical |p_1 - p_2| of the two-sided pooled two-proportion z-test (normal approximation).

    `z_(1-alpha/2) sqrt(r (1 - r) (1/n + 1/m))`, with z the standard normal quantile and r the rate.

    Two rates measured on n and m draws of one Bernoulli(rate) differ by more than this with
    probability about alpha (normal approximation; pass the pooled rate of the data as `rate`).

    >>> round(proportion_critical_difference(64, 64, 0.05), 3)
    0.173
    """
    _check_sizes_alpha(n, m, alpha)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError(f"rate must be a number in [0, 1] (the pooled proportion), got {rate!r}")
    return NormalDist().inv_cdf(1 - alpha / 2) * math.sqrt(rate * (1 - rate) * (1 / n + 1 / m))


def bootstrap_interval(statistic: Callable, *samples, level: float = 0.95, n_boot: int = 2000,
                       generator: torch.Generator | np.random.Generator | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval (Davison & Hinkley 1997, Sec. 5.3) of a statistic of paired samples.

    The samples (the same N faces each) are resampled together, with replacement, `n_boot` times:
    `statistic` receives each sample as an `(n_boot, N)` array of resamples and returns the `(n_boot,)`
    statistics, whose `(1 - level) / 2` and `(1 + level) / 2` quantiles (linear interpolation) are
    the interval.

    Args:
        statistic: e.g. `lambda x: x.mean(1)`, or `lambda a, b: a.mean(1) / b.mean(1)` for two samples.
        samples: `(N,)` tensors, drawn with a `torch.Generator`, or `(N,)` numpy arrays, drawn with a
            `numpy.random.Generator` (default: a fresh unseeded one of the matching kind).

    >>> x = torch.tensor([0.1, 0.2, 0.3, 0.4])
    >>> lo, hi = bootstrap_interval(lambda r: r.mean(1), x, generator=torch.Generator().manual_seed(0))
    >>> 0.1 <= lo < 0.25 < hi <= 0.4
    True
    """
    if not samples:
        raise ValueError("give at least one sample to resample")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    as_torch = all(isinstance(s, Tensor) for s in samples)
    if not as_torch and not all(isinstance(s, np.ndarray) for s in samples):
        raise TypeError(f"samples must be all tensors or all numpy arrays, got {[type(s).__name__ for s in samples]}")
    n = len(samples[0])
    if n < 1 or any(s.ndim != 1 or len(s) != n for s in samples):
        raise ValueError(f"samples must be non-empty 1-d and of the same length (paired), got shapes "
                         f"{[tuple(s.shape) for s in samples]}")
    q = [(1 - level) / 2, (1 + level) / 2]
    if as_torch:
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"tensor samples are resampled with a torch.Generator, got {type(generator).__name__}")
        idx = torch.randint(n, (n_boot, n), generator=generator)
        values = statistic(*(s[idx] for s in samples))
        lo, hi = torch.quantile(values, torch.tensor(q, dtype=values.dtype)).tolist()
    else:
        if generator is None:
            generator = np.random.default_rng()
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"numpy samples are resampled with a numpy Generator, got {type(generator).__name__}")
        idx = generator.integers(0, n, (n_boot, n))
        lo, hi = np.quantile(statistic(*(s[idx] for s in samples)), q).tolist()
    return float(lo), float(hi)


def intervals(samples, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0):
    """Mean change towards the goal per attribute and method, with a bootstrap interval over the faces.

    Only the faces that can move count (as in `EditResult.change`); resampling them with replacement
    `n_boot` times gives the percentile interval at `level` (`bootstrap_interval`).

    Returns:
        DataFrame: attr, method, n (movable faces), change, lo, hi, right_way (fraction of n).

    >>> import pandas as pd
    >>> s = pd.DataFrame({"attr": "smile", "method": "m", "sample": range(4), "movable": True,
    ...                   "right_way": [True, True, True, False], "change": [0.1, 0.2, 0.3, -0.2]})
    >>> r = intervals(s).iloc[0]
    >>> int(r.n), float(r.change), float(r.right_way)
    (4, 0.1, 0.75)
    """
    import pandas as pd

    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    rng = np.random.default_rng(seed)
    rows = []
    for (attr, method), s in samples[samples.movable.astype(bool)].groupby(["attr", "method"], sort=False):
        x = s.change.to_numpy(float)
        lo, hi = bootstrap_interval(lambda r: r.mean(1), x, level=level, n_boot=n_boot, generator=rng)
        rows.append({"attr": attr, "method": method, "n": len(x), "change": round(float(x.mean()), 4),
                     "lo": lo, "hi": hi, "right_way": float(s.right_way.mean())})
    return pd.DataFrame(rows)


def _check_samples(samples, attr: str, methods) -> None:
    need = {"attr", "method", "sample", "movable", "right_way", "change"}
    if not need <= set(getattr(samples, "columns", ())):
        raise ValueError(f"samples must be compare_methods' per-sample DataFrame with columns {sorted(need)}")
    if attr not in set(samples.attr):
        raise ValueError(f"attr {attr!r} is not in these samples; they have {sorted(set(samples.attr))}")
    have = set(samples[samples.attr == attr].method)
    for m in methods:
        if m not in have:
            raise ValueError(f"method {m!r} has no samples for {attr}; it has {sorted(have)}")


def paired_test(samples, attr: str, a: str, b: str) -> dict[str, float]:
    """Method `a` against method `b` on the same held-out faces (those that can move).

    Two paired tests, both two-sided: Wilcoxon's signed-rank test on the per-face change towards the
    goal (`signed_rank_test`), and McNemar's exact test on moved-the-right-way (`mcnemar`). `p` is the
    one that fits the attribute: McNemar for a binary attribute (glasses), where the change is a
    probability and many tiny nudges of it can pass a rank test without a single face crossing over;
    Wilcoxon for a continuous one.

    Returns:
        `{"n", "mean_diff", "p_wilcoxon", "k_a", "k_b", "p_mcnemar", "test", "p"}`; mean_diff = mean
        change of a minus b, k_a / k_b the faces each moved the right way.

    >>> import pandas as pd
    >>> s = pd.concat([pd.DataFrame({"attr": "smile", "method": m, "sample": range(6), "movable": True,
    ...                              "right_way": ok, "change": ch})
    ...                for m, ok, ch in (("a", True, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]), ("b", False, 0.0))])
    >>> r = paired_test(s, "smile", "a", "b")
    >>> r["test"], r["p_wilcoxon"], r["p_mcnemar"]
    ('Wilcoxon', 0.03125, 0.03125)
    """
    _check_samples(samples, attr, (a, b))
    s = samples[(samples.attr == attr) & samples.movable.astype(bool)]
    sa, sb = (s[s.method == m].set_index("sample").sort_index() for m in (a, b))
    if not sa.index.equals(sb.index):
        raise ValueError(f"methods {a!r} and {b!r} were not measured on the same faces")
    d = sa.change.to_numpy(float) - sb.change.to_numpy(float)
    p_w = signed_rank_test(d)
    ok_a, ok_b = (torch.tensor(x.right_way.to_numpy(bool)) for x in (sa, sb))
    p_m = mcnemar(ok_a, ok_b)
    test = "McNemar" if attr in BINARY_ATTRIBUTES else "Wilcoxon"
    return {"n": len(d), "mean_diff": float(d.mean()), "p_wilcoxon": p_w, "k_a": int(ok_a.sum()),
            "k_b": int(ok_b.sum()), "p_mcnemar": p_m, "test": test, "p": p_m if test == "McNemar" else p_w}


def manifold_shift(samples):
    """Does a method's edit move faces off the data manifold? Per method, each face counted once: its
    log(after / before) on-manifold error averaged over the attributes the method edited it for, then
    the median ratio over the faces and Wilcoxon's signed-rank test (two-sided) of the log ratios
    against 0. (Pooling the rows instead would count one face up to three times as if independent.)

    Returns:
        DataFrame: method, n (faces), median_ratio, p.

    >>> import pandas as pd
    >>> s = pd.DataFrame({"method": "m", "sample": [0, 1, 2], "manifold_before": [1.0, 2.0, 4.0],
    ...                   "manifold_after": [2.0, 4.0, 8.0]})
    >>> manifold_shift(s)[["n", "median_ratio"]].values.tolist()
    [[3.0, 2.0]]
    """
    import pandas as pd

    need = {"method", "sample", "manifold_before", "manifold_after"}
    if not need <= set(getattr(samples, "columns", ())):
        raise ValueError(f"samples must have the columns {sorted(need)} (compare_methods(..., samples=True))")
    rows = []
    logs = samples.assign(r=np.log(samples.manifold_after.astype(float) / samples.manifold_before.astype(float)))
    for method, s in logs.groupby("method", sort=False):
        r = s.groupby("sample").r.mean().to_numpy()
        rows.append({"method": method, "n": len(r), "median_ratio": float(np.exp(np.median(r))),
                     "p": signed_rank_test(r)})
    return pd.DataFrame(rows)
