"""Tasks by name (``task=`` in the config): what the autoencoder is asked to do, beyond
reconstructing its input, and what is measured for it."""
from __future__ import annotations

from typing import Any, Mapping

from aebench.registry import Registry
from aebench.tasks.anomaly import Anomaly
from aebench.tasks.base import NEEDS, Reconstruct, Task
from aebench.tasks.colorize import Colorize
from aebench.tasks.compress import Compress
from aebench.tasks.denoise import Denoise
from aebench.tasks.dewatermark import Dewatermark
from aebench.tasks.inpaint import Inpaint
from aebench.tasks.recommend import Recommend
from aebench.tasks.superres import SuperResolution
from aebench.tasks.visualize import Visualize

TASKS: Registry[type[Task]] = Registry("task")
for _cls in (Reconstruct, Compress, Denoise, Inpaint, Recommend, SuperResolution, Colorize, Dewatermark, Anomaly, Visualize):
    TASKS.register(_cls, _cls.name)


def list_tasks() -> list[str]:
    return TASKS.names()


def build_task(config: Mapping[str, Any]) -> Task:
    """The task of a ``task`` config section (``name`` and its options)."""
    return TASKS.build(config.get("name", "reconstruct"), **{k: v for k, v in config.items() if k != "name"})


__all__ = ["NEEDS", "TASKS", "Task", "build_task", "list_tasks"]
