"""What a sweep prints and records when it ends: a table of mean +- std over seeds per
combination, then every skipped and failed combination with its reason."""
from __future__ import annotations

import re
import statistics
from collections import defaultdict
from typing import Iterable

from mlflow.entities import Run

from aebench.sweep.plan import PlannedJob
from aebench.tracking import counted_runs

COLUMNS = ("test/psnr", "test/mse")


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4g} ± {spread:.2g}"


def summarize(jobs: list[PlannedJob], children: Iterable[Run]) -> tuple[str, dict[str, int]]:
    """Markdown text and the counts (finished, failed, skipped, missing)."""
    runs = counted_runs(children)
    groups: dict[str, list[Run]] = defaultdict(list)
    skipped, failed, missing, trials = [], [], [], 0
    for job in jobs:
        run = runs.get(job.run_key)
        if job.skip_reason is not None:
            skipped.append(job)
        elif run is None:
            missing.append(job)
        elif run.info.status != "FINISHED":
            failed.append((job, run))
        elif job.is_trial:
            trials += 1  # a tuned sweep's trial: its selected configurations are the rows
        else:
            groups[re.sub(r" seed=\S+", "", job.label)].append(run)

    lines = ["| combination | n | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
    for combination, members in sorted(groups.items()):
        cells = [mean_std([r.data.metrics[c] for r in members if c in r.data.metrics]) for c in COLUMNS]
        lines.append(f"| {combination} | {len(members)} | " + " | ".join(cells) + " |")
    if trials:
        lines += ["", f"Tuning: {trials} trials finished; the rows above are the configurations selected on validation."]
    if skipped:
        refused = {(job.combination_label, job.skip_reason): None for job in skipped}  # a tuned combination once
        lines += ["", f"Skipped ({len(skipped)}):"] + [f"- {label}: {reason}" for label, reason in refused]
    if failed:
        lines += ["", f"Failed ({len(failed)}):"] + [
            f"- {job.label}: {run.info.status}, {run.data.tags.get('failure_reason', 'no reason recorded')}"
            for job, run in failed]
    if missing:
        lines += ["", f"Not run ({len(missing)}):"] + [f"- {job.label}" for job in missing]
    counts = {"finished": sum(len(m) for m in groups.values()) + trials, "failed": len(failed), "skipped": len(skipped),
              "missing": len(missing)}
    return "\n".join(lines), counts
