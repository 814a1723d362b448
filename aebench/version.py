"""The installed version and, for a source checkout, the git commit: both go on every run."""
from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("aebench")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"


@lru_cache(maxsize=1)
def git_commit() -> str:
    """HEAD of the checkout aebench is imported from (``-dirty`` with local changes), else ``unknown``."""
    source = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
        changes = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if changes else "")


def machine() -> dict[str, str]:
    """What a result was measured on, for a report's provenance: processor and its cores, the
    GPUs (none, or their names), and the versions of the libraries that trained it."""
    import os
    import platform
    from importlib.metadata import version as installed

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        model = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = model[0] if model else cpu
    except OSError:
        pass
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    libraries = ", ".join(f"{name} {installed(name)}" for name in ("torch", "lightning", "mlflow", "hydra-core"))
    return {"hardware": f"{cpu}, {os.cpu_count()} cores; GPUs: {', '.join(gpus) if gpus else 'none'}",
            "python": platform.python_version(), "libraries": libraries}
