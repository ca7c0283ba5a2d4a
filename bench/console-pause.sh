#!/usr/bin/env bash
# What each console command pauses the app for, at 1,000 and 100,000 pending tasks.
#
#   bench/console-pause.sh [REPETITIONS]
#
# Builds tests/Targets/Jobs and the CLI in Release, then for each size starts Jobs with its console on
# (ASYNCLENS_CONSOLE=1 and the startup hook, no debug mode; a bill whose charge is declined, for ps-terminated) parking N requests (each a chain of two async methods:
# N=500 -> ~1,000 pending tasks, N=50,000 -> ~100,000), with a probe thread of its own that sleeps 1 ms at a
# time and keeps the longest it overslept. Each command runs REPETITIONS times (default 5) through
# `asynclens console PID ...`; the table shows, per command, the median of the probe's longest stall during
# the command (what the app's threads felt: the registry copy, garbage collections, CPU taken by the agent),
# the same for an idle stretch of the same length (the machine's own noise), and the command's wall time as
# the client saw it. Needs the .NET SDK and python3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
parse_reps "" "${1:-}"
require_tools "it drives the runs"
unset_debug_env ASYNCLENS_CONSOLE

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-console-pause.XXXXXX")"
echo "building tests/Targets/Jobs and the CLI (Release)..." >&2
build_release "$logs/build.log" "$root/tests/Targets/Jobs/Jobs.csproj" "$root/src/AsyncLens.Cli/AsyncLens.Cli.csproj"

python3 -B - "$root" "$reps" <<'PY'
import os, statistics, subprocess, sys, time

root, reps = sys.argv[1], int(sys.argv[2])
bins = os.path.join(root, "artifacts", "bin")
jobs = os.path.join(bins, "Jobs", "release", "Jobs.dll")
cli = os.path.join(bins, "AsyncLens.Cli", "release", "asynclens.dll")
engine = os.path.join(bins, "AsyncLens", "release", "AsyncLens.Engine.dll")

def run(size):
    env = dict(os.environ, DOTNET_STARTUP_HOOKS=engine, ASYNCLENS_CONSOLE="1")
    app = subprocess.Popen(["dotnet", jobs, "probe", "bill", "flood", str(size)], env=env, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    pid = None
    while pid is None:
        line = app.stdout.readline()
        if not line:
            sys.exit("Jobs ended before it was ready")
        if line.startswith("ready "):
            pid = line.split()[1]

    def gap():
        app.stdin.write("gap\n")
        app.stdin.flush()
        return float(app.stdout.readline().split()[1])

    def console(*args):
        return subprocess.run(["dotnet", cli, "console", pid, *args], capture_output=True, text=True)

    # Warm up (the agent's first snapshot compiles its readers), find a task id for where and cancel.
    console("ps")
    ps = console("ps", "--filter", "LoadAsync").stdout.splitlines()
    load_id = ps[4].split()[0]
    wait = [l for l in console("ps", "--filter", "WaitForRelease").stdout.splitlines()][4].split()[0]
    pending = console("ps").stdout.splitlines()[0].split()[1]
    # Ended work for ps-terminated and where-terminated: the bill's charge, pending past a sweep, declined (it faults, the
    # bill catches it and says so).
    time.sleep(1.5)
    app.stdin.write("decline\n")
    app.stdin.flush()
    while not app.stdout.readline().startswith("bill:"):
        pass
    ended = None
    for _ in range(50):
        rows = console("ps-terminated").stdout.splitlines()
        ended = next((r.split()[0] for r in rows[3:] if "ChargeAsync" in r), None)
        if ended:
            break
        time.sleep(0.2)
    if ended is None:
        sys.exit("the declined charge never reached ps-terminated")
    commands = [("ps", ["ps"]), ("ps --filter Wait", ["ps", "--filter", "WaitForRelease"]),
                ("ps --sort method", ["ps", "--sort", "method"]), ("where ID", ["where", load_id]),
                ("cancel ID (refused)", ["cancel", wait]), ("threads", ["threads"]), ("pool", ["pool"]),
                ("requests", ["requests"]), ("ps-terminated", ["ps-terminated"]), ("where-terminated ID", ["where-terminated", ended]),
                ("help", ["help"])]
    rows = []
    for name, args in commands:
        stalls, idles, walls = [], [], []
        for _ in range(reps):
            time.sleep(0.3)
            gap()
            start = time.monotonic()
            result = console(*args)
            wall = time.monotonic() - start
            stalls.append(gap())
            walls.append(wall)
            time.sleep(wall)
            idles.append(gap())
            if result.returncode not in (0, 1):
                sys.exit(f"{name}: exit {result.returncode}: {result.stderr}")
        rows.append((name, statistics.median(stalls), max(stalls), statistics.median(idles), statistics.median(walls)))
    app.stdin.write("\n")
    app.stdin.close()
    app.wait()
    return pending, rows

print()
for size in (500, 50000):
    pending, rows = run(size)
    print(f"Jobs flood {size}: {pending} pending tasks; {reps} runs of each command (medians; stall = longest time the app's probe thread was held up)")
    print(f"  {'command':24} {'stall ms':>9} {'max':>7} {'idle ms':>8} {'client wall s':>14}")
    for name, stall, worst, idle, wall in rows:
        print(f"  {name:24} {stall:9.1f} {worst:7.1f} {idle:8.1f} {wall:14.2f}")
    print()
PY
