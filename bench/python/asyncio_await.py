#!/usr/bin/env python3
"""The await micro-benchmark of AsyncLens.Bench, in Python asyncio.

Two nested coroutines with ``await asyncio.sleep(0)`` at the leaf (one real suspension and
resumption through the event loop per iteration), looped as ``await mid()``. Run with
``--mode off`` (``asyncio.run(main())``) or ``--mode on`` (``asyncio.run(main(), debug=True)``).
Prints one line ``RESULT workload=await-python mode=... best_us=... median_us=...``.

Debug mode logs callbacks slower than ``loop.slow_callback_duration`` (100 ms) through the
``asyncio`` logger; a hiccup of the machine would then print a warning inside a timed round.
So the threshold is raised and the logger silenced, while everything else debug mode does
(coroutine origin tracking, source tracebacks of every handle, thread checks) stays on.
"""

import argparse
import asyncio
import logging
import statistics
import sys
import time


async def leaf():
    await asyncio.sleep(0)


async def mid():
    await leaf()


async def loop(iterations):
    for _ in range(iterations):
        await mid()


async def main(args, debug):
    if asyncio.get_running_loop().get_debug() != debug:
        raise SystemExit(f"asyncio debug mode is {asyncio.get_running_loop().get_debug()}, expected {debug}")
    if debug:
        asyncio.get_running_loop().slow_callback_duration = 3600.0

    # Warm-up doubles as calibration: a round is sized to last about --round-ms.
    done = 0
    chunk = 1_000
    start = time.perf_counter_ns()
    while time.perf_counter_ns() - start < args.warmup_ms * 1_000_000:
        await loop(chunk)
        done += chunk
    warmup_us = (time.perf_counter_ns() - start) / 1_000 / done
    iterations = max(1_000, int(args.round_ms * 1_000 / warmup_us))

    per_iteration = []
    for _ in range(args.rounds):
        start = time.perf_counter_ns()
        await loop(iterations)
        per_iteration.append((time.perf_counter_ns() - start) / 1_000 / iterations)
    return per_iteration, iterations


def run():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["off", "on"], required=True)
    parser.add_argument("--warmup-ms", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--round-ms", type=int, default=150)
    args = parser.parse_args()

    debug = args.mode == "on"
    if debug:
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    per_iteration, iterations = asyncio.run(main(args, debug), debug=debug)
    print(
        f"RESULT workload=await-python mode={args.mode} best_us={min(per_iteration):.3f} "
        f"median_us={statistics.median(per_iteration):.3f} rounds={args.rounds} iterations={iterations} "
        f"python={sys.version.split()[0]}"
    )


if __name__ == "__main__":
    run()
