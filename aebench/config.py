"""Where the Hydra configs live, and helpers over composed configs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def default_workers() -> int:
    """Parallel sweep jobs: one per GPU where there are GPUs, else one per CPU core."""
    import torch  # imported here: 2 s measured, and composing a config needs no torch otherwise

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return gpus or os.cpu_count() or 1


def seed_axis(seeds: int, vectorize: bool) -> str:
    """The sweep's seed axis: ``range(n)`` (a job per seed) or ``[0,...,n-1]`` (one job, seeds vectorised)."""
    return f"[{','.join(map(str, range(seeds)))}]" if vectorize else f"range({seeds})"


def register_resolvers() -> None:
    """``${aebench_choices:${sweep.models}}`` turns a list into a Hydra choice sweep ``a,b,c``;
    ``${aebench_workers:}`` is :func:`default_workers`."""
    OmegaConf.register_new_resolver("aebench_choices", lambda values: ",".join(map(str, values)), replace=True)
    OmegaConf.register_new_resolver("aebench_workers", default_workers, replace=True)
    OmegaConf.register_new_resolver("aebench_seed_axis", seed_axis, replace=True)


register_resolvers()


def config_dir() -> Path:
    """``conf/`` of a source checkout (editable install) or ``aebench/conf`` of a built wheel."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"aebench's config folder is missing (looked in {package / 'conf'} and "
                            f"{package.parent / 'conf'}): reinstall aebench")


SEARCH_SPACE = "search_space"  # a section's ranges for tuned sweeps (aebench.sweep.search): not what a run computes


def without_search_spaces(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: without_search_spaces(value) for key, value in node.items() if key != SEARCH_SPACE}
    if isinstance(node, list):
        return [without_search_spaces(value) for value in node]
    return node


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain values, without Hydra's own node (not resolvable outside a running job) and
    without the search spaces (a run's options, params and run key are the values it trains with)."""
    kept = [key for key in cfg.keys() if key != "hydra"]
    return without_search_spaces(OmegaConf.to_container(OmegaConf.masked_copy(cfg, kept), resolve=True))

