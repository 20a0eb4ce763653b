"""Run ngramsim's benchmarks: ``python -m benchmarks [NAME ...]`` (default: all).

Each benchmark prints its own table, with ratios against a baseline measured
in the same run (machines are noisy; absolute numbers are for orientation).
"""

import argparse
import importlib

BENCHMARKS = ["ancestral", "mdm", "exact", "sparse"]


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", choices=BENCHMARKS + [[]], help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes (smoke test)")
    args = parser.parse_args()
    for name in args.names or BENCHMARKS:
        importlib.import_module(f"benchmarks.{name}").run(quick=args.quick)


if __name__ == "__main__":
    main()
