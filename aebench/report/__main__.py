"""``python -m aebench.report``: the report of the latest sweep, of ``report.sweep_id=<id>``, or of the
whole experiment with ``report.whole_experiment=true``; ``tracking.uri`` may name a server."""
from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from aebench.config import config_dir
from aebench.console import fail, quiet_libraries
from aebench.errors import ConfigError
from aebench.report.render import render_report
from aebench.tracking import TrackingStore


def report(cfg: DictConfig) -> None:
    quiet_libraries()
    try:
        store = TrackingStore.existing(cfg.tracking.uri, cfg.tracking.experiment)
        folder = render_report(store, cfg.report.sweep_id, cfg.report.whole_experiment, cfg.report.rank_by,
                               cfg.report.output_dir)
    except ConfigError as error:
        fail(error)
    print(f"aebench report: {folder}/leaderboard.{{md,csv,tex,html}} and its figures")


# a report trains nothing: Hydra keeps no record of it and writes no folder
QUIET_HYDRA = ["hydra.output_subdir=null", "hydra.run.dir=.", "hydra/job_logging=none", "hydra/hydra_logging=none"]


def main() -> None:
    sys.argv += [override for override in QUIET_HYDRA if override not in sys.argv]
    hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")(report)()


if __name__ == "__main__":
    main()
