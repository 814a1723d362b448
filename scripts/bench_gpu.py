"""GPU measurements for scripts/gpu_check.sh, written as Markdown to --out (absolute figures are
only ever taken on the GPU machine). Runs on the CPU too, for a dry run of the script's logic.

    python scripts/bench_gpu.py --root <folder holding mnist/> --out gpu_check.md [--epochs 3]
"""
from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import config, fit_seconds, quiet  # noqa: E402
from bench_overhead import aebench_fit, bare_loop  # noqa: E402
from bench_seeds import with_seeds  # noqa: E402

from aebench.run.plan import plan_run  # noqa: E402


def accelerator() -> str:
    return "gpu" if torch.cuda.is_available() else "cpu"


def throughput(model: str, precision: str, root: str, epochs: int, batch: int) -> tuple[float, float]:
    """(samples/s, peak GPU memory in MiB) of one fit through aebench's path on MNIST-sized data."""
    cfg = config("dataset=mnist", f"dataset.root={root}", f"model={model}", f"trainer.precision={precision}",
                 f"trainer.accelerator={accelerator()}", f"trainer.max_epochs={epochs}", f"trainer.batch_size={batch}")
    plan = plan_run(cfg)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    plan.fit()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    memory = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else float("nan")
    return len(plan.datamodule.split.train) * epochs / seconds, memory


SHARED_JOB = """
import sys, time
from pathlib import Path
sys.path.insert(0, {scripts!r})
from _common import config, quiet
from aebench.run.plan import plan_run
quiet()
plan = plan_run(config("dataset=mnist", "dataset.root={root}", "model=deep", "trainer.accelerator={accelerator}",
                       "trainer.max_epochs={epochs}", "trainer.batch_size=256"))
print("ready", flush=True)
while not Path({go!r}).exists():
    time.sleep(0.01)
started = time.time()
plan.fit()
print(started, time.time(), len(plan.datamodule.split.train) * {epochs}, flush=True)
"""


def sharing(jobs: int, root: str, epochs: int) -> float:
    """Samples/s of ``jobs`` processes training at once on the one GPU, all together: each process
    builds its run, waits at a barrier, then fits; imports and setup are not counted."""
    go = Path(root) / f"go-{jobs}"
    code = SHARED_JOB.format(scripts=str(Path(__file__).resolve().parent), root=root, accelerator=accelerator(),
                             epochs=epochs, go=str(go))
    running = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True) for _ in range(jobs)]
    for process in running:
        if process.stdout.readline().strip() != "ready":
            return float("nan")
    go.touch()
    finished = [process.stdout.readline().split() for process in running]
    for process in running:
        process.wait()
    if any(len(line) != 3 for line in finished):
        return float("nan")
    starts, ends, samples = zip(*[(float(a), float(b), int(c)) for a, b, c in finished])
    return sum(samples) / (max(ends) - min(starts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    quiet()
    lines = [f"# GPU check: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU (dry run)'}, "
             f"torch {torch.__version__}", "",
             "| model | precision | batch | samples/s | peak GPU memory (MiB) |", "|---|---|---|---|---|"]
    for model in ("deep", "conv"):
        for precision in ("32-true", "bf16-mixed"):
            for batch in (256, 1024):
                rate, memory = throughput(model, precision, args.root, args.epochs, batch)
                lines.append(f"| {model} | {precision} | {batch} | {rate:,.0f} | {memory:,.0f} |")
                print(lines[-1], flush=True)

    cfg = config("dataset=mnist", f"dataset.root={args.root}", "model=undercomplete",
                 f"trainer.max_epochs={args.epochs}", f"trainer.accelerator={accelerator()}")
    plan = plan_run(cfg)
    device = plan.trainer.strategy.root_device
    train_x, val_x = plan.datamodule.inputs("train").to(device), plan.datamodule.inputs("val").to(device)
    initial = copy.deepcopy(plan.model.state_dict())
    aebench_fit(cfg, initial)
    ours = aebench_fit(cfg, initial)
    model = copy.deepcopy(plan.model)
    model.load_state_dict(initial)
    bare = bare_loop(model.to(device), train_x, val_x, args.epochs, cfg.trainer.batch_size, 0,
                     plan.datamodule.validation_batch_size)  # validating in the same batches as aebench
    lines += ["", f"aebench's path against a bare PyTorch loop (undercomplete, batch 64, {args.epochs} epochs): "
              f"ratio {bare / ours:.2f} ({len(train_x) * args.epochs / ours:,.0f} against "
              f"{len(train_x) * args.epochs / bare:,.0f} samples/s)"]
    print(lines[-1], flush=True)

    single = len(plan.datamodule.split.train) * args.epochs / fit_seconds(cfg)
    lines += ["", "| seeds together | samples/s | speedup over one seed |", "|---|---|---|"]
    for count in (4, 8):
        rate = count * len(plan.datamodule.split.train) * args.epochs / fit_seconds(with_seeds(cfg, count))
        lines.append(f"| {count} | {rate:,.0f} | {rate / single:.2f}x |")
        print(lines[-1], flush=True)

    lines += ["", "| jobs sharing the GPU | samples/s, all together |", "|---|---|"]
    for jobs in (1, 2, 4):
        lines.append(f"| {jobs} | {sharing(jobs, args.root, args.epochs):,.0f} |")
        print(lines[-1], flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
