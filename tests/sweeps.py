"""Helpers for the sweep tests: run aebench in a fresh process and read its store back."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

REQUIRE = "AEBENCH_REQUIRE_SYSTEM"  # set by .ci/run, which installs every program the tests use

# a small grid: 2 datasets x 2 models x 2 regularizers x 1 seed, of which 4 are refused by rules
SMALL = ["+sweep=quick", "sweep.models=[linear,conv]", "sweep.regularizers=[none,sparse_kl]", "sweep.seeds=1",
         "trainer.max_epochs=2"]


def aebench(folder: Path, *arguments: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aebench", *arguments], cwd=folder, capture_output=True,
                          text=True, timeout=timeout)


def store(folder: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")


def runs(folder: Path, kind: str = "run", pca: bool = False, uri: str | None = None, experiment: str = "aebench"):
    """The runs of a folder's store (or of the store at ``uri``): parents (``kind="sweep"``) or
    training runs, PCA baselines on request."""
    client = store(folder) if uri is None else MlflowClient(uri)
    experiment = client.get_experiment_by_name(experiment)
    found = client.search_runs([experiment.experiment_id], max_results=5000)
    return [run for run in found if run.data.tags.get("aebench.kind") == kind
            and (pca or run.data.tags.get("model") != "pca")]


def needs_program(name: str, provides: str) -> None:
    """Skip a test whose system program is missing, naming the command that provides it; fail
    instead where CI has promised every program (``AEBENCH_REQUIRE_SYSTEM=1``)."""
    reason = f"needs {name}, which this machine lacks: {provides}"
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} ({REQUIRE}=1: .ci/run installs it)")
    pytest.skip(reason)


SERVICES = "scripts/services.sh start (as root: it installs and starts them from Debian's packages)"


def mlflow_server() -> str:
    """The MLflow server on PostgreSQL that scripts/services.sh started (AEBENCH_MLFLOW_SERVER)."""
    uri = os.environ.get("AEBENCH_MLFLOW_SERVER")
    if not uri:
        needs_program("an MLflow server on PostgreSQL (AEBENCH_MLFLOW_SERVER)", SERVICES)
    return uri


def slurm() -> None:
    """A SLURM cluster that accepts jobs (AEBENCH_SLURM=1, from scripts/services.sh)."""
    if os.environ.get("AEBENCH_SLURM") != "1" or shutil.which("sbatch") is None:
        needs_program("a SLURM cluster (AEBENCH_SLURM=1)", SERVICES)
