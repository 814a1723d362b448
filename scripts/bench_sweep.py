"""Sweep costs: the fixed cost of one run, the speedup of parallel joblib workers, and `+sweep=all`.

    python scripts/bench_sweep.py [--runs 20] [--workers 1 2] [--all] [--growth]

1. Fixed cost: `train()` with trainer.max_epochs=0 (build, MLflow run, test pass, artifacts,
   teardown; no training), repeated in one process after a warm-up; median seconds.
2. Workers: the same sweep (`+sweep=quick trainer.max_epochs=20`, 26 runs) in a fresh folder
   and store with `hydra/launcher=joblib hydra.launcher.n_jobs=N`, wall time of the whole command.
3. With --all: wall time of `python -m aebench +sweep=all` with its defaults, in a fresh folder.
4. With --growth: one run (10 epochs) on synthetic_lowrank at 1x, 4x and 16x its 2,000 samples;
   and `+sweep=quick` with 1, 2 and 4 seeds (13, 26 and 52 runs), wall time of the command.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import config, python_seconds, quiet  # noqa: E402

QUICK_SWEEP = ["+sweep=quick", "trainer.max_epochs=20"]


def fixed_cost(runs: int, folder: Path) -> float:
    from aebench.run.train import train

    cfg = config("trainer.max_epochs=0", f"tracking.uri=sqlite:///{folder}/mlflow.db", "tracking.experiment=bench")
    train(cfg)  # warm-up: imports, store creation
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        train(cfg)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def wall_time(arguments: list[str]) -> float:
    """Wall seconds of ``python -m aebench <arguments>`` in a fresh folder."""
    with tempfile.TemporaryDirectory() as folder:
        return python_seconds(["-m", "aebench", *arguments], folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--growth", action="store_true")
    args = parser.parse_args()
    quiet()
    print(f"{date.today()}, CPU, {__import__('os').cpu_count()} cores\n")
    with tempfile.TemporaryDirectory() as folder:
        print(f"fixed cost of a run (max_epochs=0, median of {args.runs}): {fixed_cost(args.runs, Path(folder)):.3f} s")
    times = {n: wall_time([*QUICK_SWEEP, "hydra/launcher=joblib", f"hydra.launcher.n_jobs={n}"]) for n in args.workers}
    for n, seconds in times.items():
        print(f"`{' '.join(QUICK_SWEEP)}` with {n} joblib worker(s): {seconds:.1f} s wall, "
              f"speedup {times[args.workers[0]] / seconds:.2f}x over {args.workers[0]}")
    if args.all:
        print(f"`+sweep=all` with its defaults: {wall_time(['+sweep=all']):.1f} s wall")
    if args.growth:
        growth()


def growth() -> None:
    from aebench.run.train import train

    with tempfile.TemporaryDirectory() as folder:
        for scale in (1, 4, 16):
            cfg = config("dataset=synthetic_lowrank", f"dataset.n_samples={2000 * scale}", "trainer.max_epochs=10",
                         f"tracking.uri=sqlite:///{folder}/mlflow.db", "tracking.experiment=growth")
            train(cfg)  # warm-up (and the dataset)
            started = time.perf_counter()
            train(cfg)
            print(f"one run, {2000 * scale} samples ({scale}x), 10 epochs: {time.perf_counter() - started:.2f} s")
    for seeds in (1, 2, 4):
        seconds = wall_time(["+sweep=quick", f"sweep.seeds={seeds}"])
        print(f"`+sweep=quick sweep.seeds={seeds}` ({13 * seeds} runs): {seconds:.1f} s wall")


if __name__ == "__main__":
    main()
