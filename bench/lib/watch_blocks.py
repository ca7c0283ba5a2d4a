"""Shared by bench/watch-paired.sh and bench/watch-cost.sh: the stretches bench/lib/watch_blocks.sh wrote (asynclens
watch attached to one process, then not), the target's rounds counted into them, each attached stretch set against
the detached ones either side of it, and how far a median of such blocks can be trusted. Not run on its own."""
import random
import re
import statistics

_EXIT = re.compile(r"^asynclens: watched process \d+ for ([\d.]+) s: ([\d,]+) events read \([\d.]+ a second\):? ?(.*)$", re.M)


def watch_exit(path):
    """watch's exit line: seconds watched, events read, and events read by name."""
    m = _EXIT.search(open(path, encoding="utf-8").read())
    if not m:
        return {"watched_s": None, "events": None, "by_name": {}}
    by_name = {}
    for part in filter(None, m.group(3).split(", ")):
        count, name = part.split(" ", 1)
        by_name[name] = int(count.replace(",", ""))
    return {"watched_s": float(m.group(1)), "events": int(m.group(2).replace(",", "")), "by_name": by_name}


def stretches(logs):
    """The stretches in order, each attached one with what its watch read (watch.N.err: the N-th block's; the warm-up's,
    watch.0.err, first, apart: (warm-up, stretches))."""
    out, warm, attached = [], None, 0
    for line in open(f"{logs}/stretches.txt", encoding="utf-8"):
        f = line.split()
        s = {"side": f[0], "from": int(f[1]), "to": int(f[2]), "load": float(f[3])}
        if f[0] in ("on", "warm"):
            s["launched"] = int(f[4])
            s.update(watch_exit(f"{logs}/watch.{0 if f[0] == 'warm' else attached + 1}.err"))
        if f[0] == "warm":
            warm = s
            continue
        attached += f[0] == "on"
        out.append(s)
    return warm, out


def count_rounds(all_stretches, rounds, settle_ms=1000):
    """rounds: (from_ms, to_ms, work, cpu_us). Each stretch gets the sums of the rounds wholly inside it that began
    settle_ms or more after it did: its steady state, not the attaching or detaching just before (measured apart)."""
    for s in all_stretches:
        inside = [r for r in rounds if r[0] >= s["from"] + settle_ms and r[1] <= s["to"]]
        s["n"] = len(inside)
        s["work"] = sum(r[2] for r in inside)
        s["cpu"] = sum(r[3] for r in inside)
        s["ms"] = sum(r[1] - r[0] for r in inside)


def blocks(all_stretches, unit):
    """Each attached stretch with rounds in it, against the mean of the detached stretches just before and just after it
    (a machine growing busier or quieter across the block weighs on both sides): (on, offs, on's CPU per unit / offs')."""
    out = []
    for i, s in enumerate(all_stretches):
        if s["side"] != "on" or not s["n"] or not s[unit]:
            continue
        offs = [o for o in (all_stretches[i - 1] if i > 0 else None, all_stretches[i + 1] if i + 1 < len(all_stretches) else None)
                if o is not None and o["side"] == "off" and o["n"] and o[unit]]
        if offs:
            out.append((s, offs, per(s, unit) / statistics.mean(per(o, unit) for o in offs)))
    return out


def per(s, unit):
    return s["cpu"] / s[unit]


def interval(values, stat=statistics.median, draws=10_000):
    """A 95% bootstrap interval of stat over the values (resampled with replacement, seeded: the same run prints the same)."""
    rng = random.Random(1)
    boot = sorted(stat(rng.choices(values, k=len(values))) for _ in range(draws))
    return boot[int(draws * 0.025)], boot[int(draws * 0.975) - 1]


def loads(all_stretches):
    values = sorted(s["load"] for s in all_stretches)
    return f"median {statistics.median(values):.1f}, {values[0]:.1f}..{values[-1]:.1f}"
