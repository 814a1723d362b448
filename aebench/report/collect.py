"""Everything a report shows, read from the MLflow store alone (a local file or a server)."""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd
from mlflow.entities import Run

from aebench.errors import ConfigError
from aebench.tracking import KIND, TrackingStore, counted_runs, search_all


@dataclass
class ReportData:
    name: str                      # what the report covers, for titles
    folder: str                    # reports/<folder>/
    runs: pd.DataFrame             # one row per counted FINISHED run: tags, params.*, metrics.*
    failed: list[tuple[str, str]]  # (label, reason) of combinations whose last attempt did not finish
    skipped: list[tuple[str, str]] # (label, reason) of combinations the rules refused
    cite: dict[str, str] = field(default_factory=dict)
    parent_run_id: str | None = None
    tuning: dict | None = None     # a tuned sweep's protocol (aebench.sweep.tuning.protocol)
    run_link: str = ""             # a run's page in the MLflow UI: run_link.format(run_id=...)


def run_label(tags: dict[str, str]) -> str:
    fallback = f"{tags.get('dataset')} {tags.get('model')} {tags.get('regularizer')} seed={tags.get('seed')}"
    return tags.get("aebench.label", fallback)


SWEEP_TAGS = {  # tags of a sweep's runs the report reads as columns
    "sweep.stage": "stage", "sweep.selected_for": "selected_for", "sweep.hyperparameters": "hyperparameters",
               "aebench.reproduce": "reproduce", "sweep.tuned_keys": "tuned_keys"}


def _row(run: Run) -> dict:
    tags = run.data.tags
    row = {"run_id": run.info.run_id, "status": run.info.status, "start_time": run.info.start_time,
           "artifact_uri": run.info.artifact_uri, "run_key": tags.get("run_key", run.info.run_id)}
    row.update({key: tags.get(key) for key in ("dataset", "model", "regularizer", "seed")})
    row["task"] = tags.get("task", "reconstruct")  # PCA baselines and runs from before tasks reconstruct
    for tag, column in SWEEP_TAGS.items():
        if tag in tags:
            row[column] = tags[tag]
    row.update({f"params.{key}": value for key, value in run.data.params.items()})
    row.update({f"metrics.{key}": value for key, value in run.data.metrics.items()})
    return row


def _counted(children: list[Run]) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The FINISHED run of each run_key (the latest), and the last failed attempt of the others."""
    counted = counted_runs(children).values()
    failures = [(run_label(run.data.tags), f"{run.info.status}: {run.data.tags.get('failure_reason', 'no reason')}")
                for run in counted if run.info.status in ("FAILED", "KILLED")]
    frame = pd.DataFrame([_row(run) for run in counted if run.info.status == "FINISHED"])
    return frame, failures


def _skipped(store: TrackingStore, parents: list[Run]) -> list[tuple[str, str]]:
    listed: set[tuple[str, str]] = set()
    for parent in parents:
        with tempfile.TemporaryDirectory() as folder:
            path = store.download_artifact(parent.info.run_id, "skipped.json", folder)
            if path is not None:  # None: a sweep from before skipped.json, nothing to list
                listed.update((item["label"], item["reason"]) for item in json.loads(path.read_text()))
    return sorted(listed)


def _cite(parent: Run, experiment: str, uri: str) -> dict[str, str]:
    tags = parent.data.tags
    started = datetime.fromtimestamp(parent.info.start_time / 1000, tz=timezone.utc)
    commit = tags.get("aebench.git_commit", "-")
    if commit.endswith("-dirty"):
        commit = commit.removesuffix("-dirty") + " with uncommitted changes"
    return {"sweep_id": tags.get("sweep_id", "-"), "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "aebench version": tags.get("aebench.version", "-"), "git commit": commit,
            "command": tags.get("sweep.command", "-"), "MLflow": f"{uri}, experiment '{experiment}', parent run {parent.info.run_id}",
            **{key: tags[f"sweep.{key}"] for key in ("hardware", "python", "libraries") if f"sweep.{key}" in tags}}


def data_digests(store: TrackingStore, runs: pd.DataFrame) -> dict[str, str]:
    """``data <dataset>``: the digests of its three splits and their source, as a run of it logged
    them (``aebench.tracking.datasets``): what the numbers were measured on."""
    found = {}
    if runs.empty or "dataset" not in runs:
        return found
    for dataset, members in runs[runs["model"] != "pca"].groupby("dataset"):
        inputs = store.client.get_run(members["run_id"].iloc[0]).inputs
        splits = [(tag.value, item.dataset) for item in (inputs.dataset_inputs if inputs else [])
                  for tag in item.tags if tag.key == "mlflow.data.context"]
        if splits:
            source = json.loads(splits[0][1].source).get("uri", "-")
            found[f"data {dataset}"] = ", ".join(f"{context} {data.digest}" for context, data in splits) + f" ({source})"
    return found


def current_selection(runs: pd.DataFrame, rows: dict[str, list[str]]) -> pd.DataFrame:
    """A tuned sweep's final runs as its latest selection names them (``selected_for`` from the
    selection, not from tags an earlier selection left); final runs it no longer names are dropped."""
    if "stage" not in runs:
        return runs
    chosen: dict[str, list[str]] = {}
    for name, keys in rows.items():
        for key in keys:
            chosen.setdefault(key, []).append(name)
    final = runs["stage"] == "final"
    kept = runs[~final | runs["run_key"].isin(chosen)].copy()
    is_final = kept["stage"] == "final"
    kept.loc[is_final, "selected_for"] = kept.loc[is_final, "run_key"].map(lambda key: "+".join(chosen[key]))
    return kept


def penalty_off_rows(runs: pd.DataFrame, off_rows: list[dict]) -> pd.DataFrame:
    """A tuned sweep's penalties chosen off (``aebench.sweep.tuning``): their row is the row of
    regularizer=none chosen for the same selection, which says so (column ``penalty_off_of``:
    {selection: [regularizers]}, read by ``aebench.report.table.by_selection``). They get no row of
    their own: a copy would tie its none row, count twice in the tests against the best row, and
    stand in the ranks as a method of its own."""
    if not off_rows or "run_key" not in runs:
        return runs
    found: dict[str, dict[str, list[str]]] = {}
    for row in off_rows:
        for key in row["run_keys"]:
            found.setdefault(key, {}).setdefault(row["selection"], []).append(row["regularizer"])
    return runs.assign(penalty_off_of=runs["run_key"].map(found))


def collect(store: TrackingStore, sweep_id: str | None = None, whole_experiment: bool = False) -> ReportData:
    """The latest sweep of the store's experiment, the sweep ``sweep_id``, or every run of the experiment."""
    parents = sorted(search_all(store, f"tags.`{KIND}` = 'sweep'"), key=lambda r: r.info.start_time, reverse=True)
    where = f"experiment '{store.experiment_name}' at {store.uri}"
    if whole_experiment:
        children = search_all(store, f"tags.`{KIND}` = 'run'")
        if not children:
            raise ConfigError("tracking.experiment", store.experiment_name,
                              f"an experiment with runs; {where} has none")
        runs, failed = _counted(children)
        cite = {"experiment": store.experiment_name, "sweeps": ", ".join(p.data.tags["sweep_id"] for p in parents)}
        return ReportData(f"experiment {store.experiment_name}", f"experiment-{store.experiment_name}", runs,
                          failed, _skipped(store, parents), cite)
    if not parents:
        raise ConfigError("report.sweep_id", sweep_id, f"a sweep of {where}, which has none yet: "
                          "run python -m aebench +sweep=quick (or +sweep=all) first")
    if sweep_id is None:
        parent = parents[0]
    else:
        matching = [p for p in parents if p.data.tags.get("sweep_id") == str(sweep_id)]
        if not matching:
            known = ", ".join(p.data.tags["sweep_id"] for p in parents[:10])
            raise ConfigError("report.sweep_id", sweep_id, f"one of the sweeps of {where} (latest first): {known}")
        parent = matching[0]
    identity = parent.data.tags["sweep_id"]
    runs, failed = _counted(search_all(store, f"tags.mlflow.parentRunId = '{parent.info.run_id}'"))
    cite = {**_cite(parent, store.experiment_name, store.uri), **data_digests(store, runs)}
    chosen = store.read_json(parent.info.run_id, "selection.json")  # a tuned sweep's (aebench.sweep.tuning)
    if chosen is not None and "rows" in chosen:
        runs = penalty_off_rows(current_selection(runs, chosen["rows"]), chosen.get("penalty_off_rows", []))
    server = store.uri if store.uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000"  # mlflow ui's
    link = f"{server.rstrip('/')}/#/experiments/{store.experiment_id}/runs/{{run_id}}"
    return ReportData(f"sweep {parent.data.tags.get('sweep.name', '')} {identity}".replace("  ", " "), identity,
                      runs, failed, _skipped(store, [parent]), cite, parent.info.run_id,
                      None if chosen is None else chosen["protocol"], link)
