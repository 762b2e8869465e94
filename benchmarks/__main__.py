"""`python -m benchmarks [--only NAME] [--quick] [--out FILE] [--peers DIR]`."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import burst, footprint, replicas, round_trips, taps, webhook
from benchmarks.context import REPO, RunContext
from benchmarks.figures import BenchmarkFailure, Figure, print_table, write_json_lines

Benchmark = Callable[[RunContext], Coroutine[Any, Any, list[Figure]]]
BENCHMARKS: dict[str, Benchmark] = {
    "webhook": webhook.run,
    "taps": taps.run,
    "burst": burst.run,
    "footprint": footprint.run,
    "webhook-pg": replicas.run_webhook,
    "burst-pg": replicas.run_burst,
    "round-trips-pg": round_trips.run,
}


def main() -> int:
    options = _parser().parse_args()
    peers = options.peers if (options.peers / "loadgen" / "gen.py").exists() else None
    if peers is None:
        print(f"note: no peer scripts in {options.peers}; the webhook benchmark is skipped")
    started = datetime.now(UTC)
    out = options.out or REPO / "benchmarks" / "results" / f"{started:%Y%m%dT%H%M%SZ}.jsonl"
    names = options.only or list(BENCHMARKS)
    figures: list[Figure] = []
    failures: list[str] = []
    clock = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="checkout-bot-bench-") as scratch:
        context = RunContext(quick=options.quick, peers=peers, scratch=Path(scratch))
        for name in names:
            if name == "webhook" and peers is None:
                figures.append(Figure(name, "all figures", None, "", note="no peer scripts"))
                continue
            # The previous benchmark's files may still be on their way to the disk: a COMMIT's
            # fsync measured now would wait behind them (the tap p99 after the webhook's
            # 40,000 orders went from 11 to 25-60 ms).
            os.sync()
            print(f"running {name}…", flush=True)
            try:
                figures += asyncio.run(BENCHMARKS[name](context))
            except BenchmarkFailure as exc:
                failures.append(f"{name}: {exc}")
                figures.append(Figure(name, "FAILED", None, "", note=str(exc).splitlines()[0]))
            except Exception:
                failures.append(f"{name}: crashed\n{traceback.format_exc()}")
                figures.append(Figure(name, "FAILED", None, "", note="crashed, see above"))
    elapsed = time.monotonic() - clock
    print()
    print_table(figures, sys.stdout)
    write_json_lines(figures, out, _context(started, options.quick, elapsed))
    print(f"\n{len(figures)} figures in {elapsed:.0f} s, written to {out}")
    for failure in failures:
        print(f"\nFAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="smaller loads, for a smoke run")
    parser.add_argument("--out", type=Path, help="JSON lines file (default benchmarks/results/)")
    parser.add_argument(
        "--peers",
        type=Path,
        default=REPO.parent / "shared" / "peers",
        help="the shared peer scripts (default ../shared/peers)",
    )
    return parser  # fmt: skip


def _context(started: datetime, quick: bool, elapsed: float) -> dict[str, object]:
    return {
        "run": started.isoformat(timespec="seconds"),
        "quick": quick,
        "run_seconds": round(elapsed, 1),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


sys.exit(main())
