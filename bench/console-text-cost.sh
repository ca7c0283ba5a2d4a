#!/usr/bin/env bash
# What ps costs the agent with and without its text table (a request's "text": false, as asynclens top asks).
#
#   bench/console-text-cost.sh [SIZES]     (default 500,5000: Jobs flood N -> about 2N pending tasks)
#
# Builds tests/Targets/Jobs (and the engine) in Release, starts Jobs flood N with its console (the startup hook,
# ASYNCLENS_CONSOLE=1, no debug mode) and asks ps over the socket in alternating blocks of 5, with and without text:
# the CPU the agent's client thread spent per ps (the kernel's count, 10 ms ticks: medians of 8 blocks), the wall
# time per answer and the answer's size. Run it under flock /tmp/asynclens-heavy.lock. Needs the .NET SDK and python3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
require_tools "it drives the runs"
unset_debug_env ASYNCLENS_CONSOLE
logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-console-text.XXXXXX")"
echo "building tests/Targets/Jobs (Release)..." >&2
build_release "$logs/build.log" "$root/tests/Targets/Jobs/Jobs.csproj"
python3 -B "$here/python/console_ps_cost.py" release "${1:-500,5000}" "$root"
