"""A tuned sweep's rows against their model's ``regularizer=none`` row, on the validation metric
each selection chose by: the rows worse by more than their own seeds' standard deviation.

    python scripts/tuned_rows_vs_none.py [--uri sqlite:///mlruns/mlflow.db] [--experiment aebench]

(the defaults are aebench's: the store under the current folder's mlruns/).

Reads the latest sweep of the folder's store as the report does (``aebench.report.collect``): the
final runs each selection names, a penalty chosen off counted as its none row (it has no row of
its own). Prints, per selection, how many regularized rows there are, how many chose the penalty
off, each row worse than its none row by more than its seeds' standard deviation, and the rows
with one seed (no deviation: not judged).
"""
from __future__ import annotations

import argparse
import math

from aebench.console import quiet_libraries
from aebench.report.collect import collect
from aebench.sweep.tuning import SELECTIONS
from aebench.tracking import TrackingStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default="sqlite:///mlruns/mlflow.db", help="tracking.uri of the sweep")
    parser.add_argument("--experiment", default="aebench", help="tracking.experiment of the sweep")
    args = parser.parse_args()
    quiet_libraries()
    store = TrackingStore.shared(args.uri, args.experiment)
    data = collect(store)
    runs = data.runs[data.runs.get("stage") == "final"]
    print(f"{data.name}: {len(runs)} final runs")
    for name, (metric, higher) in SELECTIONS.items():
        chosen = runs[runs["selected_for"].fillna("").str.split("+").map(lambda names: name in names)]
        rows = chosen.groupby(["dataset", "model", "regularizer"])[f"metrics.{metric}"].agg(["mean", "std", "count"])
        off = {(run["dataset"], run["model"], regularizer) for _, run in chosen.iterrows()
               if isinstance(run.get("penalty_off_of"), dict) for regularizer in run["penalty_off_of"].get(name, [])}
        worse, unjudged = [], []
        for (dataset, model, regularizer), row in rows.iterrows():
            if regularizer == "none" or (dataset, model, "none") not in rows.index:
                continue
            if math.isnan(row["std"]):
                unjudged.append(f"  {dataset} {model} {regularizer}: {row['count']:.0f} seed, not judged")
                continue
            plain = rows.loc[(dataset, model, "none")]
            gap = (plain["mean"] - row["mean"]) if higher else (row["mean"] - plain["mean"])
            if gap > row["std"]:
                worse.append(f"  {dataset} {model} {regularizer}: {row['mean']:.4f} ± {row['std']:.4f} "
                             f"against none's {plain['mean']:.4f} ({metric})")
        penalties = sum(1 for key in rows.index if key[2] != "none") + len(off)
        print(f"{name} ({metric}): {penalties} penalties, {len(off)} chosen off (their none row stands for them), "
              f"{len(worse)} worse than none by more than their seeds' standard deviation", *worse, *unjudged, sep="\n")


if __name__ == "__main__":
    main()
