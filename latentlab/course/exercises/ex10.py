"""Exercise checks of lab 10, which direction method: a bootstrap interval by hand (10.1), which
methods beat the random baseline (10.2), and whether two runs rank the methods alike (10.3).

The references call numpy and scipy (`wilcoxon`, `spearmanr`) on the notebook's tables.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .feedback import Hint, as_number, checker

__all__ = ["check_bootstrap_interval", "check_beats_random", "check_rank_correlation"]


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


@checker("10.2 which methods beat random", ("answer",),
         "Fill in `answer`: a set of method names.")
def check_beats_random(samples: Any, attr: str, answer: Any, n_tests: int = 28) -> str:
    """Exercise 10.2: which methods beat the random baseline for a continuous attribute (Wilcoxon,
    Bonferroni over `n_tests`); the reference calls scipy on the merged per-face changes.

    >>> import pandas as pd
    >>> rows = [{"attr": "hair_color", "method": m, "sample": i, "movable": True, "change": d + 0.01 * i}
    ...         for m, d in (("good", 1.0), ("random", 0.0), ("bad", -1.0)) for i in range(20)]
    >>> check_beats_random(pd.DataFrame(rows), "hair_color", {"good"}).ok
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
    if isinstance(answer, str):
        answer = {answer}
    if not isinstance(answer, (set, list, tuple, frozenset)) or not all(isinstance(a, str) for a in answer):
        raise Hint("`answer` should be a set of method names (strings), e.g. {'paired', 'mean difference'}.")
    answer = set(answer)
    wide = s.pivot(index="sample", columns="method", values="change")
    pvals = {m: (float(wilcoxon(wide[m] - wide["random"]).pvalue) if (wide[m] != wide["random"]).any() else 1.0,
                 float((wide[m] - wide["random"]).mean())) for m in wide.columns if m != "random"}
    ref = {m for m, (p, d) in pvals.items() if p < 0.05 / n_tests and d > 0}
    loose = {m for m, (p, d) in pvals.items() if p < 0.05 and d > 0}
    unknown = answer - set(pvals) - {"random"}
    if unknown:
        raise Hint(f"{sorted(unknown)} are not methods of this table; they are {sorted(pvals)}.")
    if "random" in answer:
        raise Hint("'random' is the baseline itself: it cannot beat itself.")
    if answer == ref:
        head = f"{', '.join(sorted(ref)) or 'none'} at 0.05 / {n_tests}"
        return head + (f"; {', '.join(sorted(loose - ref))} only uncorrected." if loose - ref else ".")
    worse = {m for m in answer if pvals[m][1] <= 0}
    if worse:
        raise Hint(f"{sorted(worse)} changed the attribute *less* than random (a negative difference): a small p there "
                   "means worse, not better.")
    if answer == loose and loose != ref:
        raise Hint(f"That is the list at an uncorrected 0.05; with {n_tests} tests each must pass 0.05 / {n_tests}: "
                   f"drop {sorted(loose - ref)}.")
    if answer < ref:
        raise Hint("Some methods that beat random are missing "
                   f"({len(ref - answer)}); test every method of this attribute.")
    raise Hint(f"Not the list the tests give: {len(answer & ref)} of yours pass, {len(answer - ref)} do not. Test each "
               "method's per-face change minus random's (same faces) with `scipy.stats.wilcoxon`.")


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
