r"""Monte Carlo metrics of sampled sequences (SPEC §3).

* ``SER(p) = P_{x~p}[q(x) = 0]`` with a Wilson 95% interval;
* ``gen_log_ppl(p) = E_{x~p}[-log q(x)] / L`` (``+inf`` as soon as one sample is invalid);
* ``gen_log_ppl_valid(p) = E_{x~p}[-log q(x) | q(x) > 0] / L``;

each with its standard error, the number of samples, and the NFEs of the run.
"""

from __future__ import annotations

import math

import numpy as np

from ngramsim._validation import check_language
from ngramsim.measure import Measure
from ngramsim.sampler import MDMSamples
from ngramsim.sources import NGramLanguage

__all__ = ["wilson_interval", "summarize_samples"]

_Z95 = 1.959963984540054


def wilson_interval(successes, trials, *, z=_Z95):
    """Wilson score interval for a binomial proportion (95% by default).

    ``(p + z^2/2n ± z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``, ``p = successes / trials``.

    The interval SPEC §3 attaches to a Monte Carlo SER (``successes`` = invalid
    samples).  Unlike the normal interval ``p ± z sqrt(p(1-p)/n)`` it is not
    empty at ``p = 0`` or ``p = 1``, where SER estimates often sit.  Wilson
    (1927), J. Amer. Statist. Assoc. 22, 209-212.

    Parameters
    ----------
    successes : int
        ``k``, with ``0 <= k <= n``.
    trials : int
        ``n >= 1``.
    z : float
        Normal quantile; the default ``1.959963984540054`` gives 95%.

    Returns
    -------
    low, high : float
        The bounds, clipped to ``[0, 1]``; exactly 0 when ``k = 0`` and exactly 1 when
        ``k = n``.

    Raises
    ------
    ValueError
        If ``trials <= 0`` or ``successes`` lies outside ``[0, trials]``.

    Examples
    --------
    >>> from ngramsim import wilson_interval
    >>> [round(v, 4) for v in wilson_interval(0, 10)]
    [0.0, 0.2775]
    >>> [round(v, 4) for v in wilson_interval(3, 10)]
    [0.1078, 0.6032]
    """
    if trials <= 0:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must lie in [0, trials={trials}], got {successes}")
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    # At k = 0 (k = n) the bound is exactly 0 (1); the formula's rounding would miss it.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def _mean_stderr(values):
    n = len(values)
    if n == 0:
        return Measure(float("nan"), float("nan"), "monte_carlo", 0)
    mean = float(values.mean())
    stderr = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return Measure(mean, stderr, "monte_carlo", n)


def summarize_samples(language: NGramLanguage, result: MDMSamples) -> dict:
    """SPEC §3 metrics of ``result`` against ``language`` (a JSON-ready dict, provenance excluded).

    Keys: ``ser``, ``ser_interval`` (Wilson 95%), ``num_invalid``, ``gen_log_ppl`` and
    ``gen_log_ppl_stderr`` (``inf``/``nan`` once ``ser > 0``), ``gen_log_ppl_valid`` and
    ``gen_log_ppl_valid_stderr`` (over valid samples), ``num_valid``, ``nfe_mean``,
    ``nfe_max``, ``fallback_fraction``, ``learning_kl_mean`` (per revealed token),
    ``learning_kl_max``, ``num_samples``, ``length``, ``learning_error``, ``temperature``.

    Over the ``M`` samples ``x ~ p``:

    * ``SER(p) = P_{x~p}[q(x) = 0]``, estimated by the fraction of invalid samples;
    * ``gen_log_ppl(p) = E_{x~p}[-log q(x)] / L`` (``+inf`` as soon as one sample is
      invalid);
    * ``gen_log_ppl_valid(p) = E_{x~p}[-log q(x) | q(x) > 0] / L``;

    each mean with its standard error (sample standard deviation over ``sqrt``
    of the count; ``nan`` below 2 samples).  SER is the quality measure under
    which Feng et al. (2025, arXiv:2502.09622) show that the number of steps
    must grow with ``L``; generative perplexity is what their experiments
    report.  ``model_log_ppl`` (``E_q[-log p] / L``), the reading of their TER
    theorem, needs the law ``p`` and is given by :func:`~ngramsim.exact.exact_law`.

    Parameters
    ----------
    language : NGramLanguage
        The source ``q`` the samples are scored against.
    result : MDMSamples
        Output of :func:`~ngramsim.sampler.sample_mdm`.

    Returns
    -------
    dict
        The keys above; plain Python numbers (non-finite ones as floats).

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage` or ``result`` not
        :class:`MDMSamples`.

    Examples
    --------
    >>> from ngramsim import sample_mdm, ser_one_step, summarize_samples, window_language
    >>> lang = window_language(4, 2)
    >>> one_step = summarize_samples(lang, sample_mdm(lang, 6, "uniform:1", 400, rng=0))
    >>> low, high = one_step["ser_interval"]
    >>> bool(low <= ser_one_step(lang, 6) <= high), one_step["gen_log_ppl"], one_step["nfe_max"]
    (True, inf, 1)
    >>> ar = summarize_samples(lang, sample_mdm(lang, 6, "ar", 400, rng=0))
    >>> ar["ser"], round(ar["gen_log_ppl"], 6)  # H(q)/L = (log 4 + 5 log 2) / 6
    (0.0, 0.808672)
    """
    check_language(language)
    if not isinstance(result, MDMSamples):
        raise TypeError(f"result must be MDMSamples, got {type(result).__name__}")
    M, L = result.samples.shape
    nll = -language.log_prob(result.samples) / L  # per-token -log q(x); +inf where invalid
    valid = np.isfinite(nll)
    invalid = int(M - valid.sum())
    low, high = wilson_interval(invalid, M)
    if invalid:
        gen = Measure(float("inf"), float("nan"), "monte_carlo", M)
    else:
        gen = _mean_stderr(nll)
    gen_valid = _mean_stderr(nll[valid])
    return {
        "ser": invalid / M,
        "ser_interval": [low, high],
        "num_invalid": invalid,
        "gen_log_ppl": gen.value,
        "gen_log_ppl_stderr": gen.stderr,
        "gen_log_ppl_valid": gen_valid.value,
        "gen_log_ppl_valid_stderr": gen_valid.stderr,
        "num_valid": int(valid.sum()),
        "nfe_mean": float(result.nfe.mean()),
        "nfe_max": int(result.nfe.max()),
        "fallback_fraction": float(result.fallback.mean()),
        "learning_kl_mean": result.learning_kl_mean,
        "learning_kl_max": float(result.learning_kl_max.max()),
        "num_samples": M,
        "length": L,
        "learning_error": result.learning_error,
        "temperature": result.temperature,
    }
