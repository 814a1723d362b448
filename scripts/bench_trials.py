"""Many trials at once: the K trials of one tuned combination in one vectorised model against each trial alone.

The trials are those a tuned sweep draws for the combination (``aebench.sweep.search.trials``: the
first K points of the scrambled Halton sequence over its search space, the trial seed for all), so
they differ in learning rate and penalty weight. Both sides go through aebench's path, side by side
in one process, alternating: each trial alone is a plain fit (``plan_run`` -> Lightning); K trials
are ``aebench.fast.seeds.SeedEnsemble`` with each member's own learning rate and penalty weight.
Throughput counts every trial's samples; the target (issue 15) is K trials together at >= 0.8 x K
times one trial's samples/s. ``--patience`` (default: none) keeps every trial for all epochs, so both
sides do the same work; with a patience each side stops each trial at its own epoch, and the
figure is the whole set's wall time (members retire as they stop). Untracked: the fit alone.

    python scripts/bench_trials.py [--model undercomplete] [--regularizer l2] [--trials 4 8] [--epochs 20] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import config, fit_seconds, quiet  # noqa: E402

from aebench.run.plan import plan_run  # noqa: E402
from aebench.sweep.search import dimensions, trials  # noqa: E402
from aebench.sweep.tuning import with_values  # noqa: E402


def trial_configs(cfg, count: int, seed: int) -> list:
    """The combination's first ``count`` trials as a tuned sweep draws them, each a config of its own."""
    return [with_values(cfg, values) for values in trials(dimensions(cfg), count, seed)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="undercomplete")
    parser.add_argument("--regularizer", default="l2")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--trials", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", default="null")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads, both sides (a sweep worker's: 1 here)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    quiet()
    torch.set_num_threads(args.threads)
    cfg = config(f"model={args.model}", f"regularizer={args.regularizer}", f"dataset={args.dataset}",
                 f"trainer.max_epochs={args.epochs}", f"trainer.patience={args.patience}", "seed=1000",
                 *args.overrides)
    samples = len(plan_run(cfg).datamodule.split.train) * args.epochs
    print(f"{date.today()} | {args.model} + {args.regularizer} on {args.dataset}, batch {cfg.trainer.batch_size}, "
          f"{args.epochs} epochs (patience {args.patience}) x {args.rounds} rounds, {torch.get_num_threads()} threads, "
          f"the trials a tuned sweep draws ({', '.join(d.key for d in dimensions(cfg))})\n")
    print("| trials K | K trials together, s | the K alone, s | samples/s together | one trial alone | speedup "
          "| target 0.8 K |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for count in args.trials:
        members = trial_configs(cfg, count, seed=1000)
        fit_seconds(members[:2]), fit_seconds(members[0])  # warm-up
        together, alone = [], []
        for _ in range(args.rounds):
            together.append(fit_seconds(members))
            alone.append(sum(fit_seconds(member) for member in members))
        many, each = statistics.median(together), statistics.median(alone)
        many_rate, one_rate = count * samples / many, count * samples / each
        print(f"| {count} | {many:.2f} | {each:.2f} | {many_rate:,.0f} | {one_rate:,.0f} | {many_rate / one_rate:.2f}x "
              f"| {0.8 * count:.1f}x |")


if __name__ == "__main__":
    main()
