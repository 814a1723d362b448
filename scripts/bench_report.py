"""The report's rendering over a sweep's store, side by side in one process: aebench's figures
(each figure's tight box measured once and used for its PNG and its PDF) against the same figures
cropped by each save (``bbox_inches="tight"``: a layout pass in each save).

    python scripts/bench_report.py <folder with mlruns/> [--rounds 5]

Each round renders the latest sweep's report once each way, alternating, into a temporary folder;
the medians are printed. The figures are the same to a pixel or two.
"""
from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt

from aebench.report import figures
from aebench.report.render import render_report
from aebench.tracking import TrackingStore

MEASURED_ONCE = figures._drawn


def cropped_by_each_save(figure) -> figures.Drawn:
    """The reference: each format's save measures the tight box again."""
    drawn = {}
    for kind in ("png", "pdf"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=kind, dpi=figures.DPI, bbox_inches="tight",
                       metadata={"CreationDate": None} if kind == "pdf" else None)
        drawn[kind] = buffer.getvalue()
    plt.close(figure)
    return figures.Drawn(**drawn)


def render_seconds(store: TrackingStore, drawn) -> float:
    figures._drawn = drawn
    try:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            render_report(store, None, False, None, folder)
            return time.perf_counter() - start
    finally:
        figures._drawn = MEASURED_ONCE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a folder with mlruns/mlflow.db, where a sweep ran")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    store = TrackingStore.existing(f"sqlite:///{args.folder / 'mlruns' / 'mlflow.db'}", "aebench")
    render_seconds(store, MEASURED_ONCE)  # warm-up: imports, fonts, the store's first queries
    times: dict[str, list[float]] = {"measured once": [], "each save": []}
    for _ in range(args.rounds):
        times["measured once"].append(render_seconds(store, MEASURED_ONCE))
        times["each save"].append(render_seconds(store, cropped_by_each_save))
    for name, seconds in times.items():
        print(f"{name:>14}: median {statistics.median(seconds):.2f} s ({', '.join(f'{s:.2f}' for s in seconds)})")
    print(f"ratio: {statistics.median(times['each save']) / statistics.median(times['measured once']):.2f}x")


if __name__ == "__main__":
    main()
