"""One job of a sweep, in whatever process the launcher runs it: train one combination, isolate
its failure, report one progress line."""
from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from aebench.errors import ConfigError
from aebench.run.plan import is_seed_list, seed_config
from aebench.run.spec import RunSpec
from aebench.run.train import train, train_members, train_seeds
from aebench.sweep.devices import claim_slot
from aebench.sweep.keys import member_key, run_key
from aebench.sweep.plan import job_label
from aebench.sweep.progress import Progress
from aebench.sweep.search import describe, hyperparameters
from aebench.sweep.state import SweepState
from aebench.sweep.tuning import MEMBERS, member_configs, tuned
from aebench.tracking import open_store

SWEEP_ENV = "AEBENCH_SWEEP"  # how the launching process tells its jobs which sweep they belong to


@dataclass
class SweepContext:
    parent_run_id: str
    sweep_id: str
    name: str
    progress_path: str
    total: int
    skipped: int
    started: float
    swept: list[str]     # settings the sweep varies beyond dataset, model, regularizer and seed

    def export(self) -> None:
        os.environ[SWEEP_ENV] = json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> "SweepContext | None":
        text = os.environ.get(SWEEP_ENV)
        return cls(**json.loads(text)) if text else None

    def progress(self) -> Progress:
        return Progress(Path(self.progress_path), self.total, self.skipped, self.started, self.name)


def share_the_machine(cfg: DictConfig, lock_dir: Path) -> None:
    """Parallel workers split the CPU cores between them, and take one GPU each when there are several."""
    launcher = HydraConfig.get().launcher
    workers = launcher.get("n_jobs", 1) if "joblib" in str(launcher.get("_target_", "")) else 1
    workers = os.cpu_count() if workers in (None, -1) else workers
    if workers > 1 and not torch.cuda.is_available():
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus > 1 and cfg.trainer.accelerator in ("auto", "gpu", "cuda") and cfg.trainer.devices == 1:
        with open_dict(cfg):
            cfg.trainer.devices = [claim_slot(lock_dir / "gpus", gpus)]


def reproduce_tag(cfg: DictConfig, member: dict[str, Any] | None = None) -> dict[str, str]:
    """``aebench.reproduce``: the command that re-runs exactly this job: the sweep config and the
    job's overrides, each key once (Hydra's command-line overrides win over the sweep's axes, so
    the sweep has this one job); a tuned sweep's job with its values as they are (no tuning);
    for one trial of a job that trains several (``sweep.members``), that trial's ``member`` values."""
    chosen: dict[str, str] = {}
    for override in [*HydraConfig.get().overrides.task, *(f"{k}={v!r}" for k, v in (member or {}).items())]:
        key = override.partition("=")[0].lstrip("+~")
        if key not in ("sweep.trial", "sweep.selected_for", MEMBERS):
            chosen.pop(key, None)
            chosen[key] = override  # the last one, which Hydra applies
    if tuned(cfg):
        chosen["sweep.tune.trials"] = "sweep.tune.trials=0"
    ordered = sorted(chosen.values(), key=lambda o: not o.startswith("+sweep="))
    quoted = [f"'{o}'" if any(c in o for c in "[],*'\" $") else o for o in ordered]
    return {"aebench.reproduce": " ".join(["python -m aebench", *quoted])}


def tuning_tags(cfg: DictConfig) -> dict[str, str]:
    """A tuned sweep's runs: ``sweep.stage`` (trial or final), the trial's number or the selections
    that chose the configuration, and the values of the tuned hyperparameters."""
    sweep = cfg.sweep
    if not tuned(cfg):
        return {}
    stage = {"sweep.stage": "trial", "sweep.trial": str(sweep.trial)} if sweep.get("trial") is not None else \
        {"sweep.stage": "final", "sweep.selected_for": str(sweep.get("selected_for"))}
    values = hyperparameters(cfg)
    return {**stage, "sweep.hyperparameters": describe(values), "sweep.tuned_keys": ",".join(values)}


def run_sweep_job(cfg: DictConfig) -> str:
    """Train this job's combination under the sweep's parent run, unless it is already FINISHED
    there (``sweep.rerun=true`` trains it again) or another live process holds its claim. Returns
    the outcome: FINISHED, FAILED, skipped, cached or training elsewhere. Only an interrupt stops
    the sweep; every other failure stays in this run."""
    context = SweepContext.from_environment()
    state = SweepState(open_store(cfg.tracking), context.parent_run_id, context.sweep_id)
    share_the_machine(cfg, Path(context.progress_path).parent)
    key, several = run_key(cfg), is_seed_list(cfg) or bool(cfg.sweep.get("members"))
    if not several and not cfg.sweep.rerun and state.has_finished(key):
        return "cached"  # the common case of a resumed sweep, without a claim
    with state.claimed(key) as ours:
        if not ours:
            return "training elsewhere"  # by a live job of an earlier or of a simultaneous invocation
        if is_seed_list(cfg):
            return run_seed_list(cfg, context, state)
        if cfg.sweep.get("members"):
            return run_members(cfg, context, state)
        if not cfg.sweep.rerun and state.has_finished(key):
            return "cached"  # finished while this job waited for its claim
        return train_job(cfg, context, key)


def train_job(cfg: DictConfig, context: SweepContext, key: str, member: dict[str, Any] | None = None) -> str:
    started = time.perf_counter()
    try:
        spec = RunSpec.of(cfg)
        label = job_label(spec, context.swept)
        result = train(spec, parent_run_id=context.parent_run_id,
                       tags={"run_key": key, "sweep_id": context.sweep_id, "aebench.label": label, **tuning_tags(cfg),
                             **reproduce_tag(cfg, member)})
    except ConfigError:
        return "skipped"  # the launching process listed it with its reason already
    except Exception as error:  # noqa: BLE001 (fault isolation: the run is FAILED, the sweep goes on)
        status, detail = "FAILED", failure_detail(error)
    else:
        status, detail = result.status, scores(result.metrics)
    report(context, key, label, status, time.perf_counter() - started, detail)
    return status


def report(context: SweepContext, key: str, label: str, status: str, seconds: float, detail: str) -> None:
    progress = context.progress()
    progress.record(key, status, seconds)
    print(progress.line(f"{label}: {status} in {seconds:.1f} s ({detail})"), flush=True)


def failure_detail(error: BaseException) -> str:
    """The error's type and the first line of its message, for a progress line."""
    text = str(error)
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def scores(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name} {metrics[name]:.4g}" for name in ("test/psnr", "test/mse") if name in metrics)


def run_seed_list(cfg: DictConfig, context: SweepContext, state: SweepState) -> str:
    """``sweep.vectorize_seeds=true``: the seeds not yet FINISHED train together as one vectorised
    model, each its own run; where vectorising cannot apply (``aebench.run.plan.check_vectorisable``)
    they train one after another."""
    listed = list(cfg.seed)  # the list names the members' keys, whichever of them are still to train
    pending = [seed for seed in listed
               if cfg.sweep.rerun or not state.has_finished(member_key(seed_config(cfg, seed), listed))]
    if not pending:
        return "cached"
    with open_dict(cfg):
        cfg.seed = pending
    configs = [seed_config(cfg, seed) for seed in pending]

    def tags(seed: DictConfig | RunSpec) -> dict[str, str]:
        spec = RunSpec.of(seed)
        return {"run_key": member_key(spec, listed), "sweep_id": context.sweep_id,
                "aebench.label": job_label(spec, context.swept), **tuning_tags(cfg), **reproduce_tag(cfg)}

    started = time.perf_counter()
    try:
        results = train_seeds(cfg, parent_run_id=context.parent_run_id, tags=tags)
    except ConfigError:
        for seed_cfg in configs:  # not vectorisable here, or refused: each seed on its own
            single_started = time.perf_counter()
            try:
                result = train(seed_cfg, parent_run_id=context.parent_run_id, tags=tags(seed_cfg))
                status, detail = result.status, scores(result.metrics)
            except ConfigError:
                continue
            except Exception as error:  # noqa: BLE001 (fault isolation)
                status, detail = "FAILED", failure_detail(error)
            report(context, tags(seed_cfg)["run_key"], tags(seed_cfg)["aebench.label"], status,
                   time.perf_counter() - single_started, detail)
        return "done"
    except Exception as error:  # noqa: BLE001 (the seeds' runs are FAILED, the sweep goes on)
        results = [None] * len(configs)
        failure = failure_detail(error)
    share = (time.perf_counter() - started) / len(configs)
    for seed_cfg, result in zip(configs, results):
        status = "FAILED" if result is None else result.status
        detail = failure if result is None else scores(result.metrics)
        report(context, tags(seed_cfg)["run_key"], tags(seed_cfg)["aebench.label"], status, share, detail)
    return "done"


def run_members(cfg: DictConfig, context: SweepContext, state: SweepState) -> str:
    """Trials of one combination (``sweep.members``, ``sweep.tune.vectorize``): those not yet FINISHED
    train together as one vectorised model, each its own run with its trial's run key, where each is
    then the run it would be alone (``aebench.run.train.train_members``, ``as_alone``); elsewhere
    (stacked pretraining, a random penalty estimate or sample, the reference path) they train one after another."""
    values = [{str(k): v for k, v in member.items() if k != "trial"} for member in cfg.sweep.members]
    members = [(config, run_key(config), value) for config, value in zip(member_configs(cfg), values)]
    with ExitStack() as claims:  # each trial's own claim too: a sweep run one job a trial may hold some
        pending, elsewhere = [], 0
        for member in members:
            if not cfg.sweep.rerun and state.has_finished(member[1]):
                continue
            if not claims.enter_context(state.claimed(member[1])):
                elsewhere += 1
            elif cfg.sweep.rerun or not state.has_finished(member[1]):  # not finished while we claimed it
                pending.append(member)
        if not pending:
            return "training elsewhere" if elsewhere else "cached"
        return train_trials_together(context, pending)


def train_trials_together(context: SweepContext, pending: list[tuple[DictConfig, str, dict[str, Any]]]) -> str:
    """The trials (config, run key, values) as one vectorised model, or one after another where refused."""
    def tags(config: DictConfig, key: str, value: dict[str, Any]) -> dict[str, str]:
        return {"run_key": key, "sweep_id": context.sweep_id, "aebench.label": job_label(RunSpec.of(config), context.swept),
                **tuning_tags(config), **reproduce_tag(config, value)}

    started = time.perf_counter()
    try:
        results = train_members([config for config, _, _ in pending], parent_run_id=context.parent_run_id,
                                tags=[tags(*member) for member in pending], as_alone=True)
    except ConfigError as reason:  # refused here (the launching process checked it could): each trial on its own
        print(f"[sweep {context.name}] {job_label(RunSpec.of(pending[0][0]), context.swept)}: its {len(pending)} trials "
              f"cannot train together, one after another instead ({reason})", flush=True)
        for config, key, value in pending:
            train_job(config, context, key, value)
        return "done"
    except Exception as error:  # noqa: BLE001 (the trials' runs are FAILED, the sweep goes on)
        results, failure = [None] * len(pending), failure_detail(error)
    share = (time.perf_counter() - started) / len(pending)
    for (config, key, value), result in zip(pending, results):
        status = "FAILED" if result is None else result.status
        detail = failure if result is None else scores(result.metrics)
        report(context, key, job_label(RunSpec.of(config), context.swept), status, share, detail)
    return "done"
