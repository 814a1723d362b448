"""Shared fixtures: the real Hydra config (Compose API) and a real SQLite MLflow store per session."""
from __future__ import annotations

import uuid

import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient

from aebench.config import config_dir
from aebench.tracking import TrackingStore

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
