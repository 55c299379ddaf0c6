"""Exercise checks of lab 10, which direction method: a bootstrap interval by hand (10.1), which
methods beat the random baseline, which only uncorrected and which are worse (10.2), whether two runs
rank the methods alike (10.3), and a paired permutation test written out (10.4).

The references call numpy and scipy (`wilcoxon`, `spearmanr`, `permutation_test`) on the notebook's
tables or on known samples.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .feedback import Hint, as_number, call_answer, checker

__all__ = ["check_bootstrap_interval", "check_beats_random", "check_rank_correlation", "check_paired_permutation"]

_NOT_ASKED = object()  # `uncorrected` / `worse` of 10.2 not passed: a caller that asks only for `answer`


def _frame(x: Any, name: str, columns: Sequence[str]):
    if not hasattr(x, "columns") or not set(columns) <= set(x.columns):
        raise Hint(f"pass the notebook's `{name}` (a pandas DataFrame with the columns {', '.join(columns)}), "
                   f"not a {type(x).__name__}.")
    return x


@checker("10.1 an interval by hand", ("mean", "lo", "hi"),
         "Fill in `mean`, `lo` and `hi`, as the exercise says.")
def check_bootstrap_interval(samples: Any, attr: str, method: str, mean: Any, lo: Any, hi: Any) -> str:
    """Exercise 10.1: a method's mean change towards the goal and its 95 % bootstrap interval.

    The reference mean is exact; the interval is checked against the normal approximation
    mean +- 1.96 SE (within 25 %, the play of a 2,000-resample bootstrap).

    >>> import pandas as pd
    >>> s = pd.DataFrame({"attr": "smile", "method": "m", "movable": [True] * 4 + [False],
    ...                   "change": [0.1, 0.2, 0.3, 0.4, 9.0]})
    >>> check_bootstrap_interval(s, "smile", "m", 0.25, 0.15, 0.35).ok
    True
    >>> check_bootstrap_interval(s, "smile", "m", 2.0, 0.15, 0.35).message[:27]
    'That mean counts every face'
    """
    s = _frame(samples, "samples", ("attr", "method", "movable", "change"))
    s = s[(s.attr == attr) & (s.method == method)]
    if not len(s):
        raise Hint(f"no rows for attr={attr!r} and method={method!r} in these samples: check the names.")
    mean, lo, hi = as_number(mean, "mean"), as_number(lo, "lo"), as_number(hi, "hi")
    x = s[s.movable.astype(bool)].change.to_numpy(float)
    ref, se = float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))
    if abs(mean - float(s.change.mean())) < 1e-6 and abs(mean - ref) > 1e-6:
        raise Hint(f"That mean counts every face, {len(s)} of them; the comparison counts only the {len(x)} that "
                   "can move towards the goal (`movable`): a face already at the goal cannot show an effect.")
    if abs(mean - ref) > 1e-4:
        raise Hint(f"The mean change over the movable faces is not {mean:.4f}: select `movable` rows of this "
                   "attribute and method, then average `change`.")
    if lo > hi:
        raise Hint("`lo` is above `hi`: the lower end is the 2.5 % quantile of the resampled means.")
    half = 1.96 * se
    if not (lo <= ref <= hi):
        raise Hint(f"The interval [{lo:.3f}, {hi:.3f}] does not contain the mean {ref:.3f}: resample the faces "
                   "(with replacement), average each resample, and take quantiles of those averages.")
    width = hi - lo
    if width > 4 * half:
        raise Hint(f"Your interval ({width:.3f} wide) is much wider than the mean's uncertainty (about "
                   f"{2 * half:.3f}): resample and *average* each resample; the quantiles of single faces' changes "
                   "give the spread of the faces, not of their mean.")
    if width < 1.2 * half:
        raise Hint(f"Your interval ({width:.3f} wide) is narrower than a 95 % interval (about {2 * half:.3f}): use "
                   "the 2.5 % and 97.5 % quantiles, not 16 % and 84 % (one standard error).")
    if abs(lo - (ref - half)) > 0.25 * half or abs(hi - (ref + half)) > 0.25 * half:
        raise Hint(f"Close, but [{lo:.3f}, {hi:.3f}] is off from about [{ref - half:.3f}, {ref + half:.3f}]: use "
                   "2,000 resamples of the movable faces.")
    excludes_0 = ref - half > 0 or ref + half < 0
    verdict = "excludes 0." if excludes_0 else "includes 0: not shown."
    return f"mean {ref:+.3f}, interval about [{ref - half:+.3f}, {ref + half:+.3f}]: {verdict}"


def _names(x: Any, name: str) -> set[str]:
    if isinstance(x, str):
        x = {x}
    if not isinstance(x, (set, list, tuple, frozenset)) or not all(isinstance(a, str) for a in x):
        raise Hint(f"`{name}` should be a set of method names (strings), e.g. {{'paired', 'mean difference'}}.")
    return set(x)


@checker("10.2 which methods beat random", ("answer",),
         "Fill in `answer`, `uncorrected` and `worse`: three sets of method names (a set may be empty).")
def check_beats_random(samples: Any, attr: str, answer: Any, uncorrected: Any = _NOT_ASKED, worse: Any = _NOT_ASKED,
                       n_tests: int = 28) -> str:
    """Exercise 10.2: which methods beat the random baseline for a continuous attribute (Wilcoxon,
    Bonferroni over `n_tests`: `answer`), which would pass at an uncorrected 0.05 (`uncorrected`), and
    which have p < 0.05 while changing the attribute *less* than random (`worse`); the reference calls
    scipy on the merged per-face changes. `uncorrected` and `worse` are checked when they are passed.

    >>> import pandas as pd
    >>> rows = [{"attr": "hair_color", "method": m, "sample": i, "movable": True, "change": d + 0.01 * i}
    ...         for m, d in (("good", 1.0), ("random", 0.0), ("bad", -1.0)) for i in range(20)]
    >>> check_beats_random(pd.DataFrame(rows), "hair_color", {"good"}, {"good"}, {"bad"}).ok
    True
    >>> check_beats_random(pd.DataFrame([{"attr": "smile", "method": m, "sample": i, "movable": True,
    ...     "change": 0.01 * i} for m in ("m", "random") for i in range(6)]), "smile", set()).message
    'none at 0.05 / 28.'
    """
    from scipy.stats import wilcoxon

    s = _frame(samples, "samples", ("attr", "method", "sample", "movable", "change"))
    s = s[(s.attr == attr) & s.movable.astype(bool)]
    if "random" not in set(s.method):
        raise Hint(f"these samples have no 'random' method for {attr!r}: pass the notebook's per-sample table.")
    if uncorrected is None or worse is None:
        raise Hint("Fill in `answer`, `uncorrected` and `worse`: three sets of method names (a set may be empty).")
    answer = _names(answer, "answer")
    wide = s.pivot(index="sample", columns="method", values="change")
    pvals = {m: (float(wilcoxon(wide[m] - wide["random"]).pvalue) if (wide[m] != wide["random"]).any() else 1.0,
                 float((wide[m] - wide["random"]).mean())) for m in wide.columns if m != "random"}
    ref = {m for m, (p, d) in pvals.items() if p < 0.05 / n_tests and d > 0}
    loose = {m for m, (p, d) in pvals.items() if p < 0.05 and d > 0}
    below = {m for m, (p, d) in pvals.items() if p < 0.05 and d < 0}
    for name, given in (("answer", answer), ("uncorrected", uncorrected), ("worse", worse)):
        if given is _NOT_ASKED:
            continue
        given = _names(given, name)
        unknown = given - set(pvals) - {"random"}
        if unknown:
            raise Hint(f"`{name}`: {sorted(unknown)} are not methods of this table; they are {sorted(pvals)}.")
        if "random" in given:
            raise Hint(f"`{name}`: 'random' is the baseline itself: it cannot be tested against itself.")
    if answer != ref:
        worse_in = {m for m in answer if pvals[m][1] <= 0}
        if worse_in:
            raise Hint(f"{sorted(worse_in)} changed the attribute *less* than random (a negative difference): "
                       "a small p there means worse, not better.")
        if answer == loose and loose != ref:
            raise Hint(f"That is the list at an uncorrected 0.05; with {n_tests} tests each must pass "
                       f"0.05 / {n_tests}: drop {sorted(loose - ref)}.")
        if answer < ref:
            raise Hint("Some methods that beat random are missing "
                       f"({len(ref - answer)}); test every method of this attribute.")
        raise Hint(f"Not the list the tests give: {len(answer & ref)} of yours pass, {len(answer - ref)} do not. Test "
                   "each method's per-face change minus random's (same faces) with `scipy.stats.wilcoxon`.")
    if uncorrected is not _NOT_ASKED and _names(uncorrected, "uncorrected") != loose:
        u = _names(uncorrected, "uncorrected")
        if u & below:
            raise Hint(f"`uncorrected`: {sorted(u & below)} passed 0.05 with a *negative* difference; keep only "
                       "methods that beat random, p < 0.05 and a positive mean difference.")
        if u == ref and ref != loose:
            raise Hint("`uncorrected` is the corrected list again; which methods pass p < 0.05 with a positive "
                       "difference, without dividing by the number of tests?")
        raise Hint(f"`uncorrected` should hold the {len(loose)} method(s) with p < 0.05 and a positive mean "
                   f"difference; yours holds {len(u & loose)} of them and {len(u - loose)} other(s).")
    if worse is not _NOT_ASKED and _names(worse, "worse") != below:
        w = _names(worse, "worse")
        if w & loose:
            raise Hint(f"`worse`: {sorted(w & loose)} changed the attribute *more* than random (positive difference).")
        raise Hint(f"`worse` should hold the {len(below)} method(s) with p < 0.05 and a *negative* mean difference "
                   f"(the per-face change minus random's); yours holds {len(w & below)} of them and "
                   f"{len(w - below)} other(s).")
    head = f"{', '.join(sorted(ref)) or 'none'} at 0.05 / {n_tests}"
    tail = f"; {', '.join(sorted(loose - ref))} only uncorrected" if loose - ref else ""
    if below and worse is not _NOT_ASKED:
        tail += f"; {', '.join(sorted(below))} has p < 0.05 but moves less than random"
    return head + tail + "."


@checker("10.3 do two runs rank alike?", ("rho",),
         "Fill in `rho`: the two runs' Spearman correlation.")
def check_rank_correlation(table_1: Any, table_2: Any, attr: str, rho: Any) -> str:
    """Exercise 10.3: how alike two runs rank the unlearned methods (Spearman, methods matched by name).

    >>> import pandas as pd
    >>> a = pd.DataFrame({"attr": "smile", "method": list("abcd"), "change": [0.1, 0.2, 0.3, 0.4]})
    >>> check_rank_correlation(a, a.iloc[::-1], "smile", 1.0).ok
    True
    >>> b = pd.concat([a, pd.DataFrame({"attr": "smile", "method": ["random (1)"], "change": [0.25]})])
    >>> check_rank_correlation(b, b.assign(change=[0.1, 0.2, 0.3, 0.4, 0.0]), "smile", 1.0).message[:24]
    'Keep the random baseline'
    """
    from scipy.stats import pearsonr, spearmanr

    t1 = _frame(table_1, "table_1", ("attr", "method", "change"))
    t2 = _frame(table_2, "table_2", ("attr", "method", "change"))
    rho = as_number(rho, "rho")
    a = t1[(t1.attr == attr) & ~t1.method.str.startswith("Asyrp")].set_index("method").change
    b = t2[(t2.attr == attr) & ~t2.method.str.startswith("Asyrp")].set_index("method").change.reindex(a.index)
    if len(a) < 3 or b.isna().any():
        raise Hint(f"the two tables do not share the methods of {attr!r}: pass both runs' tables.")
    ref = float(spearmanr(a, b).statistic)
    if abs(rho - ref) < 5e-3:
        return (f"rho = {ref:+.2f} over {len(a)} methods: " + ("the runs agree on the order." if ref > 0.7 else
                "the order does not carry over."))
    no_random = a[~a.index.str.startswith("random")]  # the matched random rows, "random (1)", "(6)", ...
    if (3 <= len(no_random) < len(a)
            and abs(rho - float(spearmanr(no_random, b.reindex(no_random.index)).statistic)) < 5e-3):
        raise Hint("Keep the random baseline in, as section 6 does: it is one of the ranked methods.")
    aa = t1[t1.attr == attr].set_index("method").change
    bb = t2[t2.attr == attr].set_index("method").change.reindex(aa.index)
    if abs(rho - float(spearmanr(aa, bb).statistic)) < 5e-3:
        raise Hint("That includes the two Asyrp editors, which top both runs and lift the correlation: leave them out.")
    if abs(rho - float(pearsonr(a, b).statistic)) < 5e-3:
        raise Hint("That is Pearson's correlation of the values; Spearman's correlates their ranks "
                   "(`scipy.stats.spearmanr`).")
    unaligned = t2[(t2.attr == attr) & ~t2.method.str.startswith("Asyrp")].change.to_numpy()
    if len(unaligned) == len(a) and abs(rho - float(spearmanr(a.to_numpy(), unaligned).statistic)) < 5e-3:
        raise Hint("The two runs' rows are in different orders: match the methods by name (e.g. `set_index('method')` "
                   "and `reindex`) before correlating.")
    raise Hint(f"Not {rho:+.3f}: rank both runs' changes of the same "
               "methods (without the Asyrp editors) and correlate.")


def _sign_flip_p(d: np.ndarray, alternative: str = "greater") -> float:
    """The exact p of the mean of paired differences `d` under random sign flips (scipy, every flip)."""
    from scipy.stats import permutation_test

    return float(permutation_test((d,), np.mean, permutation_type="samples", alternative=alternative,
                                  n_resamples=np.inf).pvalue)


def _paired_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """Two known pairs of samples: a moderate effect on 12 faces, and a small, consistent effect on 16 faces
    whose values spread far more than their differences (pairing is then everything)."""
    rng = np.random.default_rng(5)  # a seed whose first case has p near 0.03: one- and two-sided differ
    first = (rng.normal(0.25, 0.5, 12), rng.normal(0.0, 0.5, 12))
    base = rng.normal(0.0, 1.0, 16)
    return [first, (base + 0.1 + rng.uniform(0.0, 0.05, 16), base)]


@checker("10.4 a paired permutation test by hand", ("permutation_p",),
         "Fill in `permutation_p`: a function `permutation_p(a, b, n_resamples, seed)` that returns a p-value.")
def check_paired_permutation(permutation_p: Any, n_resamples: int = 20_000) -> str:
    """Exercise 10.4: the one-sided p-value of "a beats b" on paired samples by random sign flips of the
    differences a - b, counting the observed statistic as one of the resamples ((k + 1) / (n + 1)).

    The student's function runs on two known cases with `n_resamples` resamples; the reference is
    scipy's `permutation_test` over every sign flip (exact), and a Monte Carlo answer passes within
    4 standard errors plus 2 / n_resamples.

    >>> def permutation_p(a, b, n_resamples, seed):
    ...     d = np.asarray(a) - np.asarray(b)
    ...     flips = np.random.default_rng(seed).choice([-1, 1], size=(n_resamples, len(d)))
    ...     return (1 + ((flips * d).mean(1) >= d.mean()).sum()) / (n_resamples + 1)
    >>> check_paired_permutation(permutation_p).ok
    True
    """
    from scipy.stats import permutation_test

    results = []
    for a, b in _paired_cases():
        p = call_answer(permutation_p, "permutation_p", a.copy(), b.copy(), n_resamples, 0)
        if p is None:
            raise Hint("`permutation_p` returned None: end it with `return (k + 1) / (n_resamples + 1)`.")
        p = as_number(p, "permutation_p(...)")
        want = _sign_flip_p(a - b)
        se = math.sqrt(max(want * (1 - want), 1 / n_resamples) / n_resamples)
        near = lambda x: abs(p - x) <= 4 * se + 2 / n_resamples  # noqa: E731
        results.append((len(a), want))
        if near(want):
            if p <= 0:
                raise Hint("A p-value of 0 claims more than any finite number of resamples can show: count the "
                           "observed statistic as one of them, p = (k + 1) / (n_resamples + 1).")
            continue
        if p == 0:
            raise Hint("Your p is 0: count the observed statistic as one of the resamples, "
                       "p = (k + 1) / (n_resamples + 1), so that p is never 0.")
        if not 0 < p <= 1:
            raise Hint(f"`permutation_p` returned {p:g}: a p-value lies in (0, 1].")
        if near(_sign_flip_p(a - b, "two-sided")):
            raise Hint("That is the two-sided p; the question is one-sided, 'a beats b': count the resampled means "
                       "at least as large as the observed one (not at least as large in absolute value).")
        if near(_sign_flip_p(a - b, "less")) or near(1 - want):
            raise Hint("The direction is reversed: count the resampled means *at least as large* as the observed "
                       "mean difference.")
        unpaired = float(permutation_test((a, b), lambda x, y: np.mean(x) - np.mean(y), permutation_type="independent",
                                          alternative="greater", n_resamples=n_resamples,
                                          random_state=0).pvalue)
        if abs(p - unpaired) <= 0.25 * unpaired and abs(p - want) > 0.25 * unpaired:
            raise Hint("That shuffles the values between the two groups, as if the faces were unrelated; the samples "
                       "are paired (the same faces): flip the sign of each face's difference a - b instead.")
        raise Hint(f"On {len(a)} paired faces your p is {p:.4g}, the exact one {want:.4g}: flip the sign of each "
                   "difference a_i - b_i at random, n_resamples times, and count the resampled means >= the observed.")
    return (f"p = {results[0][1]:.4f} on {results[0][0]} faces and {results[1][1]:.1e} on {results[1][0]} faces "
            "(exact, over every sign flip). The second case is a small effect on values that spread widely: "
            "pairing removes the spread, which an unpaired test would count as noise.")
