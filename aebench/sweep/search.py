"""Search spaces and trials: what a tuned sweep (``sweep.tune.trials=N``) draws for each combination.

A config section that has knobs declares their ranges beside its defaults, under ``search_space``
(``conf/trainer/default.yaml``: ``lr``; ``conf/regularizer/l2.yaml``: ``weight``; a combination's
terms each their own). ``aebench.config.resolved`` leaves these nodes out of a run's config, so
they change no run key. A dimension may apply only ``when`` a sibling field takes some values
(the denoising noise level that its noise type reads).

Every combination's N trials are the first N points of one scrambled Halton sequence
(``scipy.stats.qmc``, seeded by ``sweep.tune.seed``) mapped onto its own dimensions: a
quasi-random search (Bergstra & Bengio 2012, section 5) with the same budget and, dimension by
dimension, the same points for every method.

A penalty's strength may also declare ``off_at``, the value that turns it off (a weight of 0, no
noise): a regularized combination can then always fall back to no penalty
(``aebench.sweep.tuning``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from omegaconf import DictConfig, OmegaConf

from aebench.config import SEARCH_SPACE
from aebench.errors import ConfigError


@dataclass(frozen=True)
class Dimension:
    key: str        # the override's key: trainer.lr, regularizer.weight, regularizer.terms.denoising.noise_prob
    low: float
    high: float
    log: bool       # log-uniform (scale parameters) or uniform
    off: float | None = None  # the value that turns its term off (a penalty's weight 0), where it has one

    def value(self, unit: float) -> float:
        """The point ``unit`` in [0, 1) of the range, to 3 significant digits (readable labels)."""
        if self.log:
            raw = math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        else:
            raw = self.low + unit * (self.high - self.low)
        return float(f"{raw:.3g}")

    def describe(self) -> str:
        return (f"{self.key} {'log-' if self.log else ''}uniform [{self.low:g}, {self.high:g}]"
                + ("" if self.off is None else f" or off ({self.off:g})"))

    @property
    def term(self) -> str:
        """The config section it belongs to: ``regularizer``, ``regularizer.terms.denoising``, ``trainer``."""
        return self.key.rpartition(".")[0]


FIELDS = ("low", "high", "log", "off_at", "when")  # of one search-space entry


def _dimension(key: str, declared: Any) -> Dimension:
    if not isinstance(declared, Mapping) or not {"low", "high"} <= set(declared):
        raise ConfigError(key + "." + SEARCH_SPACE, declared,
                          "{low: L, high: H} with optional log: true, off_at: V and when: {...}")
    unknown = [str(field) for field in declared if field not in FIELDS]
    if unknown:  # a misspelt field, or YAML 1.1 reading a bare off/on/yes/no as a boolean key
        section, _, name = key.rpartition(".")
        raise ConfigError(f"{section}.{SEARCH_SPACE}.{name}", ", ".join(unknown), "the fields " + ", ".join(FIELDS))
    low, high, log, off = declared["low"], declared["high"], bool(declared.get("log", False)), declared.get("off_at")
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and low < high and (low > 0 or not log)):
        raise ConfigError(key, f"[{low}, {high}]", "a range low < high (low > 0 for log: true)")
    if off is not None and (isinstance(off, bool) or not isinstance(off, (int, float))):
        raise ConfigError(key + ".off_at", off, "a number, the value that turns the term off (0 for a weight)")
    return Dimension(key, float(low), float(high), log, None if off is None else float(off))


def _section_dimensions(section: Mapping[str, Any], prefix: str) -> Iterator[Dimension]:
    for name, declared in (section.get(SEARCH_SPACE) or {}).items():
        key = f"{prefix}.{name}"
        if name not in section:
            raise ConfigError(f"{prefix}.{SEARCH_SPACE}", name, f"a field of {prefix}: "
                              + ", ".join(k for k in section if k != SEARCH_SPACE))
        when = (declared or {}).get("when") or {}
        if all(section.get(field) in ([allowed] if isinstance(allowed, str) else allowed) for field, allowed in when.items()):
            yield _dimension(key, declared)


def dimensions(job_cfg: DictConfig) -> list[Dimension]:
    """The tuned dimensions of one job's composed config: the trainer's, then the regularizer's
    (each term's, for a combination), in the config's order."""
    config = OmegaConf.to_container(job_cfg, resolve=False)
    found = list(_section_dimensions(config.get("trainer", {}), "trainer"))
    regularizer = config.get("regularizer", {})
    if "terms" in regularizer:
        for label, term in (regularizer["terms"] or {}).items():
            found += _section_dimensions(term, f"regularizer.terms.{label}")
    else:
        found += _section_dimensions(regularizer, "regularizer")
    return found


def off_values(dims: list[Dimension], terms: list[str]) -> dict[str, float] | None:
    """The values that turn every term of the regularizer off ({key: off value}), or None where
    there is no term, or a term (``regularizer``, ``regularizer.terms.<label>``) has no dimension
    that can be off: a term without one would stay on."""
    offs: dict[str, dict[str, float]] = {}
    for dim in dims:
        if dim.off is not None:
            offs.setdefault(dim.term, {})[dim.key] = dim.off
    if not terms or any(term not in offs for term in terms):
        return None
    return {key: value for term in terms for key, value in offs[term].items()}


def unit_points(count: int, dims: int, seed: int) -> list[list[float]]:
    """The first ``count`` points of a scrambled Halton sequence in [0, 1)^dims."""
    from scipy.stats import qmc

    if dims == 0:
        return [[] for _ in range(count)]
    return qmc.Halton(d=dims, scramble=True, seed=seed).random(count).tolist()


def trials(dims: list[Dimension], count: int, seed: int) -> list[dict[str, float]]:
    """``count`` assignments {key: value}; a combination without dimensions has one (its defaults)."""
    if not dims:
        return [{}]
    return [{dim.key: dim.value(unit) for dim, unit in zip(dims, point)} for point in unit_points(count, len(dims), seed)]


def hyperparameters(job_cfg: DictConfig) -> dict[str, Any]:
    """The values a job trains with on its tuned dimensions (``trainer.lr``: 0.003, ...)."""
    return {dim.key: OmegaConf.select(job_cfg, dim.key) for dim in dimensions(job_cfg)}


def short(key: str) -> str:
    """``regularizer.terms.denoising.noise_prob`` -> ``denoising.noise_prob``; ``trainer.lr`` -> ``lr``."""
    return key.removeprefix("trainer.").removeprefix("regularizer.terms.").removeprefix("regularizer.")


def describe(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{short(key)}={value:.3g}" if isinstance(value, float) else f"{short(key)}={value}"
                     for key, value in values.items())
