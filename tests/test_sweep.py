"""Sweeps end to end, each in fresh processes as a user runs them."""
import itertools
import json
import re
import signal
import subprocess
import sys
import time

import pytest
from hydra import compose, initialize_config_dir
from sweeps import SMALL, aebench, runs, store

from aebench.config import config_dir
from aebench.run.plan import build_datamodule
from aebench.run.rules import describe, first_broken_rule
from aebench.sweep.keys import run_key

pytestmark = pytest.mark.slow

QUICK = {"dataset": ["digits", "synthetic_lowrank"], "model": ["linear", "undercomplete", "conv"],
         "regularizer": ["none", "sparse_kl", "contractive"], "seed": [0, 1]}
PROGRESS = re.compile(r"^\[sweep quick\] \d+/\d+ done, 10 skipped, \d+ failed, \d+:\d\d:\d\d elapsed, ETA \d+:\d\d:\d\d \| "
                      r"\S+ \S+ \S+ seed=\d: (FINISHED|FAILED) in [\d.]+ s \(.*\)$")


def expected_quick_jobs() -> dict[str, str | None]:
    """run_key -> the reason the rule table gives for refusing it (None: it must run), composed here."""
    expected = {}
    for values in itertools.product(*QUICK.values()):
        overrides = ["+sweep=quick"] + [f"{key}={value}" for key, value in zip(QUICK, values)]
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("config", overrides=overrides)
        broken = first_broken_rule(describe(cfg, build_datamodule(cfg).arrays))
        expected[run_key(cfg)] = None if broken is None else str(broken)
    return expected


def test_quick_sweep_on_two_workers_runs_what_is_declared_and_resumes(tmp_path):
    first = aebench(tmp_path, "+sweep=quick", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    assert first.returncode == 0, first.stderr
    expected = expected_quick_jobs()
    to_run = {key for key, reason in expected.items() if reason is None}
    assert len(expected) == 36 and len(to_run) == 26

    (parent,) = runs(tmp_path, "sweep")
    children = runs(tmp_path)
    assert {c.data.tags["run_key"] for c in children} == to_run and len(children) == 26  # none lost, none twice
    for child in children:
        tags = child.data.tags
        assert child.info.status == "FINISHED"
        assert tags["mlflow.parentRunId"] == parent.info.run_id and tags["sweep_id"] == parent.data.tags["sweep_id"]
        assert {"dataset", "model", "regularizer", "seed"} <= tags.keys()
    client = store(tmp_path)
    listed = client.download_artifacts(parent.info.run_id, "skipped.json")
    reasons = sorted(item["reason"] for item in json.load(open(listed)))
    assert reasons == sorted(reason for reason in expected.values() if reason)
    assert parent.info.status == "FINISHED" and parent.data.tags["sweep.skipped"] == "10"

    progress = [line for line in first.stdout.splitlines() if line.startswith("[sweep quick] ") and "|" in line]
    assert len(progress) == 26 and all(PROGRESS.match(line) for line in progress), progress[:3]
    assert "\r" not in first.stdout
    assert "26 finished, 10 skipped, 0 failed" in first.stdout
    baselines = [r for r in runs(tmp_path, pca=True) if r.data.tags["model"] == "pca"]
    assert sorted((r.data.tags["dataset"], r.data.params["model.code_dim"]) for r in baselines) == [
        ("digits", "16"), ("synthetic_lowrank", "16")]

    report = (tmp_path / "reports" / parent.data.tags["sweep_id"] / "leaderboard.md").read_text()
    across = report[report.index("## Across datasets"):]  # two datasets: ranks, and no test claimed
    assert "this sweep has 2 datasets and 5 methods" in across and "| linear / none |" in across  # conv: images only
    assert (tmp_path / "reports" / parent.data.tags["sweep_id"] / "ranks.csv").exists()

    again = aebench(tmp_path, "+sweep=quick")
    assert again.returncode == 0, again.stderr
    assert "0 to train, 26 already finished, 10 skipped by rules" in again.stdout
    assert len(runs(tmp_path, pca=True)) == 28 and len(runs(tmp_path, "sweep")) == 1


def metrics_by_key(folder):
    finished = [r for r in runs(folder) if r.info.status == "FINISHED"]
    return {r.data.tags["run_key"]: (r.data.metrics["test/mse"], r.data.metrics["test/ssim"]) for r in finished}


def test_a_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    grid = ["+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[undercomplete,deep]",
            "sweep.regularizers=[none,denoising]", "sweep.seeds=1", "trainer.max_epochs=25"]
    killed_folder, clean_folder = tmp_path / "killed", tmp_path / "clean"
    killed_folder.mkdir(), clean_folder.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "aebench", *grid], cwd=killed_folder, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if " 2/4 done" in line:
            time.sleep(0.4)  # into the third run
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    statuses = sorted(r.info.status for r in runs(killed_folder))
    assert statuses.count("FINISHED") == 2 and len(statuses) <= 3

    resumed = aebench(killed_folder, *grid)
    assert resumed.returncode == 0, resumed.stderr
    clean = aebench(clean_folder, *grid)
    assert clean.returncode == 0, clean.stderr

    children = runs(killed_folder)
    finished_keys = [r.data.tags["run_key"] for r in children if r.info.status == "FINISHED"]
    assert len(finished_keys) == len(set(finished_keys)) == 4  # each combination FINISHED exactly once
    assert all(r.info.status in ("FINISHED", "KILLED") for r in children)
    for run in children:
        if run.info.status == "KILLED":
            assert "earlier invocation" in run.data.tags["failure_reason"]
    assert metrics_by_key(killed_folder) == metrics_by_key(clean_folder)  # bit for bit, as if never stopped


def test_a_diverging_run_fails_alone(tmp_path):
    done = aebench(tmp_path, "+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[undercomplete]",
                   "sweep.regularizers=[none,l2]", "sweep.seeds=1", "trainer.lr=0.01,1e30")
    assert done.returncode == 1
    children = runs(tmp_path)
    failed = [r for r in children if r.info.status == "FAILED"]
    assert len(children) == 4 and len(failed) == 2
    assert all(r.data.params["trainer.lr"] == "1e+30" for r in failed)
    assert all("TrainingDiverged: train/loss became nan" in r.data.tags["failure_reason"] for r in failed)
    assert "2 finished, 0 skipped, 2 failed" in done.stdout and "Failed (2):" in done.stdout
    (parent,) = runs(tmp_path, "sweep")
    assert parent.info.status == "FAILED" and parent.data.tags["sweep.failed"] == "2"


def test_submitit_launcher_runs_the_jobs(tmp_path):
    done = aebench(tmp_path, "+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[linear]",
                   "sweep.regularizers=[none,l2]", "sweep.seeds=1", "hydra/launcher=submitit_local",
                   "hydra.launcher.timeout_min=10")
    assert done.returncode == 0, done.stderr
    assert sorted(r.info.status for r in runs(tmp_path)) == ["FINISHED", "FINISHED"]


def test_data_parallelism_is_refused_inside_a_sweep(tmp_path):
    done = aebench(tmp_path, *SMALL, "trainer=ddp")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("aebench: error: trainer.strategy='ddp' is not allowed")
    assert not runs(tmp_path) if (tmp_path / "mlruns" / "mlflow.db").exists() else True


@pytest.mark.parametrize("settings, message", [
    (["sweep.seeds=0"], "sweep.seeds=0 is not allowed: an integer >= 1"),
    (["sweep.tune.trials=-1"], "sweep.tune.trials=-1 is not allowed: an integer >= 0"),
    (["sweep.tune.trials=2", "sweep.tune.seed=0"], "sweep.tune.seed=0 is not allowed: an integer >= sweep.seeds (1)"),
    (["sweep.tune.trials=2", "trainer.lr=0.001"], "trainer.lr='0.001' is not allowed: drawn by the tuned sweep")])
def test_a_sweep_that_would_train_nothing_or_the_wrong_thing_is_refused(tmp_path, settings, message):
    done = aebench(tmp_path, *SMALL, *settings)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith(f"aebench: error: {message}")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("slots,processes", [(2, 2), (2, 3)])
def test_each_worker_process_claims_its_own_device(tmp_path, slots, processes):
    script = ("import sys, time; from aebench.sweep.devices import claim_slot; "
              f"print(claim_slot(sys.argv[1], {slots}), flush=True); time.sleep(3)")
    workers = []
    for _ in range(processes):
        workers.append(subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True))
        time.sleep(0.5)
    claimed = [int(worker.stdout.readline()) for worker in workers]
    for worker in workers:
        worker.wait(timeout=30)
    assert sorted(claimed[:slots]) == list(range(slots))  # the first ones never share a device
    assert all(0 <= slot < slots for slot in claimed)


def test_vectorised_seeds_in_a_sweep_are_the_same_runs(tmp_path):
    grid = ["+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[undercomplete,conv]",
            "sweep.regularizers=[none,contractive]", "trainer.max_epochs=2"]
    done = aebench(tmp_path, *grid, "sweep.vectorize_seeds=true")
    assert done.returncode == 0, done.stderr
    children = runs(tmp_path)
    assert len(children) == 8 and all(r.info.status == "FINISHED" for r in children)
    vectorised = {(r.data.tags["model"], r.data.tags["regularizer"]) for r in children
                  if r.data.tags.get("aebench.vectorized_members") == "2"}
    assert vectorised == {("undercomplete", "none"), ("undercomplete", "contractive"), ("conv", "none")}
    again = aebench(tmp_path, *grid)  # one job per seed now: the same runs, so nothing to train
    assert again.returncode == 0 and "0 to train, 8 already finished" in again.stdout


def test_one_data_root_serves_every_file_backed_dataset_of_a_sweep(tmp_path):
    from datafiles import write_mnist

    write_mnist(tmp_path / "files" / "mnist", n_train=120, n_test=30)
    done = aebench(tmp_path, "+sweep=quick", "sweep.datasets=[digits,mnist]", "sweep.models=[linear]",
                   "sweep.regularizers=[none]", "sweep.seeds=1", "trainer.max_epochs=1", f"data_root={tmp_path / 'files'}")
    assert done.returncode == 0, done.stderr
    trained = {r.data.tags["dataset"]: r for r in runs(tmp_path)}
    assert sorted(trained) == ["digits", "mnist"]
    assert trained["mnist"].data.params["dataset.root"] == str(tmp_path / "files")
