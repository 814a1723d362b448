"""Where the Hydra configs live, and helpers over composed configs."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def config_dir() -> Path:
    """``conf/`` of a source checkout (editable install) or ``aebench/conf`` of a built wheel."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"aebench's config folder is missing (looked in {package / 'conf'} and "
                            f"{package.parent / 'conf'}): reinstall aebench")


def flatten(cfg: DictConfig, skip: tuple[str, ...] = ("hydra",)) -> dict[str, Any]:
    """``{"model.code_dim": 16, ...}`` from a resolved config, for MLflow params."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not prefix and key in skip:
                    continue
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return flat
