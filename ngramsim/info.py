"""Summaries of a language, as printed by ``ngramsim info``."""

from __future__ import annotations

from ngramsim.provenance import provenance
from ngramsim.sources import NGramLanguage

__all__ = ["language_info"]


def language_info(language: NGramLanguage) -> dict:
    """A JSON-ready summary of ``language`` with SPEC §3 provenance keys.

    Keys: ``vocab_size``, ``order``, ``num_contexts``, ``irreducible``,
    ``unique_stationary``, ``num_recurrent_classes``, ``stationary_context``
    and ``stationary_token`` (the unique stationary law of the context chain
    and its token marginal; when the law is not unique, a list of laws, one per
    recurrent class), ``initial_is_stationary``, ``entropy_rate`` (nats per
    token under the given ``mu``), and the provenance keys.
    """
    if not isinstance(language, NGramLanguage):
        raise TypeError(f"language must be an NGramLanguage, got {type(language).__name__}")
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
