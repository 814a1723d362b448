"""Training throughput: aebench's training path against a bare PyTorch loop, side by side.

Both train the same model (a fresh copy of the same initial weights) on the same data with the
same batch size, optimiser and learning rate, for the same epochs, each with a validation pass
per epoch, alternating in one process. aebench's side is the real path: Hydra config ->
plan_run -> Lightning fit with device-resident batches, on both training paths: the fast one
(``trainer.fast=true``, the default, whose target is >= 0.95 of the bare loop untracked) and the
reference LightningModule (``trainer.fast=false``); and the fast path tracked, an MLflow run in a
SQLite store with aebench's logger logging every epoch's metrics (target >= 0.9; a run's image
snapshots are not in it), the epochs written together (``tracking.flush_seconds=2``, the default)
and each as it ends (``0``).

    python scripts/bench_overhead.py [--model undercomplete] [--dataset digits] [--epochs 30] [--rounds 3]
                                     [--bare-val-batch-size N] [overrides ...]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import config, quiet, seconds_of_fit, temporary_store_uri  # noqa: E402

from aebench.models.autoencoder import adam  # noqa: E402
from aebench.run.plan import plan_run  # noqa: E402


def bare_loop(model, train_x, val_x, epochs: int, batch_size: int, seed: int, val_batch_size: int) -> float:
    """Seconds for ``epochs`` of plain PyTorch: shuffled index slices, forward, MSE, backward, Adam,
    then the val split in batches of ``val_batch_size``."""
    optimizer = adam(model.parameters(), model.lr)  # the very optimiser aebench builds (its schedule aside)
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), batch_size):
            x = train_x.index_select(0, order[start:start + batch_size])
            loss = torch.nn.functional.mse_loss(model.decoder(model.encoder(x)), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for start in range(0, len(val_x), val_batch_size):
                x = val_x[start:start + val_batch_size]
                torch.nn.functional.mse_loss(model.decoder(model.encoder(x)), x)
    return time.perf_counter() - started


def aebench_fit(cfg, initial_state) -> float:
    plan = plan_run(cfg)
    plan.model.load_state_dict(initial_state)
    started = time.perf_counter()
    plan.fit()
    return time.perf_counter() - started


def tracked_fit(cfg, initial_state) -> float:
    """The fit as a user's run has it: an MLflow run, every epoch logged, every write in the store
    (flushed) before the clock stops."""
    plan = plan_run(cfg)
    plan.model.load_state_dict(initial_state)
    return seconds_of_fit(plan.fit, [plan], plan.path.module, plan.trainer, tracked=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="undercomplete")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bare-val-batch-size", type=int, default=None,
                        help="the bare loop's validation batch (default: the same as aebench's)")
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides, e.g. trainer.accelerator=gpu")
    args = parser.parse_args()
    quiet()
    base = [f"model={args.model}", f"dataset={args.dataset}", f"trainer.max_epochs={args.epochs}", *args.overrides]
    cfg = config(*base, "trainer.fast=true")
    reference_cfg = config(*base, "trainer.fast=false")
    store_uri = temporary_store_uri()
    tracked_cfg = config(*base, "trainer.fast=true", f"tracking.uri={store_uri}")
    synchronous_cfg = config(*base, "trainer.fast=true", f"tracking.uri={store_uri}", "tracking.flush_seconds=0")
    plan = plan_run(cfg)
    device = torch.device("cuda" if cfg.trainer.accelerator in ("gpu", "cuda") else "cpu")
    train_x = plan.datamodule.inputs("train").to(device)
    val_x = plan.datamodule.inputs("val").to(device)
    initial = copy.deepcopy(plan.model.state_dict())
    aebench_fit(cfg, initial), aebench_fit(reference_cfg, initial), tracked_fit(tracked_cfg, initial)  # warm-up
    # the bare loop validates in aebench's validation batches (the whole val split of digits at once), or in
    # training-sized batches with --bare-val-batch-size 64
    val_batch = args.bare_val_batch_size or plan.datamodule.validation_batch_size
    bare_loop(copy.deepcopy(plan.model).to(device), train_x, val_x, 2, cfg.trainer.batch_size, 0, val_batch)
    fast, reference, bare, tracked, synchronous = [], [], [], [], []
    for _ in range(args.rounds):
        fast.append(aebench_fit(cfg, initial))
        reference.append(aebench_fit(reference_cfg, initial))
        tracked.append(tracked_fit(tracked_cfg, initial))
        synchronous.append(tracked_fit(synchronous_cfg, initial))
        model = copy.deepcopy(plan.model)
        model.load_state_dict(initial)
        bare.append(bare_loop(model.to(device), train_x, val_x, args.epochs, cfg.trainer.batch_size, cfg.seed,
                              val_batch))
    samples = len(train_x) * args.epochs
    fast_rate, reference_rate, bare_rate, tracked_rate, synchronous_rate = (
        samples / statistics.median(times) for times in (fast, reference, bare, tracked, synchronous))
    print(f"{date.today()} | {args.model} on {args.dataset}, batch {cfg.trainer.batch_size}, {args.epochs} epochs "
          f"x {args.rounds} rounds, {device}, {torch.get_num_threads()} threads, bare validation batch {val_batch}")
    print(f"aebench fast path: {fast_rate:,.0f} samples/s (ratio {fast_rate / bare_rate:.2f}) | "
          f"reference path: {reference_rate:,.0f} samples/s (ratio {reference_rate / bare_rate:.2f}) | "
          f"bare PyTorch: {bare_rate:,.0f} samples/s")
    print(f"tracked (fast path, MLflow run, every epoch logged): epochs written together {tracked_rate:,.0f} "
          f"samples/s (ratio {tracked_rate / bare_rate:.2f}) | each epoch written as it ends {synchronous_rate:,.0f} samples/s "
          f"(ratio {synchronous_rate / bare_rate:.2f})")


if __name__ == "__main__":
    main()
