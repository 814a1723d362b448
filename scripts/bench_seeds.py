"""Many seeds at once: K seeds of one combination in one vectorised model against one seed alone.

Both through aebench's path, side by side in one process, alternating: one seed is a plain
fit (``plan_run`` -> Lightning); K seeds are ``aebench.fast.seeds.SeedEnsemble`` (torch.func.vmap
over stacked parameters). Throughput counts every seed's samples; the target is K seeds at
>= 0.8 x K times one seed's samples/s. Each side is timed twice a round: tracked (an MLflow run per
seed in a SQLite store, every epoch's metrics logged and written before the clock stops; a run's
image snapshots, test pass and artifacts are not in the time) and untracked (the fit alone).

    python scripts/bench_seeds.py [--model undercomplete] [--seeds 2 4 8] [--epochs 20] [--rounds 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from datetime import date
from pathlib import Path

import torch
from omegaconf import open_dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import config, fit_seconds, quiet, temporary_store_uri  # noqa: E402

from aebench.run.plan import plan_run  # noqa: E402


def with_seeds(cfg, count: int):
    """The config with ``seed=[0, ..., count - 1]``: the seeds trained together."""
    together = cfg.copy()
    with open_dict(together):
        together.seed = list(range(count))
    return together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="undercomplete")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads, both sides")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    quiet()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = config(f"model={args.model}", f"dataset={args.dataset}", f"trainer.max_epochs={args.epochs}",
                 f"tracking.uri={temporary_store_uri()}", *args.overrides)
    samples = len(plan_run(cfg).datamodule.split.train) * args.epochs
    fit_seconds(cfg), fit_seconds(with_seeds(cfg, 2), tracked=True)  # warm-up (and the store)
    print(f"{date.today()} | {args.model} on {args.dataset}, batch {cfg.trainer.batch_size}, {args.epochs} epochs "
          f"x {args.rounds} rounds, {torch.get_num_threads()} threads\n")
    print("| seeds K | tracked: samples/s, K seeds together | one seed | speedup | untracked: samples/s, K seeds "
          "together | one seed | speedup | target 0.8 K |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for count in args.seeds:
        times = {(tracked, together): [] for tracked in (True, False) for together in (False, True)}
        for _ in range(args.rounds):
            for tracked, together in times:
                times[tracked, together].append(fit_seconds(with_seeds(cfg, count) if together else cfg, tracked))
        cells = []
        for tracked in (True, False):
            one_rate = samples / statistics.median(times[tracked, False])
            many_rate = count * samples / statistics.median(times[tracked, True])
            cells += [f"{many_rate:,.0f}", f"{one_rate:,.0f}", f"{many_rate / one_rate:.2f}x"]
        print(f"| {count} | {' | '.join(cells)} | {0.8 * count:.1f}x |")


if __name__ == "__main__":
    main()
