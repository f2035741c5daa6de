"""Statistics shared by the validity controls and the evaluation: pure functions on arrays.

A rate a person reads comes with one interval, computed here once (the controls' "7 of 50
look-alikes" and the evaluation's TPR/FPR use the same Wilson interval)."""
from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054          # two-sided 95% normal quantile


def wilson_interval(k, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion k/n (95% by default); NaN where n = 0.

    Why Wilson: with few non-members and an FPR of 0, the normal interval collapses to [0, 0];
    Wilson still says how large the FPR could plausibly be (3/n-ish for k = 0)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    # exact endpoints at the extremes (avoid 1e-17 round-off)
    lo = np.where((n > 0) & (k <= 0), 0.0, lo)
    hi = np.where((n > 0) & (k >= n), 1.0, hi)
    return lo, hi
