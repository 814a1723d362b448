"""The command line checked the way Hydra will compose it, before Hydra starts: a config group
option that does not exist, or a setting that no config has, stops the run with aebench's one
line naming the value and what is allowed, instead of Hydra's multi-line report."""
from __future__ import annotations

import re
from typing import Sequence

from omegaconf import OmegaConf

from aebench.config import config_dir
from aebench.errors import ConfigError

UNKNOWN_SETTING = re.compile(r"Could not override '([^']+)'")


def _loader():
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path

    return ConfigLoaderImpl(config_search_path=create_config_search_path(str(config_dir())))


def _compose(loader, overrides: Sequence[str]):
    from hydra.types import RunMode

    return loader.load_configuration("config", list(overrides), run_mode=RunMode.MULTIRUN)


def check_command_line(arguments: Sequence[str]) -> None:
    """Raise :class:`ConfigError` for the first override Hydra cannot compose. No arguments: nothing
    to check. Flags (``--help``, ``-m``, ``--cfg``) leave the check to Hydra."""
    from hydra.errors import ConfigCompositionException, MissingConfigException

    if not arguments or any(argument.startswith("-") for argument in arguments):
        return  # the default config composes (tested); composing it twice cost the default run ~0.4 s
    loader = _loader()
    try:
        _compose(loader, arguments)
    except MissingConfigException as error:
        group, _, name = str(error.missing_cfg_file).rpartition("/")
        if not group:
            raise
        raise ConfigError(group.replace("/", "."), name, "one of " + ", ".join(error.options or [])) from None
    except ConfigCompositionException as error:
        found = UNKNOWN_SETTING.search(str(error))
        if found is None:
            raise
        key = found.group(1)
        parent, _, field = key.rpartition(".")
        offending = next(a for a in arguments if a.partition("=")[0].lstrip("+~") == key)
        value = offending.partition("=")[2]
        others = [a for a in arguments if a != offending]
        node = OmegaConf.select(_compose(loader, others), parent) if parent else None
        fields = ", ".join(str(k) for k in node.keys()) if node is not None and hasattr(node, "keys") else ""
        hint = "; data_root=... sets the folder of every file-backed dataset, also in a sweep" \
            if key == "dataset.root" else ""
        raise ConfigError(key, value, f"a setting of {parent or 'the config'}"
                          + (f" ({fields})" if fields else "") + hint) from None
