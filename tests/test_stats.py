"""latentlab.stats against scipy's own tests, brute-force enumeration and closed forms."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from latentlab.stats import (
    binomial_test,
    bootstrap_interval,
    empirical_p,
    intervals,
    ks_critical_value,
    ks_distance,
    manifold_shift,
    mcnemar,
    paired_test,
    proportion_critical_difference,
    signed_rank_test,
)

from helpers import gen

# ----------------------------------------------------------------------------- tests on counts


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("k, n, p", [(0, 5, 0.5), (13, 14, 0.9), (30, 30, 0.9), (3, 20, 0.3), (7, 9, 0.25)])
def test_binomial_test_is_scipys_binomtest(k, n, p, alternative):
    expected = stats.binomtest(k, n, p, alternative=alternative).pvalue
    assert binomial_test(k, n, p, alternative) == pytest.approx(expected)


def test_binomial_test_tails_by_enumeration():
    pmf = [math.comb(30, i) * 0.9**i * 0.1 ** (30 - i) for i in range(31)]
    assert binomial_test(30, 30, 0.9, "greater") == pytest.approx(pmf[30])  # 0.9^30 = 0.042
    assert binomial_test(25, 30, 0.9, "less") == pytest.approx(sum(pmf[:26]))
    assert binomial_test(0, 0) == 1.0
    for kwargs, match in ((dict(k=3, n=2), "k must be at most n"), (dict(k=-1, n=2), "k must be a non-negative"),
                          (dict(k=1, n=2, p=1.5), "p must be a probability"),
                          (dict(k=1, n=2, alternative="bigger"), "alternative must be one of")):
        with pytest.raises(ValueError, match=match):
            binomial_test(**kwargs)


def _mcnemar_by_enumeration(a: int, b: int) -> float:
    """Exact two-sided McNemar: twice the smaller binomial tail of a + b discordant pairs at 1/2, at most 1."""
    m = a + b
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(a, b) + 1)) / 2**m
    return min(1.0, 2 * tail)


@pytest.mark.parametrize("seed", range(6))
def test_mcnemar_is_the_exact_test_by_enumeration(seed):
    ok_a = torch.rand(40, generator=gen(seed)) < 0.6
    ok_b = torch.rand(40, generator=gen(100 + seed)) < 0.3 + 0.05 * seed
    a, b = int((ok_a & ~ok_b).sum()), int((ok_b & ~ok_a).sum())
    assert mcnemar(ok_a, ok_b) == pytest.approx(_mcnemar_by_enumeration(a, b), rel=1e-9)
    assert mcnemar(ok_b, ok_a) == pytest.approx(mcnemar(ok_a, ok_b))  # two-sided: symmetric


def test_mcnemar_against_the_binomial_by_hand():
    a = torch.tensor([True, True, True, False, True, False])
    b = torch.tensor([False, False, False, True, True, False])
    assert mcnemar(a, b) == pytest.approx(0.625)  # 3 discordant for a, 1 for b: 2 * P(X <= 1 | Bin(4, 1/2)) = 2 * 5/16
    assert mcnemar(a, a) == 1.0
    with pytest.raises(ValueError, match="same faces"):
        mcnemar(a, b[:3])


# ----------------------------------------------------------------------------- rank tests and empirical p


@pytest.mark.parametrize("seed", range(4))
def test_signed_rank_test_is_scipys_wilcoxon(seed):
    d = (torch.randn(25, generator=gen(seed)) + 0.3 * seed).double().numpy()
    assert signed_rank_test(d) == pytest.approx(stats.wilcoxon(d).pvalue)
    assert signed_rank_test(torch.tensor(d)) == pytest.approx(stats.wilcoxon(d).pvalue)


def test_signed_rank_test_closed_forms():
    assert signed_rank_test(np.arange(1, 21) * 0.1) == pytest.approx(2 / 2**20)  # all 20 positive: exact two-sided tail
    assert signed_rank_test(np.zeros(5)) == 1.0
    with pytest.raises(ValueError, match="non-empty set of finite numbers"):
        signed_rank_test([1.0, float("nan")])


def test_empirical_p_counts_the_baseline_at_or_above_each_statistic():
    baseline = torch.rand(50, generator=gen(16))
    stat = torch.tensor([[-1.0, 2.0], [baseline[7].item(), baseline.median().item()]])
    expected = torch.tensor([[1 + (baseline >= s).sum().item() for s in row] for row in stat.tolist()]) / 51
    torch.testing.assert_close(empirical_p(stat, baseline), expected.double())
    assert empirical_p(torch.tensor(2.0), baseline).item() == 1 / 51  # never below 1 / (N + 1)
    # valid: a statistic drawn from the baseline's own distribution has P(p <= a) <= a
    draws = torch.rand(4000, 20, generator=gen(17))
    p = torch.stack([empirical_p(d[0], d[1:]) for d in draws])
    for a in (0.1, 0.25, 0.5):
        assert (p <= a).double().mean() <= a + 0.02
    with pytest.raises(ValueError, match="baseline"):
        empirical_p(torch.tensor(1.0), torch.zeros(0))


# ----------------------------------------------------------------------------- Kolmogorov-Smirnov, proportions


@pytest.mark.parametrize("n,m,ties", [(64, 64, False), (30, 70, False), (25, 40, True), (1, 5, False)])
def test_ks_distance_matches_scipy(n, m, ties):
    rng = np.random.default_rng(n * m)
    a, b = rng.normal(size=n), rng.normal(0.3, 1.2, size=m)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    d, x = ks_distance(torch.tensor(a), b)
    assert d == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    gap_at_x = abs((a <= x).mean() - (b <= x).mean())  # the ECDF gap where ks_distance says it is largest
    assert gap_at_x == pytest.approx(d, abs=1e-12)


@pytest.mark.parametrize("alpha", [0.1, 0.05, 0.01, 0.005])
@pytest.mark.parametrize("n,m", [(64, 64), (50, 200), (1000, 1000)])
def test_ks_critical_value_is_the_kolmogorov_quantile(n, m, alpha):
    expected = stats.kstwobign.isf(alpha) * np.sqrt((n + m) / (n * m))
    assert ks_critical_value(n, m, alpha) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("n,alpha", [(64, 0.05), (64, 0.005), (100, 0.01), (30, 0.05)])
def test_ks_critical_value_against_the_exact_test(n, alpha):
    """Valid (the exact p-value of the first k / n above it is <= alpha) and conservative by at most
    one step of 1/n (two steps below it the exact p-value exceeds alpha)."""
    c = ks_critical_value(n, n, alpha)
    k_above = int(np.floor(c * n)) + 1

    def exact_p(k):
        a = np.arange(n, dtype=float)
        res = stats.ks_2samp(a, a + k - 0.5, method="exact")  # shifting by k - 1/2 places gives D = k / n
        assert res.statistic == pytest.approx(k / n)
        return res.pvalue

    assert exact_p(k_above) <= alpha < exact_p(k_above - 2)


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.0045])
def test_proportion_critical_difference_is_the_chi_square_quantile(alpha):
    d = proportion_critical_difference(64, 64, alpha, rate=0.5)
    assert d**2 / (0.25 * (2 / 64)) == pytest.approx(stats.chi2.isf(alpha, 1), rel=1e-9)  # z^2 is chi-square, 1 dof
    with pytest.raises(ValueError, match="rate must be"):
        proportion_critical_difference(64, 64, alpha, rate=2.0)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        ks_critical_value(0, 64)


# ----------------------------------------------------------------------------- bootstrap


def test_bootstrap_interval_agrees_with_scipys_percentile_bootstrap():
    x = torch.randn(60, generator=gen(30)).double() + 1.0
    y = torch.randn(60, generator=gen(31)).double() * 0.5 + 2.0
    ratio = lambda a, b: a.mean(-1) / b.mean(-1)  # noqa: E731 (paired: the same faces in a and b)
    lo, hi = bootstrap_interval(ratio, x, y, n_boot=20000, generator=gen(32))
    ref = stats.bootstrap((x.numpy(), y.numpy()), lambda a, b, axis: a.mean(axis) / b.mean(axis), paired=True,
                          vectorized=True, n_resamples=20000,
                          method="percentile", random_state=np.random.default_rng(0)).confidence_interval
    width = ref.high - ref.low
    assert lo == pytest.approx(ref.low, abs=0.05 * width) and hi == pytest.approx(ref.high, abs=0.05 * width)
    # numpy samples with a numpy generator: the same interval up to resampling noise
    lo_np, hi_np = bootstrap_interval(ratio, x.numpy(), y.numpy(), n_boot=20000, generator=np.random.default_rng(1))
    assert lo_np == pytest.approx(ref.low, abs=0.05 * width) and hi_np == pytest.approx(ref.high, abs=0.05 * width)


def test_bootstrap_interval_bad_input():
    x = torch.zeros(5)
    with pytest.raises(ValueError, match="same length"):
        bootstrap_interval(lambda a, b: a.mean(1), x, torch.zeros(4))
    with pytest.raises(ValueError, match="level must lie in"):
        bootstrap_interval(lambda a: a.mean(1), x, level=95)
    with pytest.raises(TypeError, match="all tensors or all numpy arrays"):
        bootstrap_interval(lambda a, b: a.mean(1), x, np.zeros(5))
    with pytest.raises(TypeError, match="torch.Generator"):
        bootstrap_interval(lambda a: a.mean(1), x, generator=np.random.default_rng(0))


# ----------------------------------------------------------------------------- the comparison's summaries


def _samples(change_a, change_b, ok_a, ok_b, movable=None):
    n = len(change_a)
    movable = [True] * n if movable is None else movable
    rows = [pd.DataFrame({"attr": "smile", "method": m, "sample": range(n), "movable": movable, "right_way": ok,
                          "change": ch}) for m, ch, ok in (("a", change_a, ok_a), ("b", change_b, ok_b))]
    return pd.concat(rows, ignore_index=True)


def test_intervals_match_the_normal_approximation_and_skip_faces_that_cannot_move():
    x = torch.randn(400, generator=gen(7)).double().numpy()
    s = _samples(list(x) + [100.0], [0.0] * 401, [True] * 401, [False] * 401, movable=[True] * 400 + [False])
    r = intervals(s).set_index("method").loc["a"]
    assert r.n == 400 and r.change == pytest.approx(x.mean(), abs=1e-4)  # the immovable outlier is left out
    half = float(1.96 * x.std(ddof=1) / 400 ** 0.5)
    assert r.lo == pytest.approx(x.mean() - half, abs=0.15 * half)
    assert r.hi == pytest.approx(x.mean() + half, abs=0.15 * half)
    with pytest.raises(ValueError, match="level must lie in"):
        intervals(s, level=95)


def test_paired_test_against_closed_forms():
    base = torch.randn(20, generator=gen(8)).tolist()
    s = _samples([v + 0.5 + 0.01 * i for i, v in enumerate(base)], base, [True] * 20, [False] * 20)
    r = paired_test(s, "smile", "a", "b")
    assert r["n"] == 20 and r["mean_diff"] == pytest.approx(0.5 + 0.01 * 9.5)
    assert r["p_wilcoxon"] == pytest.approx(2 / 2**20)  # every difference positive: the exact two-sided tail
    assert (r["k_a"], r["k_b"]) == (20, 0) and r["p_mcnemar"] == pytest.approx(2 / 2**20)
    same = paired_test(_samples(base, base, [True] * 20, [True] * 20), "smile", "a", "b")
    assert same["p_wilcoxon"] == 1.0 and same["p_mcnemar"] == 1.0
    with pytest.raises(ValueError, match="method 'c' has no samples"):
        paired_test(s, "smile", "a", "c")
    with pytest.raises(ValueError, match="attr 'glasses' is not in these samples"):
        paired_test(s, "glasses", "a", "b")


def test_a_binary_attribute_is_tested_on_crossings_not_on_nudges():
    """Glasses is a probability: 20 tiny positive nudges and no face crossing 0.5 is no effect."""
    s = _samples([1e-3 * (i + 1) for i in range(20)], [0.0] * 20, [False] * 20, [False] * 20)
    s["attr"] = "glasses"
    r = paired_test(s, "glasses", "a", "b")
    assert r["p_wilcoxon"] < 1e-4 and r["test"] == "McNemar" and r["p"] == 1.0
    s["attr"] = "smile"
    assert paired_test(s, "smile", "a", "b")["p"] == r["p_wilcoxon"]


def test_manifold_shift_against_a_known_ratio():
    before = np.exp(torch.randn(30, generator=gen(11)).double().numpy())
    face = range(30)
    s = pd.concat([pd.DataFrame({"method": m, "sample": face, "manifold_before": before, "manifold_after": f * before})
                   for m, f in (("off", 1.5), ("same", 1.0))])
    twice = pd.concat([s, s])  # the same faces edited for two attributes: still 30 faces, not 60
    assert (manifold_shift(twice).n == 30).all()
    m = manifold_shift(s).set_index("method")
    assert m.loc["off", "median_ratio"] == pytest.approx(1.5) and m.loc["off", "p"] < 1e-4  # all 30 the same sign
    assert m.loc["same", "median_ratio"] == 1.0 and m.loc["same", "p"] == 1.0
    with pytest.raises(ValueError, match="columns"):
        manifold_shift(s.drop(columns="manifold_after"))
