"""A tuned sweep (``sweep.tune.trials=N``): hyperparameters chosen on validation data with the same
budget for every combination, then the chosen configurations trained over the sweep's seeds.

1. Trials: for every dataset x model x regularizer (x task) combination, N jobs drawn from its
   search space (``aebench.sweep.search``), each trained with the trial seed ``sweep.tune.seed``
   (not one of the reported seeds). They are ordinary jobs of the sweep: launched by its launcher,
   cached by run key, each an MLflow child run tagged ``sweep.stage=trial`` and ``sweep.trial``.
2. Selection, on validation metrics only, twice from the same trials (``SELECTIONS``): the lowest
   validation reconstruction error (``val/best_loss``, the clean objective at the best epoch) and
   the highest validation probe accuracy (``val/probe_accuracy``, where the data has labels).
   Ties go to the lower trial number. The choice is logged on the parent run (``selection.json``).
   The penalty off is one of a regularized combination's candidates: where its search space says
   how to turn every term off (``off_at``: a weight of 0, no noise) and the sweep has the same
   combination with ``regularizer=none``, it trains N - 1 trials of its own, and its Nth candidate
   is its penalty off at the configuration chosen for ``regularizer=none`` (that run's validation
   score). So every combination chooses from N candidates (N - 1 where every trial of its
   ``none`` failed), and tuning can always fall back to no penalty: a regularized row is never
   chosen over a configuration that validates better without it. For features, a penalty must
   validate better than its penalty off by more than one standard error of its accuracy
   (``STANDARD_ERROR_SAMPLES``: the one-standard-error rule), not by one or two images.
3. Final runs: each selected configuration with every seed of ``sweep.seeds`` (once, where both
   selections chose the same trial), tagged ``sweep.stage=final`` and ``sweep.selected_for``;
   these are the leaderboard's rows.
   A penalty off trains nothing: with a weight of 0 (no noise) a run has the losses and gradients of
   the ``regularizer=none`` run (the same runs to the last digit for l2, sparse_l1, sparse_kl and
   exact contractive; where a noise or projection is still drawn, the random stream differs), so the
   none row stands for it (``selection.json``: ``penalty_off_rows``; ``aebench.report.collect``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from mlflow.entities import Run
from omegaconf import DictConfig, OmegaConf, open_dict

from aebench.errors import ConfigError
from aebench.regularizers import regularizer_label, regularizer_terms
from aebench.run.plan import member_differences, members_refusal
from aebench.sweep.keys import run_key
from aebench.sweep.plan import job_configs, sweep_overrides
from aebench.sweep.search import Dimension, dimensions, off_values, trials

SELECTIONS = {  # name: (validation metric, higher is better)
    "reconstruction": ("val/best_loss", False),
    "features": ("val/probe_accuracy", True),
}
# Selections whose metric is a proportion over n validation samples, by the metric that holds n: a
# penalty is kept over its penalty off only where it validates better by more than one standard
# error of its score (the one-standard-error rule: the simpler candidate wins within one standard
# error of the best; Breiman, Friedman, Olshen & Stone 1984, section 3.4.3; Hastie, Tibshirani &
# Friedman 2009, section 7.10). The error is Agresti & Coull's (1998), sqrt(p~ (1 - p~) / (n + 4))
# with p~ = (p n + 2) / (n + 4), which stays above 0 at an accuracy of 1. Without the rule a penalty
# was kept for an advantage of one or two of 180 validation images on its trial seed, which did not
# always hold over the reported seeds (BENCHMARKS.md). Trials from before aebench logged n (an older
# store) have no error: the selection then says so (``standard_error: None``) and keeps the strict rule.
STANDARD_ERROR_SAMPLES = {"features": "val/probe_samples"}
SELECTION_ARTIFACT = "selection.json"
OFF = "off"  # a selection's trial where it chose the penalty off (aebench.sweep.search.off_values)


def tuned(cfg: DictConfig) -> bool:
    tune = cfg.sweep.get("tune") or {}
    return int(tune.get("trials") or 0) > 0


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def combinations(cfg: DictConfig) -> list[list[str]]:
    """The sweep's jobs without their seed: one per dataset x model x regularizer (x task, x any
    other swept setting), in the sweep's order."""
    seen, combos = set(), []
    for overrides in sweep_overrides(cfg):
        combo = [o for o in overrides if _key(o) != "seed"]
        if tuple(combo) not in seen:
            seen.add(tuple(combo))
            combos.append(combo)
    return combos


def combination_name(combo: Sequence[str]) -> str:
    return " ".join(combo)


@dataclass
class Trial:
    combination: str
    index: int
    values: dict[str, float]      # the tuned dimensions' values
    overrides: list[str]          # the job's overrides
    run_key: str
    config: DictConfig | None = field(default=None, repr=False, compare=False)  # the job's composed config


@dataclass
class Fallback:
    """A regularized combination's penalty off: the same combination with ``regularizer=none``, and
    the values that turn its penalty off."""
    plain: str                    # the combination's name with regularizer=none
    values: dict[str, float]      # {key: off value}
    label: str = ""               # the regularizer as its runs are tagged: sparse_kl+denoising


def off_settings(combo_cfg: DictConfig, dims: list[Dimension]) -> tuple[dict[str, float] | None, str]:
    """The values that turn the combination's regularizer off (or None), and its label."""
    section = OmegaConf.to_container(combo_cfg.regularizer, resolve=True)
    terms = ["regularizer" + (f".{path}" if path else "") for path, _ in regularizer_terms(section)]
    return off_values(dims, terms), regularizer_label(section)


def _without_penalty_settings(combo: Sequence[str]) -> tuple[str, ...]:
    """The combination without the regularizer's own settings (``regularizer.weight=...``)."""
    return tuple(o for o in combo if not _key(o).startswith("regularizer."))


def _regularizer(combo: Sequence[str]) -> str | None:
    """The combination's ``regularizer=`` choice, or None where it has none."""
    return next((o.partition("=")[2] for o in combo if _key(o) == "regularizer"), None)


def _plain(combo: Sequence[str]) -> tuple[str, ...] | None:
    """The combination with ``regularizer=none``, without the regularizer's own settings, or None
    where it has no penalty."""
    if _regularizer(combo) in (None, "none"):
        return None
    return _without_penalty_settings([("regularizer=none" if _key(o) == "regularizer" else o) for o in combo])


def plain_combinations(combos: Sequence[Sequence[str]]) -> dict[tuple[str, ...], str]:
    """The sweep's ``regularizer=none`` combinations by their overrides without the regularizer's
    settings: a setting on the command line (``++regularizer.projections=4``) is in every job's
    overrides, the plain ones' too, and must not hide a penalty's fallback to them."""
    return {_without_penalty_settings(combo): combination_name(combo) for combo in combos
            if _regularizer(combo) == "none"}


def plan_trials(cfg: DictConfig) -> tuple[list[Trial], dict[str, list[Dimension]], dict[str, Fallback]]:
    """Every combination's trials, each combination's dimensions, and the penalty off of each
    regularized combination that can fall back to its sweep's ``regularizer=none`` (N - 1 trials of its own)."""
    count, seed = int(cfg.sweep.tune.trials), int(cfg.sweep.tune.seed)
    combos = combinations(cfg)
    plains = plain_combinations(combos)
    planned, spaces, fallbacks = [], {}, {}
    for combo, combo_cfg in zip(combos, job_configs(cfg, combos)):
        name = combination_name(combo)
        spaces[name] = dimensions(combo_cfg)
        plain, (off, label) = plains.get(_plain(combo)), off_settings(combo_cfg, spaces[name])
        if plain is not None and off is not None and count > 1:
            fallbacks[name] = Fallback(plain, off, label)
        for dim in spaces[name]:
            fixed = next((o for o in combo if _key(o) == dim.key), None)
            if fixed is not None:  # the drawn value would silently replace it
                raise ConfigError(dim.key, fixed.partition("=")[2], f"drawn by the tuned sweep from its search space "
                                  f"({dim.describe()}), not set on its command line: narrow the range "
                                  f"({dim.term}.search_space.{dim.key.rpartition('.')[2]}.low/high) "
                                  "or set sweep.tune.trials=0")
        drawn = trials(spaces[name], count - (name in fallbacks), seed)
        jobs = [combo + [f"{key}={value!r}" for key, value in values.items()] + [f"seed={seed}", f"sweep.trial={index}"]
                for index, values in enumerate(drawn)]
        for index, (values, overrides, job_cfg) in enumerate(zip(drawn, jobs, job_configs(cfg, jobs))):
            planned.append(Trial(name, index, values, overrides, run_key(job_cfg), job_cfg))
    return planned, spaces, fallbacks


MEMBERS = "sweep.members"  # a job's trials to train together: [{trial: 0, trainer.lr: 0.003, ...}, ...]


def together() -> tuple[str, ...]:
    """What the trials of one job may differ in (``sweep.tune.vectorize``): what a vectorised model's
    members may differ in (``aebench.run.plan.member_differences``), the seed being the trial seed for all."""
    return tuple(key for key in member_differences() if key != "seed")


def trial_jobs(cfg: DictConfig, planned: list[Trial], spaces: dict[str, list[Dimension]],
               refusals: dict[str, str] | None = None) -> list[list[str]]:
    """The jobs that train the trials: one job per trial, or with ``sweep.tune.vectorize`` one job for
    all trials of a combination whose dimensions are among ``together()`` (``+sweep.members=[...]``) and
    whose runs can train together as each would alone (``aebench.run.plan.members_refusal``: not
    stacked pretraining, random penalty estimates or samples, the reference path); that job trains them
    as one vectorised model, each its own run (``aebench.sweep.job.run_members``). The jobs of several trials come first, in the order of their
    combinations, then the others: the longest jobs start first, so that the workers end together
    (the longest-processing-time-first rule of scheduling). ``refusals`` receives, by combination, why
    its trials cannot train together where they could have been grouped."""
    if not cfg.sweep.tune.get("vectorize", False):
        return [trial.overrides for trial in planned]
    grouped: dict[str, list[Trial]] = {}
    refused: dict[str, str | None] = {}  # by combination, from its first trial's config
    keys_together = together()
    for trial in planned:
        keys = [dim.key for dim in spaces[trial.combination]]
        if not (keys and all(key in keys_together for key in keys)):
            continue
        if trial.combination not in refused:
            try:
                refused[trial.combination] = None if trial.config is None else members_refusal(trial.config, keys)
            except ConfigError:  # the rules refuse the combination itself: its jobs are skipped, not grouped
                refused[trial.combination] = ""
        if refused[trial.combination] is None:
            grouped.setdefault(trial.combination, []).append(trial)
    if refusals is not None:
        refusals.update({combination: reason for combination, reason in refused.items() if reason})
    jobs, singles = [], []
    for trial in planned:
        members = grouped.get(trial.combination)
        if members is None or len(members) == 1:
            singles.append(trial.overrides)
        elif trial is members[0]:
            own = {*(dim.key for dim in spaces[trial.combination]), "sweep.trial"}
            listed = ",".join("{" + ",".join([f"trial:{t.index}", *(f"{key}:{value!r}" for key, value in t.values.items())])
                              + "}" for t in members)
            jobs.append([o for o in trial.overrides if _key(o) not in own] + [f"+{MEMBERS}=[{listed}]"])
    return jobs + singles


def with_values(cfg: DictConfig, values: dict[str, Any]) -> DictConfig:
    """A copy of ``cfg`` with a trial's values ({``trainer.lr``: 0.003, ...}) set, as its overrides set them."""
    one = cfg.copy()
    with open_dict(one):
        for key, value in values.items():
            OmegaConf.update(one, str(key), value, merge=False)
    return one


def member_configs(job_cfg: DictConfig) -> list[DictConfig]:
    """The configs of a job's trials (``+sweep.members``), each exactly its trial's own job config."""
    configs = []
    for member in job_cfg.sweep.members:
        one = with_values(job_cfg, {key: value for key, value in member.items() if key != "trial"})
        with open_dict(one):
            del one.sweep["members"]
            one.sweep.trial = int(member["trial"])
        configs.append(one)
    return configs


def first_launch(cfg: DictConfig) -> list[list[str]]:
    """The jobs a sweep launches first: its trials where it is tuned, else all its jobs."""
    return [trial.overrides for trial in plan_trials(cfg)[0]] if tuned(cfg) else sweep_overrides(cfg)


def _score(run: Run | None, metric: str) -> float | None:
    if run is None or run.info.status != "FINISHED":
        return None
    value = run.data.metrics.get(metric)
    return None if value is None or math.isnan(value) else value


def _better(score: float, best: dict[str, Any] | None, higher: bool) -> bool:
    return best is None or (score > best["value"] if higher else score < best["value"])


def proportion_standard_error(accuracy: float, samples: float) -> float:
    """Agresti & Coull's (1998) standard error of a proportion over ``samples``: sqrt(p~ (1 - p~) / (n + 4)),
    p~ = (p n + 2) / (n + 4)."""
    adjusted = (accuracy * samples + 2) / (samples + 4)
    return math.sqrt(adjusted * (1 - adjusted) / (samples + 4))


def _standard_error(run: Run, name: str, score: float) -> dict[str, float | None]:
    """``{"standard_error": ...}`` of a trial's score where its selection has one (``STANDARD_ERROR_SAMPLES``);
    None where the run did not log its n (trained before aebench logged it)."""
    if name not in STANDARD_ERROR_SAMPLES:
        return {}
    samples = _score(run, STANDARD_ERROR_SAMPLES[name])
    return {"standard_error": proportion_standard_error(score, samples) if samples else None}


def _off_chosen(off: dict[str, Any], own: dict[str, Any] | None, higher: bool) -> bool:
    """The penalty off wins unless the penalty's own best trial validates better by more than its
    standard error (where it has one), else strictly better (a tie keeps the penalty's trial)."""
    if own is None:
        return True
    margin = own.get("standard_error") or 0.0
    gain = own["value"] - off["value"] if higher else off["value"] - own["value"]
    return gain <= margin if margin > 0 else gain < 0


def select(planned: list[Trial], runs: dict[str, Run],
           fallbacks: dict[str, Fallback] | None = None) -> dict[str, dict[str, Any]]:
    """For each combination and selection: the chosen trial (its number, values and validation
    score) and how many of its trials finished; a selection is absent where no trial has its metric.
    Where a regularized combination has a penalty off (``fallbacks``), the choice made for its
    ``regularizer=none`` combination is its last candidate: chosen (trial ``off``, the penalty's
    off values with that choice's values) where it validates strictly better than every trial of
    its own (a tie keeps the combination's own trial), or, for a selection with a standard error
    (``STANDARD_ERROR_SAMPLES``), where no trial of its own is better by more than that error. The
    penalty's own best trial stays in the entry (``own``) when the penalty off is chosen."""
    chosen: dict[str, dict[str, Any]] = {}
    for trial in planned:
        entry = chosen.setdefault(trial.combination, {"trials_finished": 0})
        run = runs.get(trial.run_key)
        entry["trials_finished"] += int(run is not None and run.info.status == "FINISHED")
        for name, (metric, higher) in SELECTIONS.items():
            score = _score(run, metric)
            if score is None:
                continue
            if _better(score, entry.get(name), higher):
                entry[name] = {"trial": trial.index, "values": trial.values, "value": score, "metric": metric,
                               "overrides": trial.overrides, **_standard_error(run, name, score)}
    ran = {trial.combination for trial in planned if runs.get(trial.run_key) is not None}
    for combination, fallback in (fallbacks or {}).items():
        if combination not in ran:  # refused by the rules before any trial ran: nothing to fall back from
            continue
        plain, entry = chosen.get(fallback.plain, {}), chosen[combination]
        for name, (_, higher) in SELECTIONS.items():
            if name in plain and _off_chosen(plain[name], entry.get(name), higher):
                own = {key: value for key, value in entry.get(name, {}).items() if key != "overrides"}
                entry[name] = {"trial": OFF, "values": {**plain[name]["values"], **fallback.values},
                               "value": plain[name]["value"], "metric": plain[name]["metric"],
                               "off_of": {"combination": fallback.plain, "trial": plain[name]["trial"],
                                          "regularizer": fallback.label}, **({"own": own} if own else {})}
    return chosen


def final_jobs(cfg: DictConfig, selection: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Each selected configuration with each seed of the sweep: the sweep's own jobs (seeds
    included) with the selected values, and which selections chose them; a penalty off has none
    (its rows are the final runs of regularizer=none: ``penalty_off_rows``)."""
    return [overrides for _, overrides in named_final_jobs(cfg, selection)]


def named_final_jobs(cfg: DictConfig, selection: dict[str, dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """``final_jobs``, each with its combination's name."""
    jobs = []
    for overrides in sweep_overrides(cfg):
        combination = combination_name([o for o in overrides if _key(o) != "seed"])
        entry = selection.get(combination, {})
        picks: dict[str, list[str]] = {}  # the chosen values (two selections may choose the same) -> selections
        for name in SELECTIONS:
            if name in entry and entry[name]["trial"] != OFF:
                picks.setdefault(json.dumps(entry[name]["values"], sort_keys=True), []).append(name)
        for names in picks.values():
            values = entry[names[0]]["values"]
            jobs.append((combination, list(overrides) + [f"{key}={value!r}" for key, value in values.items()]
                         + [f"sweep.selected_for={'+'.join(names)}"]))
    return jobs


def _selected_for(overrides: Sequence[str]) -> list[str]:
    chosen = next((o.partition("=")[2] for o in overrides if o.startswith("sweep.selected_for=")), "")
    return [name for name in chosen.split("+") if name]


def penalty_off_rows(selection: dict[str, dict[str, Any]], named_finals: list[tuple[str, list[str]]],
                     final_plan) -> list[dict[str, Any]]:
    """Where a combination chose its penalty off: the run keys of the final runs of regularizer=none
    chosen for the same selection (its row), with the regularizer and values the report shows.
    ``named_finals``: ``named_final_jobs`` of this selection; ``final_plan``: their planned runs."""
    combinations_of = {tuple(overrides): combination for combination, overrides in named_finals}
    rows = []
    for combination, entry in selection.items():
        for name in SELECTIONS:
            pick = entry.get(name)
            if pick is None or pick["trial"] != OFF:
                continue
            plain = pick["off_of"]["combination"]
            keys = [job.run_key for job in final_plan
                    if combinations_of.get(tuple(job.overrides)) == plain and name in _selected_for(job.overrides)]
            rows.append({"selection": name, "combination": combination, "regularizer": pick["off_of"]["regularizer"],
                         "values": pick["values"], "run_keys": keys})
    return rows


ONE_STANDARD_ERROR = ("validation split; a penalty is kept over its penalty off only where it is better by more than "
                      "one standard error of its accuracy over the n validation samples (Agresti and Coull's): the "
                      "one-standard-error rule")


def without_standard_error(selection: dict[str, dict[str, Any]], fallbacks: dict[str, Fallback]) -> list[str]:
    """The regularized combinations (those with a penalty off) whose choice had no standard error where
    its selection has one: trials from before aebench logged their n, to which the one-standard-error
    rule was not applied."""
    def unmeasured(choice: dict[str, Any]) -> bool:  # the penalty's own best trial: the choice, or kept under "own"
        return choice.get("own", choice).get("standard_error", 0.0) is None

    return [combination for combination, entry in selection.items() if combination in fallbacks
            and any(unmeasured(entry[name]) for name in STANDARD_ERROR_SAMPLES if name in entry)]


def protocol(cfg: DictConfig, spaces: dict[str, list[Dimension]], fallbacks: dict[str, Fallback],
             unmeasured: Sequence[str] = ()) -> dict[str, Any]:
    """How the rows were chosen, for the report; ``unmeasured``: the combinations the one-standard-error
    rule could not be applied to (``without_standard_error``)."""
    return {"trials": int(cfg.sweep.tune.trials), "trial_seed": int(cfg.sweep.tune.seed),
            "penalty_off": (f"{len(fallbacks)} regularized combinations had N - 1 trials of their own and, as their "
                            "Nth candidate, their penalty off (weight 0, no noise) at the configuration chosen for "
                            "regularizer=none on the same data and model") if fallbacks else None,
            "seeds": int(cfg.sweep.seeds),
            "sampler": "scrambled Halton sequence (scipy.stats.qmc), the same points for every combination",
            "one_standard_error": sorted(STANDARD_ERROR_SAMPLES) if fallbacks else [],
            "one_standard_error_not_applied": list(unmeasured),
            "selections": {name: f"{'highest' if higher else 'lowest'} {metric} of the trials ("
                           + (ONE_STANDARD_ERROR if name in STANDARD_ERROR_SAMPLES and fallbacks else "validation split")
                           + ")" for name, (metric, higher) in SELECTIONS.items()},
            "search_spaces": sorted({dim.describe() for dims in spaces.values() for dim in dims})}


def rows_by_selection(final_plan) -> dict[str, list[str]]:
    """Each selection's final runs (run keys): the report's rows of this selection, and only these
    (a final run of an earlier selection, made before a failed trial was trained again, is not)."""
    rows: dict[str, list[str]] = {name: [] for name in SELECTIONS}
    for job in final_plan:
        for name in _selected_for(job.overrides):
            rows[name].append(job.run_key)
    return rows


def log_selection(state, selection: dict[str, dict[str, Any]], about: dict[str, Any],
                  rows: dict[str, list[str]], off_rows: list[dict[str, Any]]) -> None:
    state.store.client.log_text(state.parent_run_id, json.dumps({"protocol": about, "combinations": selection,
                                                                  "rows": rows, "penalty_off_rows": off_rows},
                                                                 indent=1, default=str),
                                SELECTION_ARTIFACT)


def load_selection(store, parent_run_id: str) -> dict[str, Any] | None:
    """The parent run's ``selection.json`` ({"protocol", "combinations"}), or None for an untuned sweep."""
    return store.read_json(parent_run_id, SELECTION_ARTIFACT)
