"""Cost of the contractive penalty: a contractive training step against a plain one, side by side.

Both run through aebench's training path (Hydra config -> Lightning fit), in one process,
alternating, so the machine's state is shared. A "step" is one Lightning call (up to
trainer.steps_per_call optimizer steps); prints a Markdown table of median call times and their
ratio, and the same for whole epochs (validation included).

    python scripts/bench_contractive.py [--epochs 20] [--rounds 3] [--dataset digits] [--only text] [overrides ...]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import quiet, timed_fit  # noqa: E402

CASES = [  # (label, model overrides, contractive overrides)
    ("undercomplete, code 16 (closed form)", ["model=undercomplete"], []),
    ("deep 48-32-16 (layer chain)", ["model=deep"], []),
    ("deep 48-32-16 (estimate, 1 projection)", ["model=deep"], ["regularizer.projections=1"]),
    ("stacked 48-32-16 (layer chain)", ["model=stacked", "model.pretrain_epochs=0"], []),
    ("conv 16-32 ch (exact, 16 VJPs)", ["model=conv"], []),
    ("conv 16-32 ch (estimate, 1 projection)", ["model=conv"], ["regularizer.projections=1"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--only", default="", help="run only the encoders whose label contains this text")
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides, e.g. trainer.batch_size=256")
    args = parser.parse_args()
    quiet()
    epochs = f"trainer.max_epochs={args.epochs}"
    common = [epochs, f"dataset={args.dataset}", *args.overrides]
    print(f"{date.today()} | {platform.processor() or platform.machine()} | {torch.get_num_threads()} threads | "
          f"torch {torch.__version__} | {args.dataset} {' '.join(args.overrides)}, {args.epochs} epochs x "
          f"{args.rounds} rounds\n")
    print("| encoder | plain step (ms) | contractive step (ms) | step ratio | epoch ratio |")
    print("|---|---|---|---|---|")
    for label, model, extra in [case for case in CASES if args.only in case[0]]:
        timed_fit(*model, *common)  # warm-up
        plain, contractive = [], []
        for _ in range(args.rounds):
            plain.append(timed_fit(*model, *common, "regularizer=none"))
            contractive.append(timed_fit(*model, *common, "regularizer=contractive", *extra))
        step = [statistics.median(s for s, _ in runs) * 1000 for runs in (plain, contractive)]
        epoch = [statistics.median(e for _, e in runs) for runs in (plain, contractive)]
        print(f"| {label} | {step[0]:.3f} | {step[1]:.3f} | {step[1] / step[0]:.2f} | {epoch[1] / epoch[0]:.2f} |")


if __name__ == "__main__":
    main()
