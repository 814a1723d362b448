"""The console: aebench's one-line errors and the library chatter kept off the screen."""
from __future__ import annotations

import logging
import os
import sys
import warnings

from aebench.errors import ConfigError


def quiet_libraries() -> None:
    """Keep the console for aebench's own output: library chatter below warnings is dropped."""
    import mlflow  # noqa: F401  (mlflow sets its logger's level when imported: import it first)

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # "pytorch_lightning": mlflow.pytorch imports that package, whose import points Lightning's shared
    # rank-zero logger (lightning_utilities) at its own name; later Trainers then log through it
    for name in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r".*`noload`.*")
    # on a machine with SLURM's client, Lightning hints at srun for any process outside a SLURM job;
    # aebench's cluster sweeps start their jobs with srun through Hydra's submitit launcher already
    warnings.filterwarnings("ignore", message=r"The `srun` command is available on your system")


def fail(error: ConfigError) -> None:
    """One line on stderr naming the value and what is allowed, exit status 2."""
    print(f"aebench: error: {error}", file=sys.stderr)
    sys.exit(2)
