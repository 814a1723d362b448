"""A new SQLite store copied from MLflow's empty schema (``aebench.tracking.schema``) is the store MLflow
builds itself: the same tables, indexes and revision, its default experiment, and runs that log and read back."""
import sqlite3

from aebench.tracking import TrackingStore
from aebench.tracking.schema import schema_template


def clauses(sql):
    """A CREATE statement's clauses, in any order: MLflow's migrations write a table's CHECK constraints
    in an order that varies with the process's hash seed."""
    return None if sql is None else sorted(line.strip().rstrip(",") for line in sql.splitlines())


def schema(database):
    with sqlite3.connect(database) as connection:
        tables = sorted((kind, name, table, clauses(sql)) for kind, name, table, sql
                        in connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        experiments = connection.execute("SELECT experiment_id, name, lifecycle_stage FROM experiments "
                                         "ORDER BY experiment_id").fetchall()
    return tables, revision, experiments


def test_a_store_from_the_template_is_the_store_mlflow_builds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow places the default experiment's artifacts under the working folder
    monkeypatch.setenv("AEBENCH_CACHE", "off")
    built = TrackingStore(f"sqlite:///{tmp_path / 'built' / 'mlflow.db'}", "e")
    assert not (tmp_path / "cache").exists()

    monkeypatch.setenv("AEBENCH_CACHE", str(tmp_path / "cache"))
    copied = TrackingStore(f"sqlite:///{tmp_path / 'copied' / 'mlflow.db'}", "e")
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [schema_template().name]  # made by that store
    template = schema_template()
    assert template is not None and template.parent == tmp_path / "cache"
    assert schema(template)[2] == []  # MLflow's tables only: the default experiment is MLflow's to create
    assert schema(tmp_path / "copied" / "mlflow.db") == schema(tmp_path / "built" / "mlflow.db")
    default = copied.client.get_experiment("0")
    assert default.name == "Default" and default.artifact_location == built.client.get_experiment("0").artifact_location
    run_id = copied.start_run("r", {"run_key": "k"}, {"lr": 0.01})
    copied.log_metrics(run_id, {"val/loss": 0.5}, step=3)
    copied.finish_run(run_id, "FINISHED")
    run = copied.client.get_run(run_id)
    assert run.data.metrics == {"val/loss": 0.5} and run.info.status == "FINISHED"

    built_at = template.stat().st_mtime_ns
    TrackingStore(f"sqlite:///{tmp_path / 'third' / 'mlflow.db'}", "e")
    assert template.stat().st_mtime_ns == built_at  # built once, then copied
    assert [path.name for path in template.parent.iterdir()] == [template.name]  # no partial file left


def test_a_cache_that_cannot_be_written_leaves_mlflow_to_build_the_store(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("AEBENCH_CACHE", str(blocker / "cache"))  # a folder inside a file: mkdir fails
    store = TrackingStore(f"sqlite:///{tmp_path / 'mlflow.db'}", "e")
    assert schema_template() is None
    assert store.client.get_experiment_by_name("e") is not None
