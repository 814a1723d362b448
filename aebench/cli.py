"""``python -m aebench`` / ``aebench``: compose the config with Hydra, train, print a summary."""
from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from aebench.composition import check_command_line
from aebench.config import config_dir
from aebench.console import fail, quiet_libraries
from aebench.errors import ConfigError, TrainingDiverged
from aebench.run.plan import is_seed_list, seed_config
from aebench.run.spec import RunSpec
from aebench.run.train import train, train_seeds
from aebench.sweep.job import SweepContext, run_sweep_job
from aebench.tasks import TASKS
from aebench.tracking import runs_page, ui_command

SUMMARY_METRICS = ("test/mse", "test/psnr", "test/ssim")


def run_one(cfg: DictConfig) -> str | None:
    if HydraConfig.get().mode == RunMode.MULTIRUN and SweepContext.from_environment() is not None:
        quiet_libraries()
        return run_sweep_job(cfg)
    run_single(cfg)
    return None


def run_single(cfg: DictConfig) -> None:
    quiet_libraries()
    try:
        spec = RunSpec.of(seed_config(cfg, cfg.seed[0]) if is_seed_list(cfg) else cfg)
        if is_seed_list(cfg):
            report_seeds(cfg, spec, train_seeds(cfg))
            return
        result = train(spec)
    except ConfigError as error:
        fail(error)
    except TrainingDiverged as error:
        print(f"aebench: error: the run diverged, {error}; MLflow run {getattr(error, 'run_id', '?')} "
              "is marked FAILED (try a smaller trainer.lr)", file=sys.stderr)
        sys.exit(1)
    if result.run_id is None:  # a data-parallel rank other than 0: rank 0 reports
        return
    print(f"\naebench: {spec.title} / seed {spec.seed}")
    shown = summary_metrics(spec, result.metrics)
    width = max(11, *(len(name) for name in shown)) if shown else 11
    for name in shown:
        print(f"  {name:<{width}} {result.metrics[name]:.4f}")
    print(f"  {'run':<{width}} {result.run_id} (experiment '{spec.tracking.experiment}', {spec.tracking.uri})")
    print(f"  {'MLflow UI':<{width}} {ui_command(spec.tracking.uri)}")
    print(f"  {'runs page':<{width}} {runs_page(spec.tracking.uri, result.experiment_id)}")


def summary_metrics(spec: RunSpec, metrics: dict[str, float]) -> list[str]:
    """MSE, PSNR and SSIM, then the task's own metrics, in the order the task names them."""
    shown = [name for name in SUMMARY_METRICS if name in metrics]
    for prefix in TASKS.get(spec.task.name).headline:
        shown += sorted(name for name in metrics if name.startswith(prefix) and name not in shown)
    return shown


def report_seeds(cfg: DictConfig, spec: RunSpec, results) -> None:
    print(f"\naebench: {spec.title}, seeds {list(cfg.seed)} trained as one vectorised model")
    for seed, result in zip(cfg.seed, results):
        shown = summary_metrics(spec, result.metrics)
        scores = "  ".join(f"{name} {result.metrics[name]:.4f}" for name in shown)
        print(f"  seed {seed:<4} {result.status:<9} {scores}  run {result.run_id}")
    print(f"  {'MLflow UI':<11} {ui_command(spec.tracking.uri)}")
    if any(result.status != "FINISHED" for result in results):
        sys.exit(1)


def main() -> None:
    try:
        check_command_line(sys.argv[1:])
    except ConfigError as error:
        fail(error)
    hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")(run_one)()
