"""Tuned sweeps: search spaces declared beside the defaults, the same quasi-random trials for every
combination, selection on validation metrics only, and a resumed tuned sweep that trains no trial twice."""
import json
import math
import signal
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from sweeps import aebench, runs, store

from aebench.config import config_dir
from aebench.run.spec import RunSpec
from aebench.sweep.keys import run_key
from aebench.sweep.search import Dimension, dimensions, trials
from aebench.sweep.tuning import SELECTIONS, Trial, select
from aebench.tracking import TrackingStore, counted_runs


def composed(*overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


@pytest.mark.parametrize("regularizer, expected", [
    ("none", ["trainer.lr"]),
    ("l2", ["trainer.lr", "regularizer.weight"]),
    ("sparse_l1", ["trainer.lr", "regularizer.weight"]),
    ("sparse_kl", ["trainer.lr", "regularizer.target", "regularizer.weight"]),
    ("contractive", ["trainer.lr", "regularizer.weight"]),
    ("denoising", ["trainer.lr", "regularizer.noise_prob"]),  # masking noise: its fraction, not a sigma
    ("sparse_kl_denoising", ["trainer.lr", "regularizer.terms.sparse_kl.target", "regularizer.terms.sparse_kl.weight",
                             "regularizer.terms.denoising.noise_prob"]),
])
def test_every_knob_has_a_search_space_beside_its_default(regularizer, expected):
    dims = dimensions(composed(f"regularizer={regularizer}"))
    assert [dim.key for dim in dims] == expected
    assert all(0 <= dim.low < dim.high and (dim.low > 0 or not dim.log) for dim in dims)


def test_a_dimension_applies_only_to_the_noise_it_sets():
    keys = [dim.key for dim in dimensions(composed("regularizer=denoising", "regularizer.noise=gaussian"))]
    assert keys == ["trainer.lr", "regularizer.noise_std"]


def test_search_spaces_change_no_run_key_and_no_param():
    plain = composed("regularizer=l2")
    wider = composed("regularizer=l2", "regularizer.search_space.weight.high=1.0")
    assert run_key(plain) == run_key(wider)
    assert not any("search_space" in key for key in RunSpec.of(plain).params())
    assert run_key(plain) != run_key(composed("regularizer=l2", "regularizer.weight=0.001"))


def test_trials_are_the_same_quasi_random_points_for_every_combination():
    lr = Dimension("trainer.lr", 3e-4, 3e-2, log=True)
    weight = Dimension("regularizer.weight", 1e-6, 1e-2, log=True)
    alone, paired = trials([lr], 8, seed=1000), trials([lr, weight], 8, seed=1000)
    assert [t["trainer.lr"] for t in alone] == [t["trainer.lr"] for t in paired]  # same budget, same points
    assert len({t["trainer.lr"] for t in alone}) == 8
    assert all(3e-4 <= t["trainer.lr"] <= 3e-2 and 1e-6 <= t["regularizer.weight"] <= 1e-2 for t in paired)
    # a quasi-random sequence covers the log range evenly: one point in each eighth, give or take one
    eighths = sorted(int(8 * math.log(t["trainer.lr"] / 3e-4) / math.log(100)) for t in alone)
    assert len(set(eighths)) >= 6
    assert trials([lr], 8, seed=1000) == alone and trials([lr], 8, seed=1001) != alone
    assert trials([], 8, seed=1000) == [{}]  # nothing to tune: one trial, the defaults


def test_selection_sees_validation_metrics_only(tmp_path):
    """Trials whose test scores rank them the other way round: the choice follows validation."""
    tracking = TrackingStore.shared(f"sqlite:///{tmp_path / 'mlflow.db'}", "selection")
    planned, scores = [], [  # (val/best_loss, test/mse, val/probe_accuracy, test/probe_accuracy, status)
        (0.030, 0.010, 0.70, 0.99, "FINISHED"),
        (0.020, 0.050, 0.90, 0.50, "FINISHED"),   # best on validation for both selections, worst on test
        (0.001, 0.001, 0.99, 0.99, "FAILED"),     # a failed trial is never chosen
    ]
    for index, (val_loss, test_mse, val_probe, test_probe, status) in enumerate(scores):
        run_id = tracking.start_run(f"trial{index}", {"run_key": f"key{index}"}, {})
        tracking.log_metrics(run_id, {"val/best_loss": val_loss, "test/mse": test_mse,
                                      "val/probe_accuracy": val_probe, "test/probe_accuracy": test_probe})
        tracking.finish_run(run_id, status)
        planned.append(Trial("digits deep l2", index, {"trainer.lr": 0.001 * (index + 1)}, [], f"key{index}"))
    found = counted_runs(tracking.client.search_runs([tracking.experiment_id]))
    chosen = select(planned, found)["digits deep l2"]
    assert chosen["reconstruction"]["trial"] == 1 and chosen["features"]["trial"] == 1
    assert chosen["trials_finished"] == 2
    assert all(metric.startswith("val/") for metric, _ in SELECTIONS.values())


GRID = ["+sweep=quick", "sweep.tune.trials=3", "sweep.datasets=[digits]", "sweep.models=[undercomplete]",
        "sweep.regularizers=[none,l2]", "sweep.seeds=2", "trainer.max_epochs=6"]


@pytest.mark.slow
def test_a_killed_tuned_sweep_resumes_without_training_a_trial_twice_and_selects_on_validation(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "aebench", *GRID], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if " 3/6 done" in line:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    before = {r.info.run_id: r.data.tags["run_key"] for r in runs(tmp_path) if r.info.status == "FINISHED"}
    assert len(before) >= 3

    resumed = aebench(tmp_path, *GRID)
    assert resumed.returncode == 0, resumed.stderr
    children = runs(tmp_path)
    finished = [r for r in children if r.info.status == "FINISHED"]
    keys = [r.data.tags["run_key"] for r in finished]
    assert len(keys) == len(set(keys))  # no trial and no final run trained twice
    assert set(before) <= {r.info.run_id for r in finished}  # the trials finished before the kill are kept
    trial_runs = [r for r in finished if r.data.tags.get("sweep.stage") == "trial"]
    final_runs = [r for r in finished if r.data.tags.get("sweep.stage") == "final"]
    assert len(trial_runs) == 6 and all(r.data.tags["seed"] == "1000" for r in trial_runs)
    assert {r.data.tags["seed"] for r in final_runs} == {"0", "1"}

    (parent,) = runs(tmp_path, "sweep")
    selection = json.load(open(store(tmp_path).download_artifacts(parent.info.run_id, "selection.json")))
    assert selection["protocol"]["trials"] == 3 and selection["protocol"]["seeds"] == 2
    for regularizer in ("none", "l2"):
        trials_of = [r for r in trial_runs if r.data.tags["regularizer"] == regularizer]
        (name,) = [c for c in selection["combinations"] if f"regularizer={regularizer}" in c]
        chosen = selection["combinations"][name]
        best_val = min(trials_of, key=lambda r: (r.data.metrics["val/best_loss"], int(r.data.tags["sweep.trial"])))
        assert chosen["reconstruction"]["trial"] == int(best_val.data.tags["sweep.trial"])
        best_probe = max(trials_of, key=lambda r: (r.data.metrics["val/probe_accuracy"], -int(r.data.tags["sweep.trial"])))
        assert chosen["features"]["trial"] == int(best_probe.data.tags["sweep.trial"])
        for selected_for in ("reconstruction", "features"):
            lr = chosen[selected_for]["values"]["trainer.lr"]
            rows = [r for r in final_runs if r.data.tags["regularizer"] == regularizer
                    and selected_for in r.data.tags["sweep.selected_for"].split("+")]
            assert len(rows) == 2 and all(float(r.data.params["trainer.lr"]) == lr for r in rows)

    report = (tmp_path / "reports" / parent.data.tags["sweep_id"] / "leaderboard.md").read_text()
    assert "## digits, tuned for reconstruction" in report and "## digits, tuned for features" in report
    assert "3 trials per dataset x model x regularizer" in report and "selected hyperparameters" in report

    again = aebench(tmp_path, *GRID)
    assert again.returncode == 0, again.stderr
    assert "0 to train" in again.stdout and "jobs of the selected configurations, 0 to train" in again.stdout
    assert len(runs(tmp_path)) == len(children)


def test_the_report_shows_the_final_runs_of_the_latest_selection_only():
    """A trial that failed and trained again may change a choice: the earlier choice's final runs
    stay in the store but are no longer rows."""
    import pandas as pd

    from aebench.report.collect import current_selection

    runs = pd.DataFrame({"run_key": ["t1", "old", "new", "both", "pca"],
                         "stage": ["trial", "final", "final", "final", None],
                         "selected_for": [None, "reconstruction", "features", "features", None]})
    kept = current_selection(runs, {"reconstruction": ["new", "both"], "features": ["both"]})
    assert list(kept["run_key"]) == ["t1", "new", "both", "pca"]
    assert dict(zip(kept["run_key"], kept["selected_for"]))["new"] == "reconstruction"  # the latest choice
    assert dict(zip(kept["run_key"], kept["selected_for"]))["both"] == "reconstruction+features"


def test_the_eta_weighs_the_runs_left_by_what_their_kind_cost(tmp_path):
    """Two cheap runs done, three expensive ones left: the ETA counts them at their own cost."""
    import time

    from aebench.sweep.progress import Progress

    progress = Progress(tmp_path / "progress.jsonl", total=6, skipped=0, started=time.time() - 12.0, name="t")
    progress.plan({"a": "digits linear none reconstruct", "b": "digits linear none reconstruct",
                   "c": "digits conv none reconstruct", "d": "digits conv l2 reconstruct",
                   "e": "digits conv l2 reconstruct", "f": "digits conv contractive reconstruct"})
    for key, seconds in (("a", 1.0), ("b", 1.0), ("c", 10.0)):
        progress.record(key, "FINISHED", seconds)
    # left: d and e (conv l2, unseen: conv's 10 s each) and f (conv, 10 s); one run at a time (12 s of runs in 12 s)
    assert progress.eta(progress._records(), 12.0) == pytest.approx(30.0)
    assert "3/6 done" in progress.line("x") and "ETA 0:00:30" in progress.line("x")
    progress.plan({"g": "digits linear none reconstruct"}, added=True)
    assert progress.planned() == 7 and progress.eta(progress._records(), 6.0) == pytest.approx(31.0 / 2)
