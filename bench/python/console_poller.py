"""A client of the live console doing what `asynclens top` does, without a terminal: once a second `ps` (with
`--sort busy` when the agent's hello says debug mode is on) and `pool`, over the documented protocol
(docs/console.md). For bench/console-idle.sh: the agent's cost while someone watches.

    python3 console_poller.py ERR_FILE    (waits for the harness's "console: SOCKET" line in ERR_FILE)
"""

import json
import socket
import sys
import time


def socket_path(err_file):
    for _ in range(600):
        try:
            with open(err_file, encoding="utf-8") as lines:
                for line in lines:
                    if line.startswith("console: "):
                        return line[len("console: "):].strip()
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    sys.exit(f"console_poller: no 'console: SOCKET' line in {err_file}")


def main():
    path = socket_path(sys.argv[1])
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    reader = client.makefile("r", encoding="utf-8")
    hello = json.loads(reader.readline())
    ps_args = ["--sort", "busy"] if hello.get("debugMode") else []
    request = 0
    try:
        while True:
            for command, args in (("ps", ps_args), ("pool", [])):
                request += 1
                client.sendall((json.dumps({"id": request, "command": command, "args": args}) + "\n").encode())
                if not reader.readline():
                    return
            time.sleep(1)
    except (BrokenPipeError, ConnectionResetError):
        return


if __name__ == "__main__":
    main()
