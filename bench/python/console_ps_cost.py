"""The agent's own cost per `ps` with and without its text (a request's "text": false), at N pending tasks: Jobs flood N
with its console, polled over the socket in alternating blocks of 5; CPU of the agent's client thread (/proc, clock
ticks) and wall per request, medians of 8 blocks.

    python3 console_ps_cost.py CONFIG SIZES ROOT   (bench/console-text-cost.sh runs it)
"""
import json, os, socket, statistics, subprocess, sys, time
root = os.path.join(sys.argv[3], "artifacts", "bin")
cfg = sys.argv[1]
jobs = f"{root}/Jobs/{cfg}/Jobs.dll"
engine = f"{root}/AsyncLens/{cfg}/AsyncLens.Engine.dll"
TICK = os.sysconf("SC_CLK_TCK")

def agent_cpu(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            text = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        if text[text.index("(") + 1:text.rindex(")")].startswith("AsyncLens conso"):
            f = text[text.rindex(")") + 2:].split()
            total += int(f[11]) + int(f[12])
    return total / TICK

for size in [int(s) for s in sys.argv[2].split(",")]:
    app = subprocess.Popen(["dotnet", jobs, "flood", str(size)], env=dict(os.environ, DOTNET_STARTUP_HOOKS=engine, ASYNCLENS_CONSOLE="1"),
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    pid = None
    while pid is None:
        line = app.stdout.readline()
        if line.startswith("ready "):
            pid = int(line.split()[1])
    time.sleep(2)
    s = socket.socket(socket.AF_UNIX); s.connect(f"/tmp/asynclens-{os.geteuid()}/{pid}.sock")
    r = s.makefile("r"); r.readline()
    def ask(text):
        req = {"command": "ps", "args": []}
        if not text:
            req["text"] = False
        t0 = time.perf_counter(); s.sendall((json.dumps(req) + "\n").encode()); line = r.readline()
        return time.perf_counter() - t0, len(line)
    for _ in range(5):
        ask(True); ask(False)
    res = {True: [], False: []}
    sizes = {}
    for block in range(8):
        for text in (True, False):
            c0 = agent_cpu(pid); walls = []
            for _ in range(5):
                w, n = ask(text); walls.append(w); sizes[text] = n
            res[text].append(((agent_cpu(pid) - c0) / 5 * 1000, statistics.median(walls) * 1000))
    for text in (True, False):
        cpu = statistics.median(x[0] for x in res[text]); wall = statistics.median(x[1] for x in res[text])
        print(f"Jobs flood {size}: ps {'with text ' if text else 'data alone'}: agent CPU {cpu:.1f} ms/ps (median of 8 blocks of 5), wall {wall:.1f} ms, answer {sizes[text]/1024:.0f} KB")
    s.close(); app.kill(); app.wait()
