"""Shared by the summaries the bench/*.sh scripts print: their results file, medians and ratios.

A results file has one line per fresh process, `key=value` fields separated by spaces (`rep=N` and
the process's RESULT fields, among them the variant or mode it ran in).
"""

import statistics


class Runs(dict):
    """The runs grouped by variant: {variant: [fields of one run, ...]}, in the file's order."""

    def column(self, variant, key):
        return [float(run[key]) for run in self[variant]]

    def median(self, variant, key):
        return statistics.median(self.column(variant, key))

    def total(self, variant, key):
        return sum(int(run[key]) for run in self[variant])

    def unsettled(self, variant):
        """How many runs ended their warm-up at its limit, before the JIT settled."""
        return sum(run["jit_settled"] != "yes" for run in self[variant])

    def paired(self, on, off, key):
        """Each `on` run's value over that of the `off` run of its own repetition: how stable the ratio is."""
        by_rep = {run["rep"]: float(run[key]) for run in self[off]}
        return [float(run[key]) / by_rep[run["rep"]] for run in self[on]]


def load_runs(path, by):
    """The results file at `path`, grouped by the value of its field `by`."""
    runs = Runs()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            fields = dict(token.split("=", 1) for token in line.split())
            runs.setdefault(fields[by], []).append(fields)
    return runs
