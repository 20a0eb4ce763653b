"""The JSON-ready dicts the command line prints: one home for report shapes.

``ngramsim info`` (:func:`language_info`, plus :func:`information_summary` with
``--length``), ``ngramsim exact --json`` (:func:`exact_report`) and ``ngramsim sample
--json`` (:func:`sample_report`).  Keys are listed in docs/formats.md;
every report carries the provenance keys (version, language name and SHA-256, seed,
schedule where they apply).
"""

from __future__ import annotations

from ngramsim._validation import check_language
from ngramsim.exact import ExactResult
from ngramsim.information import dual_total_correlation, phi_curve, total_correlation
from ngramsim.metrics import summarize_samples
from ngramsim.provenance import provenance
from ngramsim.sampler import MDMSamples
from ngramsim.sources import NGramLanguage
from ngramsim.transfer import ser_autoregressive

__all__ = ["language_info", "information_summary", "exact_report", "sample_report"]


def language_info(language: NGramLanguage) -> dict:
    """A JSON-ready summary of ``language`` with the provenance keys.

    Keys: ``vocab_size``, ``order``, ``num_contexts``, ``irreducible``,
    ``unique_stationary``, ``num_recurrent_classes``, ``stationary_context``
    and ``stationary_token`` (the unique stationary law of the context chain
    and its token marginal; when the law is not unique, a list of laws, one per
    recurrent class), ``initial_is_stationary``, ``entropy_rate`` (nats per
    token under the given ``mu``), and the provenance keys.
    """
    check_language(language)
    unique = language.has_unique_stationary
    laws = language.stationary_laws
    tokens = language.stationary_token_laws
    return {
        "vocab_size": language.vocab_size,
        "order": language.order,
        "num_contexts": language.num_contexts,
        "irreducible": language.is_irreducible,
        "unique_stationary": unique,
        "num_recurrent_classes": len(laws),
        "stationary_context": laws[0] if unique else laws,
        "stationary_token": tokens[0] if unique else tokens,
        "initial_is_stationary": language.is_stationary,
        "entropy_rate": language.entropy_rate(),
        **provenance(language),
    }


def information_summary(language, length, *, num_samples=200, rng=0, progress=False) -> dict:
    """``tc``, ``dtc``, ``sum_mi``, ``phi`` (list from ``k = 0``) with ``*_stderr``, ``*_method`` and
    ``*_num_samples`` keys (0 samples when exact); ``num_samples`` is the Monte Carlo sample count
    when any value is a Monte Carlo estimate (docs/formats.md), else 0.  ``progress``: a bar for ``Phi``
    on stderr when it is a terminal."""
    tc = total_correlation(language, length)
    dtc = dual_total_correlation(language, length, num_samples=num_samples, rng=rng)
    phi, phi_err, phi_method = phi_curve(language, length, num_samples=num_samples, rng=rng, progress=progress)
    mc = int(num_samples)
    phi_samples = mc if phi_method == "monte_carlo" else 0
    return {
        "tc": tc.value,
        "tc_stderr": tc.stderr,
        "tc_method": tc.method,
        "dtc": dtc.value,
        "dtc_stderr": dtc.stderr,
        "dtc_method": dtc.method,
        "dtc_num_samples": dtc.num_samples,
        "sum_mi": tc.value + dtc.value,
        "sum_mi_stderr": dtc.stderr,
        "sum_mi_method": dtc.method,  # TC is always exact
        "sum_mi_num_samples": dtc.num_samples,
        "phi": phi.tolist(),
        "phi_stderr": phi_err.tolist(),
        "phi_method": phi_method,
        "phi_num_samples": phi_samples,
        "num_samples": max(dtc.num_samples, phi_samples),
    }


def exact_report(language: NGramLanguage, result: ExactResult, *, distribution: bool = False) -> dict:
    """What ``ngramsim exact --json`` prints: the metrics, the B1 ``steps`` and provenance.

    ``kl`` is ``KL(q || p)`` of the sampler's (mixture) law, ``kl_expected`` the sum of the
    ``steps`` (``E KL(q || p_sigma)``); B3: ``kl <= kl_expected``.  With ``distribution``,
    ``p`` over ``V^L`` in lexicographic C order.
    """
    report = {
        "ser": result.ser,
        "kl": result.kl,
        "kl_expected": result.kl_expected,
        "model_log_ppl": result.model_log_ppl,
        "gen_log_ppl": result.gen_log_ppl,
        "gen_log_ppl_valid": result.gen_log_ppl_valid,
        "learning_kl_mean": result.learning_kl_mean,
        "learning_kl_max": result.learning_kl_max,
        "entropy_per_token": language.entropy(result.length) / result.length,
        "num_steps": len(result.steps_tc),
        "steps": result.steps,
        "length": result.length,
        "learning_error": result.learning_error,
        "temperature": result.temperature,
        **provenance(language, schedule=result.schedule),
    }
    if distribution:
        report["distribution"] = result.distribution
    return report


def sample_report(language: NGramLanguage, result: MDMSamples) -> dict:
    """:func:`summarize_samples` plus the ``ar`` baseline and SPEC §3 provenance (what ``ngramsim sample --json`` prints).

    The baseline is exact: ``ar_nfe = L`` and ``ar_ser``, the SER of one token per
    step left to right with the same learning error and temperature (transfer matrix).

    Every quality figure thus comes with its cost beside the cost of an
    autoregressive model (SPEC §2: one NFE per step; Feng et al. 2025,
    arXiv:2502.09622, on the efficiency of fewer steps).

    Parameters
    ----------
    language : NGramLanguage
    result : MDMSamples

    Returns
    -------
    dict
        The keys of :func:`summarize_samples`, plus ``ar_nfe``, ``ar_ser``
        (:func:`~ngramsim.transfer.ser_autoregressive`), ``kernel`` and the provenance
        keys ``version``, ``language_name``, ``language_sha256``, ``seed``, ``schedule``.

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage` or ``result`` not
        :class:`MDMSamples`.

    Examples
    --------
    >>> from ngramsim import sample_mdm, sample_report, window_language
    >>> lang = window_language(4, 2)
    >>> report = sample_report(lang, sample_mdm(lang, 6, "uniform:2", 100, rng=0, learning_error=0.1))
    >>> report["nfe_max"], report["ar_nfe"], report["seed"], report["schedule"]
    (2, 6, 0, 'uniform:2')
    >>> round(report["ar_ser"], 6)  # 1 - (1 - 0.1 * 2/4)^5
    0.226219
    """
    summary = summarize_samples(language, result)
    summary["ar_nfe"] = result.length
    summary["ar_ser"] = ser_autoregressive(
        language, result.length, learning_error=result.learning_error, temperature=result.temperature
    )
    summary["kernel"] = result.kernel
    summary.update(provenance(language, seed=result.seed, schedule=result.schedule))
    return summary
