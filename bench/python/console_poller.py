"""A client of the live console doing what `asynclens top` does, without a terminal: once a second `ps` (with
`--sort busy` when the agent's hello says debug mode is on), `pool` and `threads` (debug mode), over the documented
protocol (docs/console.md). For bench/console-idle.sh and bench/web-overhead.sh: the agent's cost while
someone watches.

    python3 console_poller.py ERR_FILE [--commands ps,pool]
        (environment CONSOLE_POLL_TEXT=1: ask ps and threads for their text too, as top did before it read their data alone)
        waits for a "console: SOCKET" line (the bench harness) or "asynclens: console on SOCKET (" line (the startup
        hook) in ERR_FILE; --commands: what to ask each second instead of what top asks

When the agent's process ends it writes to standard error what the commands cost the process: the CPU time of the
agent's client thread (the kernel's, /proc/PID/task/TID/stat), per poll, and each command's median wall time.
"""

import json
import os
import socket
import sys
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def socket_path(err_file):
    for _ in range(600):
        try:
            with open(err_file, encoding="utf-8") as lines:
                for line in lines:
                    if line.startswith("console: "):
                        return line[len("console: "):].strip()
                    if line.startswith("asynclens: console on "):
                        return line[len("asynclens: console on "):].split(" (")[0].strip()
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    sys.exit(f"console_poller: no console line in {err_file}")


def thread_cpu_seconds(pid, name_prefix):
    """utime + stime of the process's threads whose name starts so (the agent's client threads)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat", encoding="utf-8") as stat:
                    text = stat.read()
            except OSError:
                continue
            name = text[text.index("(") + 1:text.rindex(")")]
            if name.startswith(name_prefix):
                fields = text[text.rindex(")") + 2:].split()
                total += int(fields[11]) + int(fields[12])
    except OSError:
        return None
    return total / CLOCK_TICKS


def main():
    path = socket_path(sys.argv[1])
    chosen = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[2] == "--commands" else None
    # CONSOLE_POLL_TEXT=1: ask for ps' and threads' text as well, as top did before 2026-12-05 18:00 (an agent older
    # than that ignores the request's "text" and always sends it).
    with_text = None if os.environ.get("CONSOLE_POLL_TEXT") == "1" else False
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    reader = client.makefile("r", encoding="utf-8")
    hello = json.loads(reader.readline())
    pid, debug = hello["pid"], hello.get("debugMode")
    commands = [("ps", ["--sort", "busy"] if debug else []), ("pool", [])]
    if debug:
        commands.append(("threads", []))
    if chosen is not None:
        # `requests`: what top asked before it read the requests' ages from ps (one snapshot a second more).
        commands = [(c, a) for c, a in commands + [("requests", [])] if c in chosen]
    walls = {c: [] for c, _ in commands}
    polls, first_cpu, last_cpu = 0, None, None
    request = 0
    try:
        while True:
            for command, args in commands:
                request += 1
                start = time.perf_counter()
                ask = {"id": request, "command": command, "args": args}
                if with_text is not None and command in ("ps", "threads"):
                    ask["text"] = with_text  # top asks for ps' and threads' data alone
                client.sendall((json.dumps(ask) + "\n").encode())
                if not reader.readline():
                    return
                walls[command].append(time.perf_counter() - start)
            polls += 1
            cpu = thread_cpu_seconds(pid, "AsyncLens conso")
            if cpu is not None:
                first_cpu = cpu if first_cpu is None else first_cpu
                last_cpu = cpu
            time.sleep(1)
    except (BrokenPipeError, ConnectionResetError):
        return
    finally:
        if polls > 1 and first_cpu is not None:
            per_poll = (last_cpu - first_cpu) / (polls - 1) * 1000
            medians = " ".join(f"{c}={sorted(w)[len(w) // 2] * 1000:.1f}ms" for c, w in walls.items() if w)
            print(f"console_poller: polls={polls} commands={','.join(c for c, _ in commands)} "
                  f"agent_cpu_ms_per_poll={per_poll:.1f} (the agent's client thread, clock tick {1000 / CLOCK_TICKS:.0f} ms); "
                  f"median wall {medians}", file=sys.stderr)


if __name__ == "__main__":
    main()
