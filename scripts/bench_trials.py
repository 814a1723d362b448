"""Many trials at once: the K trials of one tuned combination in one vectorised model against each trial alone.

The trials are those a tuned sweep draws for the combination (``aebench.sweep.search.trials``: the
first K points of the scrambled Halton sequence over its search space, the trial seed for all), so
they differ in learning rate and penalty weight (sparse_kl's target, the denoising noise level). Both sides go through aebench's path, side by side
in one process, alternating: each trial alone is a plain fit (``plan_run`` -> Lightning); K trials
are ``aebench.fast.seeds.SeedEnsemble`` with each member's own settings.
Throughput counts every trial's samples; the target (issue 15) is K trials together at >= 0.8 x K
times one trial's samples/s. ``--patience`` (default: none) keeps every trial for all epochs, so both
sides do the same work; with a patience each side stops each trial at its own epoch, and the
figure is the whole set's wall time (members retire as they stop). Untracked: the fit alone.

The last columns say how far from compute-bound one trial alone already is: the matrix-product and
convolution FLOPs of one training step (forward and backward, ``torch.utils.flop_counter``) times the
samples/s alone, against the rate of a large float32 matrix product on the same threads. K trials
together do K times the FLOPs, so their speedup cannot exceed that rate over one trial's: where one
trial alone already runs near it, no arrangement of the K trials reaches 0.8 K.

    python scripts/bench_trials.py [--model undercomplete] [--regularizer l2] [--trials 4 8] [--epochs 20] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
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


def flops_per_sample(cfg) -> float:
    """Matrix-product and convolution FLOPs of one training step of the model alone, per sample."""
    from torch.utils.flop_counter import FlopCounterMode

    plan = plan_run(cfg)
    x = plan.datamodule.inputs("train")[:cfg.trainer.batch_size].float()
    with FlopCounterMode(display=False) as counter:
        sum(plan.model.loss_terms(x)).backward()
    return counter.get_total_flops() / x.shape[0]


def matmul_rate(size: int = 1024, rounds: int = 10) -> float:
    """FLOP/s of a (size x size) @ (size x size) float32 product on torch's threads, the median of ``rounds``."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    a @ b
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * size ** 3 / statistics.median(times)


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
    flops, peak = flops_per_sample(cfg), matmul_rate()
    print(f"{date.today()} | {args.model} + {args.regularizer} on {args.dataset}, batch {cfg.trainer.batch_size}, "
          f"{args.epochs} epochs (patience {args.patience}) x {args.rounds} rounds, {torch.get_num_threads()} threads, "
          f"the trials a tuned sweep draws ({', '.join(d.key for d in dimensions(cfg))}); a step {flops / 1e3:,.0f} "
          f"kFLOP a sample; a 1024 x 1024 float32 product on these threads {peak / 1e9:.1f} GFLOP/s\n")
    print("| trials K | K trials together, s | the K alone, s | samples/s together | one trial alone | speedup "
          "| target 0.8 K | GFLOP/s alone | at most (that product's rate over it) |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for count in args.trials:
        members = trial_configs(cfg, count, seed=1000)
        fit_seconds(members[:2]), fit_seconds(members[0])  # warm-up
        together, alone = [], []
        for _ in range(args.rounds):
            together.append(fit_seconds(members))
            alone.append(sum(fit_seconds(member) for member in members))
        many, each = statistics.median(together), statistics.median(alone)
        many_rate, one_rate = count * samples / many, count * samples / each
        alone_rate = flops * one_rate
        print(f"| {count} | {many:.2f} | {each:.2f} | {many_rate:,.0f} | {one_rate:,.0f} | {many_rate / one_rate:.2f}x "
              f"| {0.8 * count:.1f}x | {alone_rate / 1e9:.2f} | {peak / alone_rate:.1f}x |")


if __name__ == "__main__":
    main()
