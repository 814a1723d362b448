"""A new SQLite store starts from a copy of MLflow's empty schema.

MLflow builds a new SQLite store's schema by creating its first tables and running every one of
its migrations after them (alembic): about 2 s of a 2-core machine, paid by every run, sweep and
test that starts in a new folder (BENCHMARKS.md). The first time, aebench has MLflow build that
schema once in a file of its cache (``schema_template``: MLflow's own ``_initialize_tables`` on an
empty database, nothing else), and copies the file to each new store's path. MLflow then finds its
tables at the latest revision (it checks that on every store it opens) and creates the default
experiment itself, with this store's artifact root and time, as it does on a store it built.

The template is keyed by MLflow's version and written under a temporary name, then renamed, so no
process ever copies half of one. ``AEBENCH_CACHE`` names the cache folder (default
``$XDG_CACHE_HOME/aebench`` or ``~/.cache/aebench``); ``AEBENCH_CACHE=off`` turns the template off,
and a cache that cannot be written leaves MLflow to build each schema, as before.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def cache_folder() -> Path | None:
    """aebench's cache folder, or None where ``AEBENCH_CACHE=off``."""
    chosen = os.environ.get("AEBENCH_CACHE")
    if chosen is not None:
        return None if chosen.strip().lower() in ("off", "") else Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "aebench"


def schema_template() -> Path | None:
    """The file holding MLflow's empty schema for the installed MLflow, built the first time; None
    where there is no cache or it cannot be written."""
    folder = cache_folder()
    if folder is None:
        return None
    from mlflow.version import VERSION  # mlflow or mlflow-skinny alike

    template = folder / f"mlflow-{VERSION}-schema.db"
    if template.is_file():
        return template
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=folder, prefix=template.name, suffix=".partial")
        os.close(handle)
    except OSError:
        return None
    try:
        _build_schema(Path(partial))
        os.replace(partial, template)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return template


def _build_schema(database: Path) -> None:
    """MLflow's tables at its latest revision in ``database``, as MLflow builds them in a new store."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    try:
        _initialize_tables(engine)
    finally:
        engine.dispose()


def start_from_template(database: Path) -> None:
    """Copy the schema template to ``database``, a path where no store exists yet; nothing where
    there is no template, and MLflow builds the schema itself."""
    template = schema_template()
    if template is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, database)
