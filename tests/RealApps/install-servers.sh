#!/usr/bin/env bash
# Installs what the real-application tests start: PostgreSQL 15 (Debian's postgresql) and redis-server.
# Called by .ci/run, and by the tests themselves (tests/Shared/Servers.cs) when a server is missing and
# they run as root. Idempotent; installs nothing that is already there.
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "install-servers.sh: ${missing[*]} missing; install them (Debian: apt-get install ${missing[*]})" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
