"""The ``ngramsim`` command line.

Subcommands call library functions and hold no logic.  Exit codes: 0 on
success; 1 when a checked bound is violated (``check``) or cells of a sweep
failed after their retries (``reproduce``, which lists them on stderr and in
``report.md``); 2 on usage errors (unknown options, bad values, unreadable or
malformed files, a missing optional dependency), reported as one line on
stderr (``--debug`` shows the traceback); 130 when interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import math
import sys

from ngramsim._json import dumps_strict, to_jsonable
from ngramsim._version import __version__
from ngramsim.families import cycle_language, dirichlet_language, uniform_language, window_language
from ngramsim.exact import exact_law
from ngramsim.io import check_output_path, read_language, write_language, write_npy_atomic
from ngramsim.reports import exact_report, information_summary, language_info, sample_report
from ngramsim.sampler import sample_mdm
from ngramsim.schedules import SCHEDULE_GRAMMAR
from ngramsim.sparse import SparseLanguage, sparse_sample_report

__all__ = ["main"]


class UsageError(Exception):
    """A command-line usage error: exit status 2, one line on stderr."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line and never exit by themselves."""

    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message}")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help with each option's default (when it has a meaningful one), and examples kept as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def _command(sub, name, help_text, example):
    return sub.add_parser(name, help=help_text, description=help_text, epilog=f"example:\n  {example}",
                          formatter_class=_Formatter)


def _add_language_commands(sub):
    lang = sub.add_parser("language", help="write a language file (JSON; docs/formats.md)", formatter_class=_Formatter)
    kinds = lang.add_subparsers(dest="family", required=True, metavar="FAMILY")

    p = _command(kinds, "window", "cyclic window language W(V, m) (claim C1), mu uniform",
                 "ngramsim language window --vocab-size 8 --window 2 --out w.json")
    p.add_argument("--vocab-size", type=int, required=True, metavar="V", help="vocabulary size V >= 2")
    p.add_argument("--window", type=int, required=True, metavar="m", help="window m, 1 <= m < V")
    p.add_argument("--out", required=True, metavar="FILE", help="language file to write")

    p = _command(kinds, "dirichlet", "random language: each row of P from a symmetric Dirichlet",
                 "ngramsim language dirichlet --vocab-size 8 --order 3 --forbidden 0.5 --seed 1 --out d.json")
    p.add_argument("--vocab-size", type=int, required=True, metavar="V", help="vocabulary size V >= 2")
    p.add_argument("--order", type=int, required=True, metavar="n", help="order n >= 1 (contexts of n-1 tokens)")
    p.add_argument("--concentration", type=float, default=1.0, metavar="a", help="Dirichlet parameter a > 0")
    p.add_argument("--forbidden", type=float, default=0.0, metavar="f",
                   help="probability that a transition is forbidden, 0 <= f < 1")
    p.add_argument("--seed", type=int, required=True, metavar="S", help="seed of the draws")
    p.add_argument("--out", required=True, metavar="FILE", help="language file to write")

    p = _command(kinds, "uniform", "iid uniform tokens as an order-n language",
                 "ngramsim language uniform --vocab-size 4 --order 2 --out u.json")
    p.add_argument("--vocab-size", type=int, required=True, metavar="V", help="vocabulary size V >= 2")
    p.add_argument("--order", type=int, required=True, metavar="n", help="order n >= 1")
    p.add_argument("--out", required=True, metavar="FILE", help="language file to write")

    p = _command(kinds, "fit", "fit an n-gram language to a text corpus (counts, smoothing, mu from the corpus)",
                 "ngramsim language fit --corpus text.txt --order 3 --smoothing interp --out t.json")
    p.add_argument("--corpus", required=True, metavar="FILE", help="the text (UTF-8 unless --tokenizer bytes)")
    p.add_argument("--order", type=int, required=True, metavar="n", help="order n >= 1")
    p.add_argument("--tokenizer", choices=("char", "bytes", "whitespace"), default="char", help="how to split the text")
    p.add_argument("--smoothing", default="add-k:0.5", metavar="SPEC", help="add-k:K, interp (Witten-Bell) or none")
    p.add_argument("--top-k", type=int, default=None, metavar="K", help="keep each row's K largest entries (order 2 beyond the dense limit: a sparse language file)")
    p.add_argument("--teleport", type=float, default=0.0, metavar="EPS",
                   help="mix in EPS times the unigram law, 0 <= EPS < 1")
    p.add_argument("--out", required=True, metavar="FILE", help="language file to write (vocabulary in meta)")

    p = _command(kinds, "cycle", "deterministic cycle x_{i+1} = x_i + 1 mod V",
                 "ngramsim language cycle --vocab-size 5 --out c.json")
    p.add_argument("--vocab-size", type=int, required=True, metavar="V", help="vocabulary size V >= 2")
    p.add_argument("--out", required=True, metavar="FILE", help="language file to write")


def _build_parser() -> _Parser:
    parser = _Parser(prog="ngramsim", description="Theory-verification simulator for masked diffusion LMs.",
                     epilog="exit status: 0 success, 1 a checked bound failed (check) or cells failed (reproduce), "
                            "2 usage error or size limit, "
                            "130 interrupted", formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"ngramsim {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_language_commands(sub)
    p = _command(sub, "info", "summarise a language file (add --length for TC, DTC and Phi)",
                 "ngramsim info --language w.json --length 64 --json")
    p.add_argument("--language", required=True, metavar="FILE", help="language file (JSON; docs/formats.md)")
    p.add_argument("--length", type=int, metavar="L", help="add tc, dtc, sum_mi and phi at this length")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of Monte Carlo estimates (when not exact)")
    p.add_argument("--num-samples", type=int, default=200, metavar="M", help="Monte Carlo samples (when not exact)")
    p.add_argument("--json", action="store_true", help="print strict JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr (shown only on a terminal)")

    p = _command(sub, "exact", "the sampler's exact law, KL, SER and B1 decomposition (tiny cases)",
                 "ngramsim exact --language w.json --length 6 --schedule uniform:2 --json")
    p.add_argument("--language", required=True, metavar="FILE", help="language file (JSON; docs/formats.md)")
    p.add_argument("--length", type=int, required=True, metavar="L", help="sequence length ((V+1)^L <= 2^23)")
    p.add_argument("--schedule", required=True, metavar="SPEC", help=SCHEDULE_GRAMMAR)
    p.add_argument("--learning-error", type=float, default=0.0, metavar="LAMBDA", help="learning error 0 <= lambda < 1")
    p.add_argument("--temperature", type=float, default=1.0, metavar="TAU", help="temperature tau > 0")
    p.add_argument("--json", action="store_true", help="print strict JSON")
    p.add_argument("--distribution", action="store_true", help="add p over V^L (lexicographic C order)")

    p = _command(sub, "sample", "sample the idealised MDM and report SER, perplexities, NFEs",
                 "ngramsim sample --language w.json --length 256 --schedule uniform:16 --num-samples 1000 --seed 0")
    p.add_argument("--language", required=True, metavar="FILE", help="language file (JSON; docs/formats.md)")
    p.add_argument("--length", type=int, required=True, metavar="L", help="sequence length")
    p.add_argument("--schedule", required=True, metavar="SPEC", help=SCHEDULE_GRAMMAR)
    p.add_argument("--num-samples", type=int, required=True, metavar="M", help="number of sequences")
    p.add_argument("--seed", type=int, required=True, metavar="S", help="seed (the same seed gives the same samples)")
    p.add_argument("--learning-error", type=float, default=0.0, metavar="LAMBDA", help="learning error 0 <= lambda < 1")
    p.add_argument("--temperature", type=float, default=1.0, metavar="TAU", help="temperature tau > 0")
    p.add_argument("--out", metavar="FILE.npy", help="write the samples as int64 (M, L)")
    p.add_argument("--decode", action="store_true",
                   help="print the samples as text (languages fitted to a corpus: meta.vocabulary)")
    p.add_argument("--json", action="store_true", help="print strict JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr (shown only on a terminal)")

    p = _command(sub, "reproduce", "the paper's headline results: records, figures and a report (resumable)",
                 "ngramsim reproduce --jobs 2")
    p.add_argument("--profile", choices=("tiny", "quick", "full"), default="quick",
                   help="tiny: seconds (tests); quick: L up to 1024, minutes on two cores; full: L up to 16384")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default: ./ngramsim-reproduction)")
    p.add_argument("--jobs", type=int, default=None, metavar="K",
                   help="worker processes (default 1; with --scheduler local, the cluster's workers, default 2); "
                        "results do not depend on it")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="root seed of every cell")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the cells on a Dask cluster: a running scheduler's address (tcp://host:8786), or "
                        "'local' to start one on this machine with --jobs workers (needs ngramsim[distributed])")
    p.add_argument("--retries", type=int, default=2, metavar="R",
                   help="run a failed cell (error, dead worker) up to R more times (default 2)")

    p = _command(sub, "check", "hold every bound of the theory (docs/theory.md) against the simulator (exit 1 if one fails)",
                 "ngramsim check --quick --json")
    p.add_argument("--quick", action="store_true", help="a smaller grid (seconds)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the random languages and Monte Carlo")
    p.add_argument("--json", action="store_true", help="print strict JSON")
    return parser


def _cmd_language(args) -> int:
    check_output_path(args.out)  # before any work: an unwritable --out is reported at once
    if args.family == "window":
        language = window_language(args.vocab_size, args.window)
    elif args.family == "dirichlet":
        language = dirichlet_language(
            args.vocab_size, args.order, concentration=args.concentration, forbidden=args.forbidden, rng=args.seed
        )
    elif args.family == "uniform":
        language = uniform_language(args.vocab_size, args.order)
    elif args.family == "fit":
        from pathlib import Path

        from ngramsim.corpus import fit_language

        language = fit_language(Path(args.corpus), args.order, tokenizer=args.tokenizer, smoothing=args.smoothing,
                                top_k=args.top_k, teleport=args.teleport)
    else:
        language = cycle_language(args.vocab_size)
    write_language(language, args.out)
    print(f"wrote {args.out}: {language.name} (vocab_size={language.vocab_size}, order={language.order})")
    return 0


def _cmd_info(args) -> int:
    language = read_language(args.language)
    info = language_info(language)
    if args.length is not None:
        info.update(information_summary(language, args.length, num_samples=args.num_samples, rng=args.seed,
                                        progress=not args.quiet))
        info["length"] = args.length
        if "monte_carlo" in (info["dtc_method"], info["phi_method"]):
            info["seed"] = args.seed
    if args.json:
        print(dumps_strict(info))
        return 0
    width = max(len(k) for k in info)
    for key, value in to_jsonable(info).items():
        print(f"{key:<{width}}  {_summary(value)}")
    return 0


def _summary(value, head=6) -> str:
    """A one-line rendering: long lists show their first entries and their length."""
    if isinstance(value, list) and len(value) > head:
        shown = ", ".join(_summary(v, head) for v in value[:head])
        return f"[{shown}, ...] ({len(value)} values)"
    if isinstance(value, list):
        return "[" + ", ".join(_summary(v, head) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _cmd_sample(args) -> int:
    language = read_language(args.language)
    if args.out:
        check_output_path(args.out)
    vocabulary = language.meta.get("vocabulary")
    if args.decode and (not isinstance(vocabulary, list | tuple) or len(vocabulary) != language.vocab_size
                        or not all(isinstance(t, str) for t in vocabulary)):
        raise UsageError("ngramsim sample: error: --decode needs meta.vocabulary, a list of vocab_size token strings "
                         "(languages from `ngramsim language fit` have one)")
    result = sample_mdm(
        language,
        args.length,
        args.schedule,
        args.num_samples,
        rng=args.seed,
        learning_error=args.learning_error,
        temperature=args.temperature,
        progress=not args.quiet,
    )
    if args.out:
        write_npy_atomic(args.out, result.samples)
    if isinstance(language, SparseLanguage):
        report = sparse_sample_report(language, result)
    else:
        report = sample_report(language, result)
    if args.decode:
        from ngramsim.corpus import decode_tokens

        tokenizer = language.meta.get("tokenizer", "char")
        texts = [decode_tokens(x, vocabulary, tokenizer) for x in result.samples]
        if args.json:
            report["decoded"] = texts
        else:
            for text in texts:
                print(text)
            return 0
    if args.json:
        print(dumps_strict(report))
    elif not args.out:
        low, high = report["ser_interval"]
        print(f"{language.name or args.language}: L={args.length}, schedule {report['schedule']}, M={args.num_samples}")
        print(f"  SER                {report['ser']:.4g}  (95% CI {low:.4g} .. {high:.4g}; ar: {report['ar_ser']:.4g})")
        print(f"  gen_log_ppl        {report['gen_log_ppl']:.6g} +- {report['gen_log_ppl_stderr']:.2g}")
        print(f"  gen_log_ppl_valid  {report['gen_log_ppl_valid']:.6g} +- {report['gen_log_ppl_valid_stderr']:.2g}")
        print(f"  NFE                {report['nfe_mean']:.6g}  (ar: {report['ar_nfe']})")
        print(f"  learning KL        mean {report['learning_kl_mean']:.4g}, max {report['learning_kl_max']:.4g}")
    return 0


def _cmd_exact(args) -> int:
    language = read_language(args.language)
    result = exact_law(
        language, args.length, args.schedule, learning_error=args.learning_error, temperature=args.temperature
    )
    report = exact_report(language, result, distribution=args.distribution)
    if args.json:
        print(dumps_strict(report))
        return 0
    print(f"{language.name or args.language}: L={args.length}, schedule {report['schedule']} (exact)")
    for key in ("ser", "kl", "kl_expected", "model_log_ppl", "gen_log_ppl", "gen_log_ppl_valid", "learning_kl_mean", "learning_kl_max"):
        print(f"  {key:<18} {report[key]:.6g}")
    for t, step in enumerate(report["steps"], start=1):
        print(f"  step {t:>3}: tc {step['tc']:.6g}  learning_kl {step['learning_kl']:.6g}")
    if args.distribution:
        print("  distribution " + dumps_strict(report["distribution"]))
    return 0


def _check_output_dir(path) -> None:
    """An output directory: an existing writable directory, or a new one in an existing writable directory."""
    import os
    from pathlib import Path

    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise NotADirectoryError(f"--out {path}: exists and is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"--out {path}: directory is not writable")
        return
    parent = path.absolute().parent
    if not parent.is_dir():
        raise FileNotFoundError(f"--out {path}: directory {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"--out {path}: directory {parent} is not writable")


def _cmd_reproduce(args) -> int:
    from ngramsim.reproduce import DEFAULT_OUT, reproduce
    from ngramsim.sweep import SweepError

    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"ngramsim reproduce: error: --jobs must be >= 1, got {args.jobs}")
    if args.retries < 0:
        raise UsageError(f"ngramsim reproduce: error: --retries must be >= 0, got {args.retries}")
    if args.scheduler is not None:
        from ngramsim.distributed import require_distributed

        try:
            require_distributed()
        except ImportError as exc:
            raise UsageError(f"ngramsim reproduce: error: --scheduler needs Dask: {exc}") from None
    out = args.out or DEFAULT_OUT
    _check_output_dir(out)
    try:
        result = reproduce(args.profile, out, jobs=args.jobs, seed=args.seed, progress=not args.quiet and "auto",
                           scheduler=args.scheduler, retries=args.retries)
    except SweepError as exc:
        print(f"ngramsim reproduce: {len(exc.failures)} of {exc.num_cells} cells failed (listed in {out}/report.md); "
              "the others are saved, and rerunning the same command retries the failed ones:", file=sys.stderr)
        for failure in exc.failures:
            print(f"  {' '.join(str(failure).split())}", file=sys.stderr)
        return 1
    from ngramsim.report import claim_checks

    checks = claim_checks(result["records"])
    print(f"wrote {result['report']} ({len(result['records'])} records in {out}/results.jsonl, "
          f"{len(result['figures'])} figures in {out}/figures) in {result['wall_time']:.0f} s")
    for c in checks:
        print(f"  {'holds' if c['holds'] else 'FAILS'}  {c['claim']}: {c['measured']}")
    return 0


def _cmd_check(args) -> int:
    from ngramsim.checks import check_records, run_checks

    records = run_checks(quick=args.quick, rng=args.seed)
    failed = sum(not r.holds for r in records)
    if args.json:
        print(dumps_strict({
            "bounds": check_records(records),
            "num_checks": len(records),
            "num_failed": failed,
            "quick": args.quick,
            "seed": args.seed,
            "version": __version__,
        }))
    else:
        print(f"{'bound':<44} {'language':<28} {'L':>5} {'schedule':<12} {'bound':>10} {'observed':>10} {'slack':>10}  holds")
        for r in records:
            d = r.details
            print(f"{r.name[:44]:<44} {d['language_name'][:28]:<28} {d['length']:>5} {d['schedule'][:12]:<12} "
                  f"{r.bound:>10.4g} {r.observed:>10.4g} {r.slack:>10.3g}  {'yes' if r.holds else 'NO'}")
        worst = {}
        for r in records:
            key = r.name.split(" ")[0]
            worst[key] = min(worst.get(key, math.inf), r.slack)
        print(f"{len(records)} checks, {failed} failed; worst slack per statement: "
              + ", ".join(f"{k} {v:.3g}" for k, v in worst.items()))
    return 1 if failed else 0


_COMMANDS = {"language": _cmd_language, "info": _cmd_info, "sample": _cmd_sample, "exact": _cmd_exact,
             "check": _cmd_check, "reproduce": _cmd_reproduce}


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = _build_parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ngramsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `ngramsim ... | head`: the reader left; exit quietly (and keep Python from complaining at exit).
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except MemoryError:
        if debug:
            raise
        print("ngramsim: error: out of memory; lower --length, --num-samples or the number of steps", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as exc:
        if _interrupted(exc):
            print("ngramsim: interrupted", file=sys.stderr)
            return 130
        if debug:
            raise
        message = str(exc).replace("\n", " ")
        print(f"ngramsim: error: {message}", file=sys.stderr)
        return 2
    except Exception as exc:
        # Ctrl-C inside a library that wraps exceptions (numba while compiling) still means interrupted.
        if not _interrupted(exc):
            raise
        print("ngramsim: interrupted", file=sys.stderr)
        return 130


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was caused, directly or through its chain, by a KeyboardInterrupt."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
