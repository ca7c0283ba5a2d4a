"""Holds N requests in flight on bench/AsyncLens.Bench.Web: N long polls (`GET /orders/{id}/updates`), each on
its own connection, parked in the app's handler until this program's standard input closes; then the connections
are closed, which cancels the requests.

    python3 long_polls.py http://127.0.0.1:PORT N

Prints `parked N` once the app's /stats says N long polls are waiting (within 60 s), else fails. Loopback only.
"""

import json
import resource
import socket
import sys
import time
import urllib.parse
import urllib.request


def waiting(url):
    with urllib.request.urlopen(url + "/stats", timeout=10) as response:
        return json.load(response)["longPolls"]


def main():
    url, count = sys.argv[1], int(sys.argv[2])
    parsed = urllib.parse.urlsplit(url)
    if parsed.hostname not in ("127.0.0.1", "::1", "localhost"):
        sys.exit(f"long_polls.py: loopback addresses only, not {parsed.hostname}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 64)), hard))
    before = waiting(url)
    connections = []
    for i in range(count):
        connection = socket.create_connection((parsed.hostname, parsed.port))
        # Ids past the seeded orders and the new-order range: no POST completes them; they wait for 10 minutes.
        connection.sendall(f"GET /orders/{1_000_000 + i}/updates?timeoutMs=600000 HTTP/1.1\r\nHost: {parsed.netloc}\r\n\r\n".encode())
        connections.append(connection)
    deadline = time.monotonic() + 60
    while waiting(url) < before + count:
        if time.monotonic() > deadline:
            sys.exit(f"long_polls.py: {waiting(url) - before} of {count} long polls waiting after 60 s")
        time.sleep(0.05)
    print(f"parked {count}", flush=True)
    sys.stdin.read()
    for connection in connections:
        connection.close()


if __name__ == "__main__":
    main()
