"""aebench's Hydra sweeper (``hydra/sweeper=aebench``, set by the sweep configs): the jobs the basic
sweeper would launch, in one batch; or, with ``sweep.tune.trials=N``, trials, a selection on
validation data and the selected configurations over the seeds (``aebench.sweep.launch``). Hydra
finds sweepers in the ``hydra_plugins`` namespace package only, so this thin class lives here."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf


class AebenchSweeper(Sweeper):
    def __init__(self, params: dict[str, str] | None = None) -> None:
        self.params = params or {}
        self.config: DictConfig | None = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)

    def sweep(self, arguments: Sequence[str]) -> list[Sequence[JobReturn]]:
        from aebench.sweep.launch import launch_sweep  # aebench's modules load once the sweep starts

        folder = Path(self.config.hydra.sweep.dir)
        folder.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, folder / "multirun.yaml")  # as Hydra's basic sweeper records a sweep
        return launch_sweep(self.config, self.launcher)
