"""CPU threads: one Lightning fit on one thread against the same fit on torch's default (one per core).

Both through aebench's path (``plan_run`` -> Lightning fit), side by side in one process, taking
turns. The ratio > 1 means one thread is faster: what ``trainer.threads=1`` is for.

    python scripts/bench_threads.py [--rounds 5]
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

CASES = {  # label: Hydra overrides (a seed list trains the seeds together)
    "undercomplete on digits (default run), 30 epochs": ["trainer.max_epochs=30"],
    "deep on digits, 30 epochs": ["model=deep", "trainer.max_epochs=30"],
    "stacked on digits, 10 epochs": ["model=stacked", "trainer.max_epochs=10"],
    "undercomplete on patches (768 values), 3 epochs": ["dataset=patches", "trainer.max_epochs=3"],
    "overcomplete on patches, batch 256, 3 epochs": ["model=overcomplete", "dataset=patches",
                                                     "trainer.batch_size=256", "trainer.max_epochs=3"],
    "conv on digits, 5 epochs": ["model=conv", "trainer.max_epochs=5"],
    "8 seeds together, undercomplete on digits, 20 epochs": ["seed=[0,1,2,3,4,5,6,7]", "trainer.max_epochs=20"],
    "16 seeds together, undercomplete on digits, 20 epochs": [f"seed=[{','.join(map(str, range(16)))}]",
                                                              "trainer.max_epochs=20"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    quiet()
    default = torch.get_num_threads()
    print(f"{date.today()} | one thread against torch's default of {default}, median of {args.rounds} "
          f"fits each, taking turns\n")
    print(f"| model, data | fit s, 1 thread | fit s, {default} threads | {default} threads / 1 thread |")
    print("|---|---|---|---|")
    for label, overrides in CASES.items():
        seconds = {1: [], default: []}
        fit_seconds(config(*overrides))  # warm-up
        for _ in range(args.rounds):
            for threads in seconds:
                torch.set_num_threads(threads)
                seconds[threads].append(fit_seconds(config(*overrides)))
        torch.set_num_threads(default)
        one, many = statistics.median(seconds[1]), statistics.median(seconds[default])
        print(f"| {label} | {one:.3f} | {many:.3f} | {many / one:.2f} |")


if __name__ == "__main__":
    main()
