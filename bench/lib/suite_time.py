"""Where a test assembly's wall time goes, from its TRX file and TimingGate's log (ASYNCLENS_GATE_LOG).

    python3 bench/lib/suite_time.py RUN.trx GATE.log [TOP]

Prints the outcomes, the TOP slowest facts (default 25), each class's facts, summed fact time and span (first start to
last end, seconds from the run's start: a class fixture's run counts in its first fact), and the gate: the time held
(one timing-sensitive program at a time, machine-wide), the time xunit's threads waited for it, and who held it longest.
"""
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}


def stamp(text):
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", text))


def seconds(duration):
    h, m, s = duration.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def main():
    trx, gate = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    root = ET.parse(trx).getroot()
    times = root.find("t:Times", NS)
    start, finish = stamp(times.get("start")), stamp(times.get("finish"))
    outcomes = defaultdict(int)
    facts = []
    classes = defaultdict(lambda: {"n": 0, "sum": 0.0, "first": None, "last": None})
    for r in root.findall(".//t:UnitTestResult", NS):
        name = r.get("testName")
        outcomes[r.get("outcome")] += 1
        took = seconds(r.get("duration", "0:0:0"))
        facts.append((took, name, r.get("outcome")))
        c = classes[name.split("(")[0].rsplit(".", 1)[0]]
        began, ended = stamp(r.get("startTime")), stamp(r.get("endTime"))
        c["n"] += 1
        c["sum"] += took
        c["first"] = began if c["first"] is None or began < c["first"] else c["first"]
        c["last"] = ended if c["last"] is None or ended > c["last"] else c["last"]
    wall = (finish - start).total_seconds()
    print(f"run {start:%H:%M:%S}-{finish:%H:%M:%S} UTC, {wall:.0f} s; " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(f"\nslowest facts (s, a fact's time includes waiting for the gate and for a shared run):")
    for took, name, outcome in sorted(facts, reverse=True)[:top]:
        print(f"{took:7.1f}  {name}{'' if outcome == 'Passed' else '  [' + outcome + ']'}")
    print("\nclasses by summed fact time: facts, sum (s), span from-to (s after the run's start)")
    for name, c in sorted(classes.items(), key=lambda kv: -kv[1]["sum"])[:top]:
        print(f"{c['n']:4d} {c['sum']:7.1f} {(c['first'] - start).total_seconds():6.0f}-{(c['last'] - start).total_seconds():<6.0f} {name}")
    holds = []
    with open(gate) as f:
        for line in f:
            m = re.match(r"^(\S+) held (\d+) waited (\d+) (.*)$", line.strip())
            if m:
                holds.append((int(m.group(2)) / 1000, int(m.group(3)) / 1000, m.group(4)))
    held = sum(h for h, _, _ in holds)
    waited = sum(w for _, w, _ in holds)
    print(f"\ngate: {len(holds)} holds, held {held:.0f} s ({100 * held / wall:.0f}% of the wall), waited for {waited:.0f} s in all")
    by = defaultdict(lambda: [0, 0.0])
    for h, _, who in holds:
        # A holder is named by the test frame on its stack (Class.Method, Class+<Method>d__N.MoveNext, Fixture..ctor): by class.
        key = who.split("+")[0] if "+" in who else re.sub(r"\.\.?[^.]*$", "", who)
        by[key][0] += 1
        by[key][1] += h
    for who, (n, h) in sorted(by.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"{n:4d} {h:7.1f}  {who}")


main()
