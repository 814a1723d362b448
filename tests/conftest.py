"""Shared fixtures: the real Hydra config (Compose API) and a real SQLite MLflow store per session."""
from __future__ import annotations

import os
import uuid

import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient

from aebench.config import config_dir
from aebench.tracking import TrackingStore

# files whose tests run in order on one pytest-xdist worker: the cluster tests share the one SLURM node and
# the MLflow server, which one of them restarts; the others share a module-scoped fixture (a sweep)
WHOLE_FILES = {"test_cluster.py", "test_regularizers.py", "test_report.py", "test_transfer.py"}

try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # without pytest-xdist the suite runs in one process
    LoadScopeScheduling = None
else:
    class TestOrFileScheduling(LoadScopeScheduling):
        """``--dist loadscope`` with aebench's scopes: a file of WHOLE_FILES, else each test on its own, so the
        long files (test_sweep.py) spread over the workers. (pytest-xdist's ``xdist_group`` mark would say this per
        test, but pytest 9.2 drops the node id suffix that ``--dist loadgroup`` groups by.)"""

        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return file if os.path.basename(file) in WHOLE_FILES else nodeid

    def pytest_xdist_make_scheduler(config, log):
        if config.getvalue("dist") == "loadscope":
            return TestOrFileScheduling(config, log)
        return None


FAST = ["trainer.max_epochs=3", "trainer.progress_bar=false", "tracking.log_model=false"]


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory) -> str:
    """One SQLite store for the session, created once (creating it costs seconds)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlruns') / 'mlflow.db'}"
    TrackingStore(uri, "warm-up")
    return uri


@pytest.fixture
def make_config(tracking_uri):
    """``make_config(*overrides)``: the project's config composed by Hydra, tracked in a fresh experiment."""
    experiment = f"test-{uuid.uuid4().hex[:8]}"

    def compose_config(*overrides: str, fast: bool = True):
        base = [f"tracking.uri={tracking_uri}", f"tracking.experiment={experiment}"]
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return compose("config", overrides=base + (FAST if fast else []) + list(overrides))

    compose_config.experiment = experiment
    return compose_config


@pytest.fixture
def client(tracking_uri) -> MlflowClient:
    return MlflowClient(tracking_uri)


def experiment_runs(client: MlflowClient, experiment: str):
    found = client.get_experiment_by_name(experiment)
    return [] if found is None else client.search_runs([found.experiment_id])
