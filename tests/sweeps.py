"""Helpers for the sweep tests: run aebench in a fresh process and read its store back."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from mlflow import MlflowClient

REQUIRE = "AEBENCH_REQUIRE_SYSTEM"  # set by .ci/run, which installs every program the tests use

# a small grid: 2 datasets x 2 models x 2 regularizers x 1 seed, of which 4 are refused by rules
SMALL = ["+sweep=quick", "sweep.models=[linear,conv]", "sweep.regularizers=[none,sparse_kl]", "sweep.seeds=1",
         "trainer.max_epochs=2"]


@contextmanager
def local_mlflow(folder: Path, store_uri: str, command: str = "server") -> Iterator[str]:
    """``python -m mlflow server`` (or ``ui``) on ``store_uri`` at a free local port, answering its
    health check; yields its address and stops it on exit."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "mlflow", command, "--host", "127.0.0.1", "--port", str(port),
                                "--backend-store-uri", store_uri, "--workers", "1"], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"mlflow {command} did not start")
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


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
