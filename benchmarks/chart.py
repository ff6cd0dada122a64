"""Bar chart of a ``benchmarks.compare`` results file (runs in the ``chart`` venv, which has
matplotlib; matplotlib is not a dependency of the project).

    ~/.cache/streams/bench-venvs/chart/bin/python -m benchmarks.chart RESULTS.json OUT.png

One group of bars per workload, one bar per system: the median records/s of the runs that
passed verification, on a log scale (the systems differ by two orders of magnitude). A system
that could not run a workload gets a labelled stub instead of a bar.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

COLORS = {"streams": "#d62728", "plain": "#7f7f7f", "quix": "#1f77b4", "faust": "#2ca02c",
          "java": "#ff7f0e"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    src, out = Path(argv[0]), Path(argv[1])
    data = json.loads(src.read_text())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems: list[str] = data["systems"]
    workloads: list[str] = data["workloads"]
    unsupported = {(s, w): why for s, w, why in data.get("unsupported", [])}
    rates: dict[tuple[str, str], float] = {}
    failed: set[tuple[str, str]] = set()
    for key in {(r["workload"], r["system"]) for r in data["results"]}:
        ok = [r["rate"] for r in data["results"]
              if (r["workload"], r["system"]) == key and not r["error"]]
        if ok:
            rates[key] = statistics.median(ok)
        else:
            failed.add(key)
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    floor = min(rates.values(), default=1.0) / 3
    for i, system in enumerate(systems):
        xs, ys = [], []
        for j, wl in enumerate(workloads):
            x = j + (i - (len(systems) - 1) / 2) * width
            rate = rates.get((wl, system))
            if rate:
                xs.append(x)
                ys.append(rate)
                ax.text(x, rate * 1.08, f"{rate / 1000:.0f}k" if rate >= 10_000 else f"{rate:,.0f}",
                        ha="center", va="bottom", fontsize=7, rotation=90)
            else:
                why = ("not supported" if (system, wl) in unsupported
                       else "failed" if (wl, system) in failed or system in data.get(
                           "install_errors", {}) else "")
                if why:
                    ax.text(x, floor * 1.1, why, ha="center", va="bottom", fontsize=7,
                            rotation=90, color=COLORS.get(system, "black"))
        ax.bar(xs, ys, width, label=data["labels"][system], color=COLORS.get(system))
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor, top=max(rates.values(), default=10.0) * 6)
    ax.set_xticks(range(len(workloads)), workloads)
    ax.set_ylabel("input records/s (median, log scale)")
    info = data["info"]
    ax.set_title(f"Same broker, same input, one worker process each - {info['date']}\n"
                 f"{info['cpu']}, Kafka {info['kafka']}", fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(systems),
              frameon=False)
    ax.grid(axis="y", which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
