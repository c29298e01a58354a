"""Small statistics with known answers: percentiles, Wilson intervals, Fisher's exact test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

QUANTILES: dict[str, float] = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


def percentiles(values: Sequence[float] | np.ndarray, quantiles: dict[str, float] = QUANTILES) -> dict[str, float | None]:
    """Linear-interpolated percentiles (numpy's default method), ignoring NaN; None when empty."""
    arr = np.asarray(values, dtype="float64")
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return dict.fromkeys(quantiles)
    qs = np.quantile(arr, list(quantiles.values()))
    return {name: float(q) for name, q in zip(quantiles, qs, strict=True)}


@dataclass(frozen=True)
class Rate:
    """A proportion with its Wilson score interval (good for small n and rates near 0 or 1)."""

    successes: int
    n: int
    low: float | None
    high: float | None

    @property
    def value(self) -> float | None:
        return self.successes / self.n if self.n else None


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> Rate:
    if n == 0:
        return Rate(0, 0, None, None)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Rounding can leave the bound a hair inside p at 0/n and n/n; the interval always holds p.
    return Rate(successes, n, max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def fisher_exact(fail_a: int, ok_a: int, fail_b: int, ok_b: int) -> float:
    """Two-sided p-value of Fisher's exact test on the 2x2 table of failures before/after."""
    from scipy.stats import fisher_exact as _fisher

    return float(_fisher([[fail_a, ok_a], [fail_b, ok_b]], alternative="two-sided").pvalue)


def histogram_quantile(lowers: np.ndarray, uppers: np.ndarray, counts: np.ndarray, q: float) -> float | None:
    """Quantile from binned counts, interpolating linearly inside the bin (as Prometheus does)."""
    order = np.argsort(lowers, kind="stable")
    lo, hi, n = np.asarray(lowers)[order], np.asarray(uppers)[order], np.asarray(counts, dtype="float64")[order]
    total = n.sum()
    if total <= 0:
        return None
    rank = q * total
    cum = np.cumsum(n)
    i = int(np.searchsorted(cum, rank, side="left"))
    i = min(i, len(n) - 1)
    before = cum[i] - n[i]
    frac = 0.0 if n[i] == 0 else (rank - before) / n[i]
    return float(lo[i] + (hi[i] - lo[i]) * frac)
