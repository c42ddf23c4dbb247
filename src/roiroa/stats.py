"""The statistics behind every published number: intervals, paired tests,
held-out splits and the null models a reviewer asks for.

Pure numpy, scipy's distributions and the standard library; each function has
hand-computed tests.

Intervals over seeds: a score of a setting is a mean over training seeds, and the
seeds disagree far more than the images within a seed do (and the evaluation
halves of different seeds overlap), so an interval on counts pooled over seeds
overstates what is known. `seed_level_interval` is the interval every published
score carries: the wider of a t-interval over the seeds' values (the
seed-to-seed spread, k − 1 degrees of freedom) and the interval on the pooled
counts (image sampling; it keeps an interval honest where every seed happens to
give the same value).
"""

from __future__ import annotations

import math

import numpy as np

# 97.5% quantile of the standard normal: two-sided 95% intervals.
Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (NaN, NaN for n = 0).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at
    0/n and n/n, which is where accuracies under attack often sit."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value (see `mcnemar_exact_log10`; may underflow to 0)."""
    return 10 ** mcnemar_exact_log10(only_first, only_second)


def mcnemar_exact_log10(only_first: int | float, only_second: int | float) -> float:
    """log10 of the two-sided exact McNemar p-value, computed in log space so that
    thousands of discordant pairs never give p = 0 (counts averaged over random
    draws are rounded to whole pairs).

    only_first: pairs right in the first condition and wrong in the second;
    only_second: the reverse. Under H0 each discordant pair falls either way
    with probability 1/2; concordant pairs carry no information. All ties
    (no discordant pair) give p = 1."""
    from scipy.special import logsumexp
    from scipy.stats import binom

    b, c = int(round(only_first)), int(round(only_second))
    n = b + c
    if n == 0:
        return 0.0
    # the tail as a sum of log-probabilities: binom.logcdf underflows to -inf
    log_p = math.log(2) + float(logsumexp(binom.logpmf(np.arange(min(b, c) + 1), n, 0.5)))
    return min(0.0, log_p / math.log(10))


def format_p(log10_p: float) -> str:
    """A p-value for a page: two significant digits, never '0'."""
    if log10_p is None or math.isnan(log10_p):
        return ""
    if log10_p < -300:
        return "< 1e-300"
    return f"{10 ** log10_p:.2g}"


def calibration_split(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the calibration rows: `fraction` of each class (rounded,
    at least one row and at least one row left for evaluation where the class
    has two or more), drawn with `seed`. The rest is the evaluation part."""
    rng = np.random.default_rng(seed)
    calibration = np.zeros(len(labels), bool)
    for cls in np.unique(labels):
        rows = np.flatnonzero(labels == cls)
        take = int(round(fraction * len(rows)))
        if len(rows) >= 2:
            take = min(max(take, 1), len(rows) - 1)
        calibration[rng.choice(rows, take, replace=False)] = True
    return calibration


def random_mask_like(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A mask of the same shape with the same number of True pixels, placed uniformly."""
    flat = np.zeros(mask.size, bool)
    flat[rng.choice(mask.size, int(mask.sum()), replace=False)] = True
    return flat.reshape(mask.shape)


def shuffled_partners(labels: np.ndarray, seed: int) -> np.ndarray:
    """For each row, another row of the same class (a random derangement within
    each class, drawn with `seed`); a class with one image keeps it (no partner)."""
    rng = np.random.default_rng(seed)
    partner = np.arange(len(labels))
    for cls in np.unique(labels):
        rows = np.flatnonzero(labels == cls)
        if len(rows) < 2:
            continue
        # a random cyclic shift of a random order never maps a row to itself
        order = rng.permutation(rows)
        partner[order] = np.roll(order, -int(rng.integers(1, len(rows))))
    return partner


def paired_counts(first: np.ndarray, second: np.ndarray) -> dict[str, int]:
    """Counts of a paired comparison of per-image correctness (bool arrays)."""
    first, second = np.asarray(first, bool), np.asarray(second, bool)
    return {
        "n": int(len(first)),
        "first": int(first.sum()),
        "second": int(second.sum()),
        "only_first": int((first & ~second).sum()),
        "only_second": int((~first & second).sum()),
    }


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; NaN sd for fewer than two values)."""
    values = np.asarray([v for v in values if v is not None and not np.isnan(v)], float)
    if len(values) == 0:
        return float("nan"), float("nan")
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def t_interval(values) -> tuple[float, float]:
    """95% t-interval of the mean of `values` (one per seed; k − 1 degrees of
    freedom); NaN with fewer than two values."""
    from scipy.stats import t

    values = np.asarray([v for v in values if v is not None and not np.isnan(v)], float)
    if len(values) < 2:
        return float("nan"), float("nan")
    mean, sd = values.mean(), values.std(ddof=1)
    half = float(t.ppf(0.975, len(values) - 1)) * sd / math.sqrt(len(values))
    return float(mean - half), float(mean + half)


def seed_level_interval(per_seed, pooled: tuple[float, float], bounds=(0.0, 1.0)) -> tuple[float, float]:
    """95% interval of a mean over seeds that includes the seed-to-seed variance:
    the union of the t-interval over the seeds' values and `pooled` (the interval
    on the counts pooled over seeds), clipped to `bounds`. With one seed it is
    `pooled` alone (the seed-to-seed spread is then not measured: say so)."""
    low, high = t_interval(per_seed)
    lows = [v for v in (low, pooled[0]) if not math.isnan(v)]
    highs = [v for v in (high, pooled[1]) if not math.isnan(v)]
    if not lows or not highs:
        return float("nan"), float("nan")
    return max(bounds[0], min(lows)), min(bounds[1], max(highs))


def paired_difference_interval(first: float, second: float, only_first: float, only_second: float,
                               n: float, z: float = Z95) -> tuple[float, float, float]:
    """(p_first − p_second, 95% low, 95% high) for two accuracies on the same n
    images: Newcombe's hybrid score interval for paired proportions (method 10 of
    Newcombe 1998, Stat Med 17:2635), built from the Wilson intervals of the two
    accuracies and their correlation. `first`/`second`: images right in each
    condition; only_first/only_second: the discordant pairs."""
    if n <= 0:
        return float("nan"), float("nan"), float("nan")
    both = first - only_first
    neither = n - first - only_second
    p1, p2 = first / n, second / n
    l1, u1 = _wilson_fraction(p1, n, z)
    l2, u2 = _wilson_fraction(p2, n, z)
    denominator = first * (n - first) * second * (n - second)
    phi = (both * neither - only_first * only_second) / math.sqrt(denominator) if denominator > 0 else 0.0
    below = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    above = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    diff = p1 - p2
    return diff, max(-1.0, diff - below), min(1.0, diff + above)


def _wilson_fraction(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson interval of a proportion p over n (n may be a mean over draws)."""
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(0.0, p * (1 - p)) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# ---- paired per-image comparisons and percentiles (claim (a), baselines) ----

PAIRED_TEST = "Wilcoxon signed-rank (scipy.stats.wilcoxon, two-sided, zero differences dropped)"


def paired_difference(first, second) -> dict[str, float]:
    """Paired comparison of two per-image values (same images, same order):
    the mean of first − second, its 95% t-interval and a two-sided Wilcoxon
    signed-rank p-value (PAIRED_TEST). Images are the units, so the interval
    is within one seed; n < 2 gives NaN bounds, no non-zero difference p = 1."""
    from scipy import stats as scipy_stats  # scipy comes with scikit-image

    diff = np.asarray(first, float) - np.asarray(second, float)
    n = len(diff)
    out = {"n": n, "mean": float(diff.mean()) if n else float("nan"), "low": float("nan"),
           "high": float("nan"), "p": float("nan") if n == 0 else 1.0}
    if n >= 2:
        half = scipy_stats.t.ppf(0.975, n - 1) * diff.std(ddof=1) / math.sqrt(n)
        out["low"], out["high"] = out["mean"] - half, out["mean"] + half
    if np.any(diff != 0):
        out["p"] = float(scipy_stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided").pvalue)
    return out


def percentile_among(value: float, draws) -> float:
    """Mid-rank percentile (0–100) of `value` among `draws`: the share of draws
    below it plus half the share equal to it (ties split, so a value equal to
    every draw sits at 50, not at 0 or 100)."""
    draws = np.asarray(draws, float)
    if len(draws) == 0:
        return float("nan")
    return float(100 * ((draws < value).sum() + 0.5 * (draws == value).sum()) / len(draws))
