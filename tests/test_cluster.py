"""Sweeps past one machine, with the real services and the faults a cluster user meets: a SLURM
cluster and an MLflow server on PostgreSQL (``scripts/services.sh start`` provides them; CI
requires them), and two identical sweeps started at once."""
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient
from sweeps import aebench, mlflow_server, runs, slurm

from aebench.config import config_dir
from aebench.run.train import train
from aebench.tracking import TrackingStore
from aebench.tracking.claims import StoreClaim
from aebench.tracking.owners import owner_alive, owner_tags, process_started

# 1 dataset x 1 model x 2 regularizers x 1 seed: 2 runs (each SLURM job starts a fresh Python: ~10 s)
GRID = ["+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[linear]", "sweep.regularizers=[none,l2]",
        "sweep.seeds=1", "trainer.max_epochs=2"]
RUNS = 2
ON_SLURM = ["hydra/launcher=submitit_slurm", "hydra.launcher.timeout_min=10"]
ROOT = Path(__file__).resolve().parents[1]
# pytest-xdist keeps this file's tests on one worker, in order (WHOLE_FILES in conftest.py): these share the one SLURM
# node and the MLflow server, which one of them restarts, while the other workers run the rest


def launch(folder, *arguments) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aebench", *arguments], cwd=folder, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def server_tracking() -> tuple[list[str], dict]:
    """Overrides that send a sweep to the MLflow server, in an experiment of its own, and how to read it."""
    uri, experiment = mlflow_server(), f"test-{uuid.uuid4().hex[:12]}"
    return [f"tracking.uri={uri}", f"tracking.experiment={experiment}"], {"uri": uri, "experiment": experiment}


def once_each(children) -> Counter:
    """How each training run ended, after asserting that every combination FINISHED exactly once."""
    finished = Counter(run.data.tags["run_key"] for run in children if run.info.status == "FINISHED")
    assert set(finished.values()) == {1}, finished
    assert len(finished) == RUNS
    return Counter(run.info.status for run in children)


def test_a_claim_in_the_store_has_one_holder_and_a_dead_holder_loses_it(tmp_path):
    store = TrackingStore(f"sqlite:///{tmp_path / 'mlflow.db'}", "claims")
    first, second = StoreClaim(store, "sweep x"), StoreClaim(store, "sweep x")
    assert first.acquire({"who": "first"}, stale=lambda tags: False) is None
    assert second.acquire({"who": "second"}, stale=lambda tags: False) == {"who": "first"}
    assert second.acquire({"who": "second"}, stale=lambda tags: tags["who"] == "first") is None  # broken
    assert first.acquire({"who": "first"}, stale=lambda tags: False) == {"who": "second"}
    second.release()
    assert first.acquire({"who": "first"}, stale=lambda tags: False) is None
    assert StoreClaim(store, "sweep y").acquire({}, stale=lambda tags: False) is None  # claims are per name
    store.client.delete_experiment(first.experiment_id)  # a user tidying the UI deletes a held claim
    assert StoreClaim(store, "sweep x").acquire({"who": "third"}, stale=lambda tags: False) is None
    visible = [e.name for e in store.client.search_experiments()]
    assert "claims" in visible and sum(name.startswith("aebench.claim/") for name in visible) == 2
    other = TrackingStore(store.uri, "claims elsewhere")  # the same sweep in another experiment of the store
    assert StoreClaim(other, "sweep x").acquire({}, stale=lambda tags: False) is None


def test_a_run_owner_is_alive_while_its_process_lives():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    tags = {**owner_tags(), "aebench.pid": str(sleeper.pid), "aebench.process_started": process_started(sleeper.pid)}
    assert owner_alive(tags)
    assert not owner_alive({**tags, "aebench.process_started": "1"})  # its pid, reused by another process
    sleeper.kill()
    sleeper.wait()
    assert not owner_alive(tags)
    assert not owner_alive({"aebench.host": "another-host", "aebench.pid": "1"})


@pytest.mark.slow
@pytest.mark.parametrize("where", ["sqlite", "server"])
def test_two_identical_sweeps_started_together_train_each_combination_once(tmp_path, where):
    tracking, read = server_tracking() if where == "server" else ([], {})
    both = [launch(tmp_path, *GRID, *tracking) for _ in range(2)]  # on SQLite: a new store, created by both
    ended = [(sweep.communicate(timeout=600), sweep.returncode) for sweep in both]
    for (out, err), code in ended:
        assert "Traceback" not in err and code in (0, 2), err[-3000:]
        if code == 2:
            assert "one invocation at a time" in err.strip().splitlines()[-1]
    assert 0 in [code for _, code in ended]
    assert once_each(runs(tmp_path, **read)) == {"FINISHED": RUNS}


@pytest.mark.slow
def test_a_sweep_runs_as_slurm_jobs_against_the_server_and_reports_from_it(tmp_path):
    slurm()
    tracking, read = server_tracking()
    done = aebench(tmp_path, *GRID, *ON_SLURM, *tracking)
    assert done.returncode == 0, done.stderr[-3000:]
    children = runs(tmp_path, **read)
    assert once_each(children) == {"FINISHED": RUNS}
    jobs = {run.data.tags.get("slurm.job_id") for run in children}
    assert None not in jobs and len(jobs) == RUNS  # each run trained in a SLURM job of its own
    (parent,) = runs(tmp_path, "sweep", **read)
    assert parent.info.status == "FINISHED"
    report = next((tmp_path / "reports").glob("*/leaderboard.md")).read_text()
    rows = [line for line in report.splitlines() if re.match(r"\| linear \| (none|l2) \| 1 \|", line)]
    assert len(rows) == RUNS and f"MLflow: {read['uri']}, experiment '{read['experiment']}'" in report  # from the server


def running_jobs(name_part: str) -> list[str]:
    listed = subprocess.run(["squeue", "-h", "-o", "%i %T %j"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in listed.splitlines() if "RUNNING" in line and name_part in line]


def training_runs(client: MlflowClient, experiment_name: str) -> list:
    """The training runs of the experiment that are RUNNING now (none before it exists)."""
    experiment = client.get_experiment_by_name(experiment_name)
    return experiment and client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING' and "
                                             "tags.`aebench.kind` = 'run'")


def wait_for(condition, timeout: float = 240, every: float = 1.0):
    ends = time.time() + timeout
    while time.time() < ends:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise AssertionError("timed out waiting")


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["scancel one job", "SIGKILL the launching process"])
def test_a_cluster_sweep_hit_by_a_fault_and_rerun_loses_nothing_and_trains_nothing_twice(tmp_path, fault):
    """Every combination ends FINISHED exactly once, nothing stays RUNNING, no finished run trains again."""
    slurm()
    tracking, read = server_tracking()
    long = [*GRID, "trainer.max_epochs=80", "trainer.patience=80", *ON_SLURM, *tracking]
    first = launch(tmp_path, *long)
    client = MlflowClient(read["uri"])

    victim = wait_for(lambda: training_runs(client, read['experiment']))[0]
    if fault == "scancel one job":
        subprocess.run(["scancel", victim.data.tags["slurm.job_id"]], check=True)
    else:
        os.killpg(first.pid, signal.SIGKILL)  # the launcher dies; its SLURM jobs go on
    first.communicate(timeout=600)
    rerun = aebench(tmp_path, *long)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    started = re.search(r"(\d+) to train, (\d+) already finished", rerun.stdout)
    children = runs(tmp_path, **read)
    statuses = once_each(children)
    assert statuses["RUNNING"] == 0
    print(f"{fault}: {len(children)} runs, {statuses}, rerun: {started.group(0)}")
    if fault == "scancel one job":
        killed = [run for run in children if run.info.status == "KILLED"]
        assert [run.data.tags["run_key"] for run in killed] == [victim.data.tags["run_key"]]
        reason = killed[0].data.tags["failure_reason"]  # its own (SIGTERM), or the rerun's if SIGKILL came first
        assert "SIGTERM" in reason or "earlier invocation" in reason, reason
    else:
        assert statuses["KILLED"] == 0  # the jobs outlived their launcher: none was trained again


@pytest.mark.slow
def test_a_diverging_run_on_the_cluster_fails_with_its_reason_while_its_neighbour_finishes(tmp_path):
    slurm()
    tracking, read = server_tracking()
    done = aebench(tmp_path, "+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[linear]",
                   "sweep.regularizers=[none]", "sweep.seeds=1", "trainer.max_epochs=3", "trainer.lr=0.01,1e30",
                   *ON_SLURM, *tracking)
    assert done.returncode == 1  # a failed run fails the sweep, after every other run ended
    by_lr = {run.data.params["trainer.lr"]: run for run in runs(tmp_path, **read)}
    assert by_lr["0.01"].info.status == "FINISHED" and by_lr["1e+30"].info.status == "FAILED"
    assert "TrainingDiverged: train/loss became nan" in by_lr["1e+30"].data.tags["failure_reason"]


@pytest.mark.slow
def test_the_mlflow_server_restarted_under_running_jobs_leaves_no_finished_run_incomplete(tmp_path):
    """Jobs retry their logging while the server is away and finish, or fail and are re-run: never a
    FINISHED run with missing epochs or artifacts."""
    slurm()
    tracking, read = server_tracking()
    long = [*GRID, "trainer.max_epochs=80", "trainer.patience=80", *ON_SLURM, *tracking]
    first = launch(tmp_path, *long)
    client = MlflowClient(read["uri"])

    wait_for(lambda: training_runs(client, read['experiment']))
    subprocess.run(["bash", "scripts/services.sh", "restart-mlflow"], cwd=ROOT, check=True, timeout=180)
    first.communicate(timeout=600)
    if first.returncode != 0:  # something did not finish: the resume trains it
        assert aebench(tmp_path, *long).returncode == 0
    children = runs(tmp_path, **read)
    assert once_each(children)["RUNNING"] == 0
    for run in children:
        if run.info.status == "FINISHED":
            epochs = int(run.data.metrics["train/epochs_trained"])
            assert len(client.get_metric_history(run.info.run_id, "train/loss")) == epochs
            assert {"config.yaml", "reconstructions.png"} <= {a.path for a in client.list_artifacts(run.info.run_id)}
    print(f"server restarted: first invocation exit {first.returncode}, {Counter(r.info.status for r in children)}")


@pytest.mark.slow
@pytest.mark.parametrize("flush_seconds", [0, 3600])
def test_a_finished_run_on_the_mlflow_server_holds_every_epoch_it_logged(flush_seconds):
    """As on SQLite (test_training): epochs kept in memory are all written before the run is FINISHED."""
    uri = mlflow_server()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[f"tracking.uri={uri}", f"tracking.experiment=test-{uuid.uuid4().hex[:12]}",
                                           "trainer.max_epochs=7", "trainer.patience=null", "trainer.progress_bar=false",
                                           f"tracking.flush_seconds={flush_seconds}"])
    result = train(cfg)
    client = MlflowClient(uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["train/epochs_trained"] == 7
    for name in ("train/loss", "val/loss"):
        assert [m.step for m in client.get_metric_history(result.run_id, name)] == list(range(7))
