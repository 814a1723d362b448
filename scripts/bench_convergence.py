"""Convergence: how close each learning-rate schedule brings early-stopped runs to PCA's optimum.

For a linear autoencoder trained with MSE the optimum is PCA's subspace (Baldi & Hornik 1989),
so its test MSE against PCA's at the same code size says whether a run converged. Each model x
schedule is one run through aebench's path (``plan_run`` -> fit with early stopping on val/loss
-> test with the best epoch's weights), on the same split, seed and code size as PCA.

    python scripts/bench_convergence.py [--datasets digits synthetic_lowrank] [--models linear undercomplete deep]
                                        [--schedules none cosine plateau] [--max-epochs 300] [--patience 10]
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import quiet  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402

from aebench.config import config_dir  # noqa: E402
from aebench.evaluate.pca import pca_baseline  # noqa: E402
from aebench.run.plan import build_datamodule, plan_run  # noqa: E402
from aebench.run.spec import RunSpec  # noqa: E402


def config(*overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=["trainer.progress_bar=false", *overrides])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "synthetic_lowrank"])
    parser.add_argument("--models", nargs="+", default=["linear", "undercomplete", "deep"])
    parser.add_argument("--schedules", nargs="+", default=["none", "cosine", "plateau"])
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    quiet()
    print(f"{date.today()} | cap {args.max_epochs} epochs, patience {args.patience}, code 16, seed 0\n")
    print("| dataset | model | schedule | test MSE | x PCA's | best epoch | epochs trained | fit s |")
    print("|---|---|---|---|---|---|---|---|")
    for dataset in args.datasets:
        base = config(f"dataset={dataset}", *args.overrides)
        pca, _ = pca_baseline(build_datamodule(base), 16, RunSpec.of(base).metrics)
        print(f"| {dataset} | PCA | | {pca['test/mse']:.4g} | 1 | | | |", flush=True)
        for model in args.models:
            for schedule in args.schedules:
                plan = plan_run(config(f"dataset={dataset}", f"model={model}", f"trainer.lr_schedule={schedule}",
                                       f"trainer.max_epochs={args.max_epochs}", f"trainer.patience={args.patience}",
                                       *args.overrides))
                started = time.perf_counter()
                plan.fit()
                seconds = time.perf_counter() - started
                mse = plan.trainer.test(plan.model, datamodule=plan.datamodule, verbose=False)[0]["test/mse"]
                chosen = plan.selection()
                print(f"| {dataset} | {model} | {schedule} | {mse:.4g} | {mse / pca['test/mse']:.3f} | "
                      f"{chosen['train/best_epoch']:.0f} | {chosen['train/epochs_trained']:.0f} | {seconds:.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
