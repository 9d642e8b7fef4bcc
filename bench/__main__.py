"""Runs the benchmarks named on the command line (all by default), prints their tables, writes JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import thumbnails
from bench.report import Report

# name -> run(runs) -> Report; a new benchmark is a module with a `run` and one line here.
BENCHMARKS: dict[str, Callable[[int], Report]] = {
    "thumbnails": thumbnails.run,
}

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement; the median is kept")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    RESULTS.mkdir(exist_ok=True)
    for name in args.names or list(BENCHMARKS):
        started = time.perf_counter()
        report = BENCHMARKS[name](max(1, args.runs))
        path = RESULTS / f"{name}.json"
        path.write_text(json.dumps(report.data, indent=2, sort_keys=True) + "\n")
        print(report.text)
        print(f"({name}: {time.perf_counter() - started:.0f} s; results in {path})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
