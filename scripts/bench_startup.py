"""Where the wall time of `python -m aebench` goes: the imports every run needs, then the rest.

    python scripts/bench_startup.py [--rounds 3]

Each round runs, one after another in fresh Python processes (so every import is paid):

1. the imports alone, cumulatively: torch; + lightning; + mlflow; + scikit-learn, Hydra and
   torchmetrics (what a run imports from other packages), then `import aebench.cli`;
2. the default run, `python -m aebench trainer.progress_bar=false`, in a folder whose store exists;
3. the same without the MLflow model and the image artifacts (`tracking.log_model=false
   tracking.log_images=false`), to show what they cost.

Steps alternate within a round, so a slow minute of a shared machine falls on all of them.
Prints the median wall seconds of each step; the run's floor is step 1's last third-party line.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import python_seconds  # noqa: E402

IMPORTS = {
    "import torch": "import torch",
    "+ lightning": "import torch, lightning",
    "+ mlflow": "import torch, lightning, mlflow",
    "+ sklearn, hydra, torchmetrics": "import torch, lightning, mlflow, sklearn.linear_model, hydra, torchmetrics",
    "import aebench.cli (all of the above and aebench)": "import aebench.cli",
}
RUN = ["-m", "aebench", "trainer.progress_bar=false"]
RUN_WITHOUT_ARTIFACTS = [*RUN, "tracking.log_model=false", "tracking.log_images=false"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    steps = {name: ["-c", code] for name, code in IMPORTS.items()}
    steps["python -m aebench (the default run, store exists)"] = RUN
    steps["the same, tracking.log_model=false tracking.log_images=false"] = RUN_WITHOUT_ARTIFACTS
    timings: dict[str, list[float]] = {name: [] for name in steps}
    with tempfile.TemporaryDirectory() as folder:
        python_seconds(RUN, folder)  # the store exists before any timed run, as in a user's folder after the first
        for _ in range(args.rounds):
            for name, arguments in steps.items():
                timings[name].append(python_seconds(arguments, folder))
    print(f"{date.today()}, CPU, {os.cpu_count()} cores, {args.rounds} rounds, median wall seconds\n")
    print("| step | seconds | each round |\n|---|---:|---|")
    for name, values in timings.items():
        print(f"| {name} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")


if __name__ == "__main__":
    main()
