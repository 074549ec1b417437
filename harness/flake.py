"""Flake math: how many runs it takes to see a flaky failure, and what clean runs prove.

Two questions, one formula. With a failure rate r, n independent runs all come out clean with
probability (1 - r)^n, so

- to see the failure at least once with confidence c takes n = ceil(ln(1 - c) / ln(1 - r)) runs;
- n clean runs show, with confidence c, that the rate is below r = 1 - (1 - c)^(1/n) (the exact
  one-sided bound; about 3/n at 95%, the "rule of three").

The rate is never taken at face value from k failures in n runs: `conservative_rate` is the lower
bound of the Wilson 95% interval, so a rate estimated from few runs gives more runs, not fewer.
Used by `gxm bisect` (how many clean runs make a probe good), `gxm cell --until-fail` (how low a
rate a clean budget has shown) and the crash-rate table ("runs to reproduce (95%)").
"""

from __future__ import annotations

import math

from harness.stats import wilson_ci95

CONFIDENCE = 0.95


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def conservative_rate(failures: int, runs: int) -> float:
    """The lower Wilson 95% bound of failures/runs: a rate the data supports without luck.

    0.0 when there was no failure (or no run): nothing supports any positive rate then.
    """
    if failures == 0 or runs == 0:
        return 0.0
    return wilson_ci95(failures, runs)[0]


def runs_to_see(rate: float, confidence: float = CONFIDENCE) -> int | None:
    """Runs needed to see a failure of probability `rate` at least once with `confidence`.

    None when `rate` is 0 (no number of runs is enough); 1 when `rate` is 1.
    """
    _check_confidence(confidence)
    if not 0 <= rate <= 1:
        raise ValueError(f"a rate is between 0 and 1, got {rate}")
    if rate == 0:
        return None
    if rate == 1:
        return 1
    return max(1, math.ceil(math.log(1 - confidence) / math.log1p(-rate)))


def runs_to_reproduce(failures: int, runs: int, confidence: float = CONFIDENCE) -> int | None:
    """From k failures in n runs: the runs needed to see the failure again at least once with
    `confidence`, at the conservative (lower Wilson) rate. None when k is 0."""
    return runs_to_see(conservative_rate(failures, runs), confidence)


def rate_upper_bound(clean_runs: int, confidence: float = CONFIDENCE) -> float:
    """What `clean_runs` runs without a failure prove: the rate is below this, with `confidence`.

    1.0 for no runs (nothing is shown).
    """
    _check_confidence(confidence)
    if clean_runs < 0:
        raise ValueError(f"a run count is not negative, got {clean_runs}")
    if clean_runs == 0:
        return 1.0
    return float(1 - (1 - confidence) ** (1 / clean_runs))


def percent(rate: float) -> str:
    """`0.0149` → `1.5%`, `0.00012` → `0.012%`: two significant digits, never `0%` for a bound."""
    value = rate * 100
    if value >= 10 or value == 0:
        return f"{value:.0f}%"
    digits = max(1, 1 - math.floor(math.log10(value)))
    return f"{value:.{digits}f}%"


def clean_runs_text(clean_runs: int, confidence: float = CONFIDENCE) -> str:
    """`no failure in 200 runs: the rate is below 1.5% (95% confidence)`."""
    bound = rate_upper_bound(clean_runs, confidence)
    return (
        f"no failure in {clean_runs} runs: the failure rate is below {percent(bound)} "
        f"({confidence * 100:.0f}% confidence)"
    )


def reproduce_text(failures: int, runs: int, confidence: float = CONFIDENCE) -> str:
    """`30 runs`: the runs to reproduce a k/n failure, or `-` when there is nothing to reproduce."""
    needed = runs_to_reproduce(failures, runs, confidence)
    return "-" if needed is None else f"{needed} runs"


def flaky_text(failures: int, runs: int, confidence: float = CONFIDENCE) -> str:
    """`1 of 10 runs failed; runs to reproduce (95%): 167 runs`."""
    return (
        f"{failures} of {runs} runs failed; runs to reproduce ({confidence * 100:.0f}%): "
        f"{reproduce_text(failures, runs, confidence)}"
    )
