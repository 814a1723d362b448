"""MLflow tracking: checking the store, creating runs, and the Lightning logger that writes into one.

The store is a SQLite database (``sqlite:///mlruns/mlflow.db``, artifacts beside it) or an
MLflow server (``http(s)://host:port``); MLflow 3 refuses the plain file store, so a bare
path or ``file:`` URI is refused here first, with the alternative named.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Mapping

from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from aebench.errors import ConfigError
from aebench.tracking.schema import start_from_template

DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
SERVER_SCHEMES = ("http", "https")
ALLOWED_URIS = "sqlite:///path/to/mlflow.db, a database URI (postgresql://...) or an MLflow server http(s)://host:port"


def uri_scheme(uri: str) -> str:
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", uri)
    return match.group(1).split("+")[0].lower() if match else ""


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the working folder), else None."""
    if uri_scheme(uri) != "sqlite":
        return None
    return Path(uri.split(":///", 1)[1]) if ":///" in uri else None


def check_tracking_uri(uri: str, timeout_s: float = 5.0) -> None:
    """Fail with one line unless ``uri`` names a store MLflow can use and, for a server, it answers."""
    scheme = uri_scheme(uri)
    if scheme in ("", "file"):
        raise ConfigError("tracking.uri", uri, f"MLflow 3 refuses the file store; use {ALLOWED_URIS}")
    if scheme not in DATABASE_SCHEMES + SERVER_SCHEMES:
        raise ConfigError("tracking.uri", uri, f"one of {ALLOWED_URIS}")
    if scheme == "sqlite":
        path = sqlite_path(uri)
        if path is None or path.name == "":
            raise ConfigError("tracking.uri", uri, "sqlite:///relative/path/mlflow.db or sqlite:////absolute/path")
        if path.exists() and not path.is_file():
            raise ConfigError("tracking.uri", uri, "a SQLite database file; that path is a folder")
    if scheme in SERVER_SCHEMES:
        health = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(health, timeout=timeout_s) as response:
                answered = response.status == 200
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise ConfigError("tracking.uri", uri, f"a reachable MLflow server; {health} failed ({reason})") from None
        if not answered:
            raise ConfigError("tracking.uri", uri, f"a reachable MLflow server; {health} did not answer 200")


# MLflow 3's UI opens an experiment of this kind on its runs table, not on the GenAI overview
KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"


def ui_command(uri: str) -> str:
    """The command that shows the runs of ``uri`` in the MLflow UI, bound to this machine only."""
    if uri_scheme(uri) in SERVER_SCHEMES:
        return f"open {uri} in a browser"
    return f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000"


def runs_page(uri: str, experiment_id: str) -> str:
    """The address of the experiment's runs table in the MLflow UI (a local store: as ``ui_command``
    serves it). ``workflowType=machine_learning``: MLflow 3.17's UI opens a browser it has not seen
    before on its GenAI overview, whatever the experiment's kind."""
    base = uri.rstrip("/") if uri_scheme(uri) in SERVER_SCHEMES else "http://127.0.0.1:5000"
    return f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def _artifact_location(uri: str, experiment: str) -> str | None:
    """Artifacts of a SQLite store go beside its database file; a server decides its own."""
    path = sqlite_path(uri)
    if path is None:
        return None
    folder = re.sub(r"[^A-Za-z0-9._-]+", "_", experiment)
    return (path.parent.resolve() / "artifacts" / folder).as_uri()


@contextmanager
def _creating(database: Path | None):
    """Hold a lock on a SQLite store's folder while creating or opening it: two processes that create
    one store at once collide in MLflow's schema migration (alembic), so they take turns. A server
    or a database server creates its schema once, itself."""
    if database is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(database.parent, os.O_RDONLY)  # the folder itself is the lock: no file is left behind
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
        except OSError:
            pass  # a file system without flock (Lustre without the option): no lock, as before
        yield
    finally:
        os.close(folder)  # releases the lock


class TrackingStore:
    """One MLflow experiment in one store; creates, fills and ends runs."""

    _shared: dict[tuple[str, str], "TrackingStore"] = {}

    @classmethod
    def shared(cls, uri: str, experiment: str) -> "TrackingStore":
        """One store object per process and (uri, experiment): the jobs of a sweep reuse it."""
        key = (uri, experiment)
        if key not in cls._shared:
            check_tracking_uri(uri)
            cls._shared[key] = cls(uri, experiment)
        return cls._shared[key]

    def __init__(self, uri: str, experiment: str):
        from mlflow import MlflowClient

        self.uri, self.experiment_name = uri, experiment
        self._buffered: dict[str, list] = {}       # run id -> metrics kept in memory, not yet written
        self._written_at: dict[str, float] = {}    # run id -> when its metrics were last written
        database = sqlite_path(uri)
        with _creating(database):  # MLflow creates a new store's schema on the first client call
            if database is not None and not database.exists():
                start_from_template(database)  # MLflow's empty schema, built once (aebench.tracking.schema)
            self.client = MlflowClient(tracking_uri=uri)
            found = self.client.get_experiment_by_name(experiment)
            if found is None:
                found = self._create_experiment(experiment)
        self.experiment_id = found.experiment_id
        if found.tags.get(KIND_TAG) is None:  # an experiment from before aebench marked its kind
            self.client.set_experiment_tag(self.experiment_id, KIND_TAG, MODEL_TRAINING)

    def _create_experiment(self, experiment: str):
        """Create the experiment, or find the one another process created a moment before."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_experiment(experiment, artifact_location=_artifact_location(self.uri, experiment),
                                          tags={KIND_TAG: MODEL_TRAINING})
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        return self.client.get_experiment_by_name(experiment)

    @classmethod
    def existing(cls, uri: str, experiment: str) -> "TrackingStore":
        """A store and experiment that already hold runs; one line says what is missing, and nothing is created."""
        from mlflow import MlflowClient

        check_tracking_uri(uri)
        path = sqlite_path(uri)
        if path is not None and not path.is_file():
            raise ConfigError("tracking.uri", uri, f"an existing MLflow store; there is no {path} here: "
                              "run python -m aebench (or a sweep) first")
        if MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment) is None:
            raise ConfigError("tracking.experiment", experiment, f"an experiment of the store {uri}; it has none "
                              "of that name")
        return cls(uri, experiment)

    def start_run(self, run_name: str, tags: Mapping[str, str], params: Mapping[str, Any],
                  parent_run_id: str | None = None) -> str:
        all_tags = dict(tags)
        if parent_run_id is not None:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=all_tags)
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(key, str(value)) for key, value in params.items()]
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params a batch
            self.client.log_batch(run_id, params=items[start:start + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0, flush_seconds: float = 0.0) -> None:
        """Written now (``flush_seconds=0``), or kept in memory with the run's other epochs and
        written together once ``flush_seconds`` have passed since the last write: one write per
        epoch costs about 9 ms on a SQLite store, more than an epoch of a small model.
        :meth:`flush` (which :meth:`finish_run` calls first) writes what is kept."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._buffered.setdefault(run_id, []).extend(Metric(key, float(value), now, step) for key, value in metrics.items())
        last = self._written_at.setdefault(run_id, time.perf_counter())
        if flush_seconds <= 0 or time.perf_counter() - last >= flush_seconds:
            self.flush(run_id)

    def flush(self, run_id: str) -> None:
        """Write the run's metrics kept in memory (in batches of 1,000, MLflow's limit)."""
        items = self._buffered.pop(run_id, [])
        for start in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[start:start + 1000])
        self._written_at[run_id] = time.perf_counter()

    def finish_run(self, run_id: str, status: str) -> None:
        """``status`` is FINISHED, FAILED or KILLED; the run's kept metrics are written first (a
        FINISHED run holds every epoch it logged)."""
        try:
            self.flush(run_id)
        except Exception:  # noqa: BLE001 (a run that failed anyway still ends; a FINISHED one must not lose a write)
            if status == "FINISHED":
                raise
        self.client.set_terminated(run_id, status)

    def download_artifact(self, run_id: str, name: str, folder: str) -> Path | None:
        """The run's artifact ``name``, copied into ``folder``; None when the run has no such artifact."""
        try:
            return Path(self.client.download_artifacts(run_id, name, folder))
        except Exception:  # noqa: BLE001 (MLflow raises several kinds for a missing artifact)
            return None

    def read_json(self, run_id: str, name: str) -> Any:
        """The run's JSON artifact ``name``, parsed; None when the run has no such artifact."""
        with tempfile.TemporaryDirectory() as folder:
            path = self.download_artifact(run_id, name, folder)
            return None if path is None else json.loads(path.read_text())


class RunLogger(Logger):
    """Lightning logger writing epoch metrics into an existing MLflow run (step = epoch), each
    name behind ``prefix`` (the stages of layer-wise pretraining use ``pretrain/layer<l>/``).

    Unlike Lightning's ``MLFlowLogger`` it never ends the run: the run is FINISHED only by
    whoever created it, after every artifact is in, so FINISHED always means complete.
    """

    def __init__(self, store: TrackingStore, run_id: str, prefix: str = "", flush_seconds: float = 0.0):
        super().__init__()
        self.store, self.run_id, self.prefix, self.flush_seconds = store, run_id, prefix, flush_seconds

    @property
    def name(self) -> str:
        return self.store.experiment_name

    @property
    def version(self) -> str:
        return self.run_id

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Parameters are the run's flattened config, logged when the run is created."""

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        metrics = dict(metrics)
        epoch = metrics.pop("epoch", None)
        metrics = {self.prefix + name: value for name, value in metrics.items()}
        self.store.log_metrics(self.run_id, metrics, step=int(epoch if epoch is not None else step or 0),
                               flush_seconds=self.flush_seconds)  # written before the run ends
