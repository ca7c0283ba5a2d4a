#!/usr/bin/env bash
# What a console client costs an app in its first minute: the JIT compiling the agent's code (and the BCL code it
# uses) as it is first called, then again at tier 1 once it is hot. Once per process; after it a poll costs what
# bench/console-idle.sh measures.
#
#   bench/console-first-polls.sh [POLLS] [ENGINE]
#
# Builds tests/Targets/Jobs in Release, starts it with its console on (ASYNCLENS_CONSOLE=1, the startup hook of ENGINE,
# default the Release build's AsyncLens.Engine.dll; give a ReadyToRun one to compare) and 1,000 pending tasks, waits 5 s,
# then connects a client asking what `top` asks (`ps`, data alone, and `pool`) once a second, POLLS times (default 60).
# Prints per 10 polls the app's CPU (the app is idle otherwise: all of it is the agent and the JIT) and the methods the
# JIT compiled (DOTNET_JitStdOutFile with DOTNET_JitDisasmSummary=1). Needs the .NET SDK and python3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
polls="${1:-60}"
[[ "$polls" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [POLLS] [ENGINE]" >&2; exit 2; }
engine="$(realpath -m "${2:-$root/artifacts/bin/AsyncLens/release/AsyncLens.Engine.dll}")"
require_tools "it drives the client"
unset_debug_env ASYNCLENS_CONSOLE DOTNET_JitStdOutFile DOTNET_JitDisasmSummary

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-console-first-polls.XXXXXX")"
echo "building tests/Targets/Jobs (Release)..." >&2
build_release "$logs/build.log" "$root/tests/Targets/Jobs/Jobs.csproj" "$root/src/AsyncLens/AsyncLens.csproj"
[[ -f "$engine" ]] || { echo "$0: no engine at $engine" >&2; exit 1; }

python3 -B - "$root" "$engine" "$polls" "$logs" <<'PY'
import json, os, socket, subprocess, sys, time

root, engine, polls, logs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
jobs = os.path.join(root, "artifacts", "bin", "Jobs", "release", "Jobs.dll")
jit = os.path.join(logs, "jit.txt")
env = dict(os.environ, DOTNET_STARTUP_HOOKS=engine, ASYNCLENS_CONSOLE="1", DOTNET_JitStdOutFile=jit, DOTNET_JitDisasmSummary="1")
with open(os.path.join(logs, "jobs.err"), "w") as err:
    app = subprocess.Popen(["dotnet", jobs, "flood", "500"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=err, text=True)
pid = None
while pid is None:
    line = app.stdout.readline()
    if not line:
        sys.exit(f"Jobs ended before it was ready (exit {app.wait()}); see {logs}/jobs.err")
    if line.startswith("ready "):
        pid = int(line.split()[1])
tick = os.sysconf("SC_CLK_TCK")

def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

def jitted():
    with open(jit) as lines:
        return sum(1 for _ in lines)

try:
    time.sleep(5)
    rows = [(cpu(), jitted())]
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(f"/tmp/asynclens-{os.getuid()}/{pid}.sock")
    reader = client.makefile("r", encoding="utf-8")
    reader.readline()  # hello
    for request in range(polls):
        for command in ("ps", "pool"):
            ask = {"id": request, "command": command, "args": []}
            if command == "ps":
                ask["text"] = False  # as top asks
            client.sendall((json.dumps(ask) + "\n").encode())
            if not reader.readline():
                sys.exit("the agent closed the connection")
        time.sleep(1)
        rows.append((cpu(), jitted()))
finally:
    app.stdin.close()
    try:
        app.wait(20)
    except subprocess.TimeoutExpired:
        app.kill()
print(f"Jobs with its console, 1,000 pending tasks, idle; a client asking ps (data) and pool once a second; engine {engine}")
print("polls     app CPU ms  methods jitted")
for start in range(0, polls, 10):
    end = min(start + 10, polls)
    print(f"{start + 1:>3}-{end:<3}  {1000 * (rows[end][0] - rows[start][0]):11.0f}  {rows[end][1] - rows[start][1]:14}")
tail = rows[-1][0] - rows[max(0, polls - 10)][0]
steady = tail / min(10, polls)
print(f"the last 10 polls: {1000 * steady:.1f} ms of CPU a poll; the polls before them took "
      f"{1000 * ((rows[max(0, polls - 10)][0] - rows[0][0]) - steady * max(0, polls - 10)):.0f} ms more than that (the JIT, once per process)")
print(f"logs: {logs}")
PY
