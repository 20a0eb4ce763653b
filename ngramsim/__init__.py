"""ngramsim: a theory-verification simulator for masked diffusion language models on n-gram languages.

The mathematics (notation, definitions, the sampler's semantics, file formats)
is documented in the repository's docs/ (notation.md, sampler.md, formats.md,
theory.md); the public names are re-exported here.
"""

from ngramsim._version import __version__
from ngramsim.families import (
    cycle_language,
    dirichlet_language,
    noisy_copy_language,
    noisy_parity_language,
    uniform_language,
    window_language,
)
from ngramsim.io import (
    LanguageFormatError,
    language_from_dict,
    language_sha256,
    language_to_dict,
    read_language,
    write_language,
)
from ngramsim.corpus import decode_tokens, fit_language
from ngramsim.decomposition import estimate_b1, expected_kl
from ngramsim.exact import ExactResult, exact_law
from ngramsim.information import (
    conditional_entropy,
    dual_total_correlation,
    phi_curve,
    subset_entropy,
    sum_mutual_information,
    total_correlation,
)
from ngramsim.marginals import ExactOracle, conditional_marginals
from ngramsim.metrics import summarize_samples, wilson_interval
from ngramsim.peer_metrics import peer_metrics
from ngramsim.sparse import SparseLanguage
from ngramsim.reports import sample_report
from ngramsim.provenance import provenance
from ngramsim.sampler import MDMSamples, sample_mdm
from ngramsim.schedules import Schedule, parse_schedule
from ngramsim.sources import NGramLanguage
from ngramsim.transfer import ser_autoregressive, ser_one_step

__all__ = [
    "__version__",
    "NGramLanguage",
    "window_language",
    "dirichlet_language",
    "uniform_language",
    "cycle_language",
    "noisy_copy_language",
    "noisy_parity_language",
    "fit_language",
    "decode_tokens",
    "LanguageFormatError",
    "language_from_dict",
    "language_to_dict",
    "language_sha256",
    "read_language",
    "write_language",
    "provenance",
    "conditional_marginals",
    "ExactOracle",
    "Schedule",
    "parse_schedule",
    "sample_mdm",
    "MDMSamples",
    "summarize_samples",
    "peer_metrics",
    "SparseLanguage",
    "sample_report",
    "wilson_interval",
    "ser_one_step",
    "ser_autoregressive",
    "exact_law",
    "ExactResult",
    "expected_kl",
    "estimate_b1",
    "subset_entropy",
    "conditional_entropy",
    "total_correlation",
    "dual_total_correlation",
    "sum_mutual_information",
    "phi_curve",
]
