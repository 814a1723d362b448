"""Cost of the contractive penalty: a contractive training step against a plain one, side by side.

Both run through aebench's training path (Hydra config -> plan_run -> the model's training step),
in one process. The step ratio comes from calls interleaved one by one (each call: the same
trainer.steps_per_call mini-batches, an optimizer step each), so that the shared machine's drift
falls on both alike; the epoch ratio from whole fits (validation included), alternating, each
fit twice a round: tracked (an MLflow run in a SQLite store, every epoch's metrics logged and
written before the clock stops; image snapshots are not in it) and untracked. Prints a Markdown table of median call times
and the ratios. A step logs nothing (a run logs once an epoch), so the step ratio has no tracked side.

    python scripts/bench_contractive.py [--epochs 20] [--rounds 3] [--calls 200] [--dataset digits] [--only text]
                                        [overrides ...]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import config, quiet, temporary_store_uri, timed_fit  # noqa: E402

from aebench.run.plan import plan_run  # noqa: E402


def trained_call(*overrides: str):
    """A model after one epoch, and a call of its training step on one fixed group of mini-batches."""
    plan = plan_run(config(*overrides, "trainer.max_epochs=1"))
    plan.fit()
    group = next(iter(plan.path.datamodule.train_dataloader()))
    return lambda: plan.path.module.training_step(group, 0)


def interleaved_calls(calls: list, repeats: int) -> list[float]:
    """Median seconds of each call, the calls taking turns ``repeats`` times."""
    seconds = [[] for _ in calls]
    for _ in range(repeats):
        for call, times in zip(calls, seconds):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
    return [statistics.median(times) for times in seconds]


CASES = [  # (label, model overrides, contractive overrides)
    ("undercomplete, code 16 (closed form)", ["model=undercomplete"], []),
    ("deep 128-64-16 (layer chain)", ["model=deep"], []),
    ("deep 128-64-16 (estimate, 1 projection)", ["model=deep"], ["regularizer.projections=1"]),
    ("stacked 128-64-16 (layer chain)", ["model=stacked", "model.pretrain_epochs=0"], []),
    ("conv 16-32 ch (exact, 16 VJPs)", ["model=conv"], ["regularizer.projections=null"]),
    ("conv 16-32 ch (the default, auto: 1 projection)", ["model=conv"], []),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--calls", type=int, default=200, help="interleaved training calls for the step ratio")
    parser.add_argument("--only", default="", help="run only the encoders whose label contains this text")
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides, e.g. trainer.batch_size=256")
    args = parser.parse_args()
    quiet()
    data = [f"dataset={args.dataset}", *args.overrides]
    common = [f"trainer.max_epochs={args.epochs}", f"tracking.uri={temporary_store_uri()}", *data]
    print(f"{date.today()} | {platform.processor() or platform.machine()} | {torch.get_num_threads()} threads | "
          f"torch {torch.__version__} | {args.dataset} {' '.join(args.overrides)}, {args.epochs} epochs x "
          f"{args.rounds} rounds; steps: {args.calls} interleaved calls\n")
    print("| encoder | plain step (ms) | contractive step (ms) | step ratio | epoch ratio, tracked | epoch ratio, untracked |")
    print("|---|---|---|---|---|---|")
    for label, model, extra in [case for case in CASES if args.only in case[0]]:
        calls = [trained_call(*model, *data, "regularizer=none"),
                 trained_call(*model, *data, "regularizer=contractive", *extra)]
        step = [seconds * 1000 for seconds in interleaved_calls(calls, args.calls)]
        timed_fit(*model, *common, tracked=True)  # warm-up (and the store)
        epochs = {(tracked, penalty): [] for tracked in (True, False) for penalty in ("none", "contractive")}
        for _ in range(args.rounds):
            for tracked, penalty in epochs:
                penalty_overrides = extra if penalty == "contractive" else []
                epochs[tracked, penalty].append(
                    timed_fit(*model, *common, f"regularizer={penalty}", *penalty_overrides, tracked=tracked)[1])
        ratios = [statistics.median(epochs[tracked, "contractive"]) / statistics.median(epochs[tracked, "none"])
                  for tracked in (True, False)]
        print(f"| {label} | {step[0]:.3f} | {step[1]:.3f} | {step[1] / step[0]:.2f} | {ratios[0]:.2f} | {ratios[1]:.2f} |")


if __name__ == "__main__":
    main()
