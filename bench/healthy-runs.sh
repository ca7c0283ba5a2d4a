#!/usr/bin/env bash
# False reports: the healthy real-application targets, each run RUNS times under `asynclens run`, reports counted.
#
#   bench/healthy-runs.sh [RUNS] [--config Debug|Release|both] [--busy N] [--only NAME]
#
# Targets (tests/RealApps): ShopApi under healthy traffic (GET /health, /product/{id}, /products?ids=...,
# /catalog/stream, /config, /orders/{id} from 8 curl loops, half of them keeping their connection, for 4 s, then
# SIGTERM), DbWorker healthy (PostgreSQL + Redis), Pipelines healthy, Pipelines yield 500000. Every one of them is
# healthy: any report is a false one. Prints, per target and build, the runs with a report and the reports, then the
# first line of each report; the full output of each run is kept in a temporary directory printed last.
# --busy N runs N CPU burners (sha256sum of /dev/zero) alongside, for full CPU contention.
# Starts a private PostgreSQL 15 and redis-server on free loopback ports (tests/RealApps/install-servers.sh installs
# them) and stops them at the end. Needs the .NET SDK, curl and python3. Not a test: nothing here asserts; the
# figure goes to docs/performance.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/common.sh"
source "$here/lib/realapps.sh"

runs=20 configs=(Debug Release) busy=0 only=""
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then runs="$1"; shift; fi
while [[ $# -gt 0 ]]; do
    case "$1" in
        --config) case "${2:-}" in Debug | Release) configs=("$2") ;; both) ;; *) echo "$0: --config Debug|Release|both" >&2; exit 2 ;; esac; shift 2 ;;
        --busy) [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "$0: --busy N" >&2; exit 2; }; busy="$2"; shift 2 ;;
        --only) only="${2:-}"; shift 2 ;;
        *) echo "usage: $0 [RUNS] [--config Debug|Release|both] [--busy N] [--only shop|db|pipelines|yield]" >&2; exit 2 ;;
    esac
done
require_tools "it finds free ports"
command -v curl >/dev/null || { echo "$0: curl is not on PATH" >&2; exit 1; }
unset_debug_env ASPNETCORE_URLS DOTNET_URLS SHOP_PG DB_PG DB_REDIS

logs="$(mktemp -d "${TMPDIR:-/tmp}/asynclens-healthy.XXXXXX")"
chmod 755 "$logs"
echo "building the CLI and the real-application targets..." >&2
build_release "$logs/build.log" "$root/src/AsyncLens.Cli/AsyncLens.Cli.csproj"
for config in "${configs[@]}"; do
    for app in ShopApi DbWorker Pipelines; do
        dotnet build "$root/tests/RealApps/$app/$app.csproj" -c "$config" -nologo -v q >>"$logs/build.log" 2>&1 || { cat "$logs/build.log" >&2; exit 1; }
    done
done
cli="$root/artifacts/bin/AsyncLens.Cli/release/asynclens.dll"

pids=()
trap stop_started EXIT
trap "exit 130" INT TERM

start_servers "$logs"

for ((i = 0; i < busy; i++)); do
    sha256sum /dev/zero &
    pids+=($!)
done

reports() { grep -cE '^asynclens: (slow-step|hung-step|blocking-wait|unobserved-exception|pending-collected)' "$1" || true; }

run_shop() { # run_shop CONFIG OUT
    local out="$2" pid url=""
    SHOP_PG="$pg" dotnet "$cli" run -- "$root/artifacts/bin/ShopApi/${1,,}/ShopApi.dll" >"$out.stdout" 2>"$out" &
    pid=$!
    for _ in $(seq 300); do
        url="$(sed -n 's/^listening [0-9]* \(http[^ ]*\).*/\1/p' "$out.stdout" 2>/dev/null || true)"
        [[ -n "$url" ]] && break
        sleep 0.1
    done
    [[ -z "$url" ]] || traffic "$url" 4 || true
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || true
}

run_app() { # run_app CONFIG OUT APP ARGS...
    local config="$1" out="$2" app="$3"
    shift 3
    DB_PG="$pg" DB_REDIS="$redis" dotnet "$cli" run -- "$root/artifacts/bin/$app/${config,,}/$app.dll" "$@" >"$out.stdout" 2>"$out" || true
}

targets=(shop db pipelines yield)
declare -A label=([shop]="ShopApi, healthy traffic" [db]="DbWorker healthy" [pipelines]="Pipelines healthy" [yield]="Pipelines yield 500000")
declare -A bad total
for config in "${configs[@]}"; do
    for target in "${targets[@]}"; do
        [[ -z "$only" || "$only" == "$target" ]] || continue
        key="$target/$config"
        bad[$key]=0 total[$key]=0
        printf '%-26s %-7s' "${label[$target]}" "$config" >&2
        for ((run = 1; run <= runs; run++)); do
            out="$logs/$target.$config.$run.txt"
            case "$target" in
                shop) run_shop "$config" "$out" ;;
                db) run_app "$config" "$out" DbWorker healthy ;;
                pipelines) run_app "$config" "$out" Pipelines healthy ;;
                yield) run_app "$config" "$out" Pipelines yield 500000 ;;
            esac
            n="$(reports "$out")"
            total[$key]=$((total[$key] + n))
            ((n == 0)) || bad[$key]=$((bad[$key] + 1))
            printf '%s' "$( ((n == 0)) && echo . || echo "$n")" >&2
        done
        echo >&2
    done
done

echo
printf '%-26s %-8s %5s %18s %8s\n' target build runs "runs with reports" reports
for config in "${configs[@]}"; do
    for target in "${targets[@]}"; do
        [[ -z "$only" || "$only" == "$target" ]] || continue
        printf '%-26s %-8s %5d %18d %8d\n' "${label[$target]}" "$config" "$runs" "${bad[$target/$config]}" "${total[$target/$config]}"
    done
done
grep -hE '^asynclens: (slow-step|hung-step|blocking-wait|unobserved-exception|pending-collected)' "$logs"/*.txt 2>/dev/null | sort | uniq -c | sort -rn | head -20 || true
echo "runs kept in $logs (busy: $busy CPU burners)"
