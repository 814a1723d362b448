"""A tuned sweep's rows against their model's ``regularizer=none`` row, on the validation metric
each selection chose by: the rows worse by more than their own seeds' standard deviation.

    python scripts/tuned_rows_vs_none.py [folder]   (default: the current folder; its mlruns/ store)

Reads the latest sweep of the folder's store as the report does (``aebench.report.collect``): the
final runs each selection names, a penalty chosen off counted as its none row (it has no row of
its own). Prints, per selection, how many regularized rows there are, how many chose the penalty
off, and each row worse than its none row by more than its seeds' standard deviation.
"""
from __future__ import annotations

import sys
from pathlib import Path

from aebench.console import quiet_libraries
from aebench.report.collect import collect
from aebench.sweep.tuning import SELECTIONS
from aebench.tracking import TrackingStore


def main() -> None:
    quiet_libraries()
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    store = TrackingStore.shared(f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}", "aebench")
    data = collect(store)
    runs = data.runs[data.runs.get("stage") == "final"]
    print(f"{data.name}: {len(runs)} final runs")
    for name, (metric, higher) in SELECTIONS.items():
        chosen = runs[runs["selected_for"].fillna("").str.split("+").map(lambda names: name in names)]
        rows = chosen.groupby(["dataset", "model", "regularizer"])[f"metrics.{metric}"].agg(["mean", "std", "count"])
        off = {(run["dataset"], run["model"], regularizer) for _, run in chosen.iterrows()
               if isinstance(run.get("penalty_off_of"), dict) for regularizer in run["penalty_off_of"].get(name, [])}
        worse = []
        for (dataset, model, regularizer), row in rows.iterrows():
            if regularizer == "none" or (dataset, model, "none") not in rows.index:
                continue
            plain = rows.loc[(dataset, model, "none")]
            gap = (plain["mean"] - row["mean"]) if higher else (row["mean"] - plain["mean"])
            if gap > row["std"]:
                worse.append(f"  {dataset} {model} {regularizer}: {row['mean']:.4f} ± {row['std']:.4f} "
                             f"against none's {plain['mean']:.4f} ({metric})")
        penalties = sum(1 for key in rows.index if key[2] != "none") + len(off)
        print(f"{name} ({metric}): {penalties} penalties, {len(off)} chosen off (their none row stands for them), "
              f"{len(worse)} worse than none by more than their seeds' standard deviation", *worse, sep="\n")


if __name__ == "__main__":
    main()
