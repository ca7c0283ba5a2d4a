#!/usr/bin/env python3
"""The await micro-benchmark of AsyncLens.Bench, in Python asyncio.

Two nested coroutines with ``await asyncio.sleep(0)`` at the leaf (one real suspension and
resumption through the event loop per iteration), looped as ``await mid()``. Run with
``--mode off`` (``asyncio.run(main())``), ``--mode on`` (``asyncio.run(main(), debug=True)``) or
``--mode yappi`` (yappi in wall-clock mode, started before the loop and stopped after it: the
profiler the chapter uses for asyncio). ``--workload work`` is AsyncLens.Bench's ``work`` shape instead:
three coroutines, two suspensions and SHA-256 of 16 KB in three steps per ``await request()``.
Prints one line ``RESULT workload=await-python mode=... best_us=... median_us=...``.

Debug mode logs callbacks slower than ``loop.slow_callback_duration`` (100 ms) through the
``asyncio`` logger; a hiccup of the machine would then print a warning inside a timed round.
So the threshold is raised and the logger silenced, while everything else debug mode does
(coroutine origin tracking, source tracebacks of every handle, thread checks) stays on.
"""

import argparse
import asyncio
import hashlib
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


PAYLOAD = bytes(16 * 1024)


async def request():
    await parse()
    hashlib.sha256(PAYLOAD).digest()
    await store()


async def parse():
    await asyncio.sleep(0)
    hashlib.sha256(PAYLOAD).digest()


async def store():
    await asyncio.sleep(0)
    hashlib.sha256(PAYLOAD).digest()


async def work_loop(iterations):
    for _ in range(iterations):
        await request()


async def main(args, debug):
    if asyncio.get_running_loop().get_debug() != debug:
        raise SystemExit(f"asyncio debug mode is {asyncio.get_running_loop().get_debug()}, expected {debug}")
    if debug:
        asyncio.get_running_loop().slow_callback_duration = 3600.0

    run_loop = work_loop if args.workload == "work" else loop
    # Warm-up doubles as calibration: a round is sized to last about --round-ms.
    done = 0
    chunk = 1_000
    start = time.perf_counter_ns()
    while time.perf_counter_ns() - start < args.warmup_ms * 1_000_000:
        await run_loop(chunk)
        done += chunk
    warmup_us = (time.perf_counter_ns() - start) / 1_000 / done
    iterations = max(1_000, int(args.round_ms * 1_000 / warmup_us))

    per_iteration = []
    for _ in range(args.rounds):
        start = time.perf_counter_ns()
        await run_loop(iterations)
        per_iteration.append((time.perf_counter_ns() - start) / 1_000 / iterations)
    return per_iteration, iterations


def run():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["off", "on", "yappi"], required=True)
    parser.add_argument("--workload", choices=["await", "work"], default="await")
    parser.add_argument("--warmup-ms", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--round-ms", type=int, default=150)
    args = parser.parse_args()

    debug = args.mode == "on"
    if debug:
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    profiled = ""
    if args.mode == "yappi":
        import yappi  # Debian's python3-yappi (for /usr/bin/python3)

        yappi.set_clock_type("wall")
        yappi.start()
    per_iteration, iterations = asyncio.run(main(args, debug), debug=debug)
    if args.mode == "yappi":
        yappi.stop()
        # What yappi counted for the innermost coroutine: it saw every call.
        leaf_name = "store" if args.workload == "work" else "leaf"
        calls = sum(f.ncall for f in yappi.get_func_stats() if f.name == leaf_name)
        profiled = f" profiled_calls={calls}"
    print(
        f"RESULT workload={args.workload}-python mode={args.mode} best_us={min(per_iteration):.3f} "
        f"median_us={statistics.median(per_iteration):.3f} rounds={args.rounds} iterations={iterations} "
        f"python={sys.version.split()[0]}{profiled}"
    )


if __name__ == "__main__":
    run()
