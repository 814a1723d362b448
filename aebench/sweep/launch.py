"""What the sweep's Hydra sweeper (``hydra_plugins.aebench_sweeper``) does with its launcher: launch
the sweep's jobs in one batch, or a tuned sweep's trials, select on validation, and launch the
selected configurations over the sweep's seeds (``aebench.sweep.tuning``)."""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from aebench.sweep.job import SweepContext
from aebench.sweep.plan import job_kind, plan_jobs, sweep_overrides
from aebench.sweep.state import SweepState
from aebench.sweep.tuning import (
    log_selection,
    named_final_jobs,
    penalty_off_rows,
    plan_trials,
    protocol,
    rows_by_selection,
    select,
    trial_jobs,
    tuned,
    without_standard_error,
)
from aebench.tracking import counted_runs, open_store

# a job that ended without a result: submitit's for a cancelled or lost SLURM job, loky's for a
# joblib worker that died (killed, out of memory)
JOB_LOST = ("UncompletedJobError", "TerminatedWorkerError")


def launch_batch(cfg: DictConfig, launcher: Any, overrides: list, first_index: int) -> list[Any] | None:
    """One batch of jobs, or None where the launcher stopped without their results (a SLURM job
    cancelled or lost: submitit raises for it). The sweep then closes as usual: its summary counts
    what did not finish, and re-running the same command trains exactly that."""
    try:
        return launcher.launch(overrides, initial_job_idx=first_index)
    except Exception as error:
        if type(error).__name__ not in JOB_LOST:
            raise
        message = str(error).strip().splitlines()
        print(f"[sweep {cfg.sweep.name}] the launcher stopped: {type(error).__name__}: "
              f"{message[0] if message else ''}; what did not finish is counted as not run: re-run the same "
              "command to train it", flush=True)
        return None


def launch_sweep(cfg: DictConfig, launcher: Any) -> list[Any]:
    """Every batch's job returns, as Hydra's sweepers return them."""
    if not tuned(cfg):
        return [launch_batch(cfg, launcher, sweep_overrides(cfg), 0) or []]
    planned, spaces, fallbacks = plan_trials(cfg)
    refusals: dict[str, str] = {}
    jobs = trial_jobs(cfg, planned, spaces, refusals)
    for combination, reason in refusals.items():
        print(f"[sweep {cfg.sweep.name}] {combination}: its trials train one a job, not together ({reason})", flush=True)
    trials = launch_batch(cfg, launcher, jobs, 0)
    if trials is None:
        return [[]]  # not every trial ran: choosing from fewer would break the equal budget
    returns = [trials]
    context = SweepContext.from_environment()
    state = SweepState(open_store(cfg.tracking), context.parent_run_id, context.sweep_id)
    selection = select(planned, counted_runs(state.children()), fallbacks)
    named_finals = named_final_jobs(cfg, selection)
    finals = [overrides for _, overrides in named_finals]
    final_plan = plan_jobs(cfg, finals, swept=[])[0]
    unmeasured = without_standard_error(selection, fallbacks)
    if unmeasured:
        print(f"[sweep {cfg.sweep.name}] {len(unmeasured)} combinations chose from trials without val/probe_samples "
              "(trained before aebench logged it): the one-standard-error rule for features was not applied to them; "
              "sweep.rerun=true trains the trials again", flush=True)
    log_selection(state, selection, protocol(cfg, spaces, fallbacks, unmeasured), rows_by_selection(final_plan),
                  penalty_off_rows(selection, named_finals, final_plan))
    pending = [job for job in final_plan
               if job.skip_reason is None and (cfg.sweep.rerun or not state.has_finished(job.run_key))]
    context.progress().plan({job.run_key: job_kind(job) for job in pending}, added=True)
    print(f"[sweep {cfg.sweep.name}] selected on validation from {len(planned)} trials: "
          f"{len(finals)} jobs of the selected configurations, {len(pending)} to train", flush=True)
    returns.append(launch_batch(cfg, launcher, finals, len(planned)) or [])
    return returns
