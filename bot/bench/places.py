"""Benchmarks: programs that print figures (never timed tests)."""

from __future__ import annotations

import json
import resource
import statistics
import time
from argparse import Namespace
from pathlib import Path

from dialogs import places

CASES = Path(__file__).resolve().parents[2] / "tests" / "dialogs" / "places_cases.txt"


def _phrasings() -> list[str]:
    if CASES.exists():
        rows = [line.partition(" | ")[2] for line in CASES.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
        if rows:
            return rows
    return [m for m in places.all_municipalities()]


def bench_places(rounds: int) -> dict:
    inputs = _phrasings()
    start = time.perf_counter()
    places.resolve("Kotlje")  # loads the data once
    load_ms = (time.perf_counter() - start) * 1000
    # The first pass sees every phrasing for the first time (typo lookups not yet cached).
    cold: list[float] = []
    for text in inputs:
        t0 = time.perf_counter()
        places.resolve(text)
        cold.append(time.perf_counter() - t0)
    cold.sort()
    samples: list[float] = []
    total_start = time.perf_counter()
    for _ in range(rounds):
        for text in inputs:
            t0 = time.perf_counter()
            places.resolve(text)
            samples.append(time.perf_counter() - t0)
    total = time.perf_counter() - total_start
    samples.sort()
    p99 = samples[int(len(samples) * 0.99) - 1] * 1000
    return {
        "lookups": len(samples), "phrasings": len(inputs), "rounds": rounds,
        "lookups_per_s": round(len(samples) / total, 1),
        "p50_ms": round(statistics.median(samples) * 1000, 4),
        "p99_ms": round(p99, 4), "max_ms": round(samples[-1] * 1000, 4),
        "cold_p99_ms": round(cold[int(len(cold) * 0.99) - 1] * 1000, 4),
        "data_load_ms": round(load_ms, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(what: str, args: Namespace) -> int:
    if what == "places":
        result = bench_places(max(1, args.rounds))
        print(f"place resolver: {result['lookups']} lookups over {result['phrasings']} phrasings")
        print(f"  {result['lookups_per_s']} lookups/s, p50 {result['p50_ms']} ms, "
              f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms "
              f"(first pass, nothing cached: p99 {result['cold_p99_ms']} ms)")
        print(json.dumps(result))
        return 0
    return 2
