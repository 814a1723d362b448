"""The Hydra callback that opens a sweep before its jobs launch and closes it after they end,
in the launching process: plan, parent run, stale runs, progress file, summary, exit status."""
from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from aebench.console import fail, quiet_libraries
from aebench.errors import ConfigError, require
from aebench.report import render_report
from aebench.sweep.job import SweepContext
from aebench.sweep.keys import sweep_id
from aebench.sweep.pca_runs import log_pca_baselines
from aebench.sweep.plan import PlannedJob, job_kind, plan_jobs
from aebench.sweep.state import SweepState
from aebench.sweep.summary import summarize
from aebench.sweep.tuning import final_jobs, first_launch, load_selection, tuned
from aebench.tracking import open_store
from aebench.version import machine


class SweepCallback(Callback):
    def __init__(self) -> None:
        self.jobs: list[PlannedJob] = []
        self.state: SweepState | None = None

    def __getstate__(self) -> dict:
        """Launchers pickle Hydra's callbacks into every job; the plan and store stay in this process."""
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        quiet_libraries()
        try:
            self._open(config)
        except BaseException as error:
            if self.state is not None:
                self.state.release()
            if isinstance(error, ConfigError):
                fail(error)
            if not isinstance(error, Exception):
                raise
            traceback.print_exc()  # Hydra would turn it into a warning and launch the jobs anyway
            sys.exit(1)

    def _open(self, config: DictConfig) -> None:
        seeds = config.sweep.seeds
        require(isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1, "sweep.seeds", seeds,
                "an integer >= 1 (the seeds 0 .. n-1 each combination trains)")
        trials = (config.sweep.get("tune") or {}).get("trials") or 0
        require(isinstance(trials, int) and not isinstance(trials, bool) and trials >= 0, "sweep.tune.trials", trials,
                "an integer >= 0 (0: no tuning)")
        if trials:
            trial_seed = (config.sweep.get("tune") or {}).get("seed")
            require(isinstance(trial_seed, int) and trial_seed >= seeds, "sweep.tune.seed", trial_seed,
                    f"an integer >= sweep.seeds ({seeds}): the trials' seed is never a reported seed")
        strategy = str(config.trainer.strategy)
        require(not strategy.startswith("ddp"), "trainer.strategy", strategy,
                "auto in a sweep: a sweep runs one job per device; data parallelism (trainer=ddp) is for one large run")
        self.jobs, swept = plan_jobs(config, first_launch(config))  # a tuned sweep's final runs come after its trials
        store = open_store(config.tracking)  # creates the store and experiment here, before any worker starts
        keys = [job.run_key for job in self.jobs]
        if tuned(config):  # its final runs are not planned yet: what decides them is part of its identity
            keys.append(f"final runs: seeds={config.sweep.seeds} vectorised={config.sweep.vectorize_seeds}")
        identity = sweep_id(keys)
        name = config.sweep.name
        command = "python -m aebench " + " ".join(sys.argv[1:])
        provenance = {f"sweep.{key}": value for key, value in machine().items()}
        self.state = SweepState.open(store, identity, name, tags={"sweep.name": name, "sweep.command": command,
                                                                  **provenance},
                                     params={"sweep.jobs": len(self.jobs)})
        killed, training = self.state.kill_stale_children()  # runs still training elsewhere are left to finish
        done = training | (set() if config.sweep.rerun else self.state.finished_run_keys())
        skipped = [job for job in self.jobs if job.skip_reason is not None]
        to_train = [job for job in self.jobs if job.skip_reason is None and job.run_key not in done]
        elsewhere = [job for job in self.jobs if job.skip_reason is None and job.run_key in training]

        folder = Path(config.tracking.output_dir) / "sweeps" / identity
        folder.mkdir(parents=True, exist_ok=True)
        started = time.time()
        progress = folder / f"progress-{time.strftime('%Y%m%d-%H%M%S')}-{int(started * 1000) % 1000:03d}.jsonl"
        context = SweepContext(self.state.parent_run_id, identity, name, str(progress), len(to_train), len(skipped),
                               started, swept)
        context.export()
        context.progress().plan({job.run_key: job_kind(job) for job in to_train})

        # a tuned sweep's trials of one refused combination share its reason: listed once
        listed = list({(job.combination_label, job.skip_reason): {"label": job.combination_label,
                                                                 "reason": job.skip_reason} for job in skipped}.values())
        store.client.log_text(self.state.parent_run_id, json.dumps(listed, indent=1), "skipped.json")
        store.client.set_tag(self.state.parent_run_id, "sweep.skipped", str(len(skipped)))
        what = "trials" if tuned(config) else "combinations"
        finished = len(self.jobs) - len(skipped) - len(to_train) - len(elsewhere)
        print(f"[sweep {name}] sweep_id {identity}, parent run {self.state.parent_run_id}: {len(self.jobs)} "
              f"{what}, {len(to_train)} to train, {finished} already finished, {len(skipped)} skipped by rules"
              + (f", {killed} stale runs marked KILLED" if killed else "")
              + (f", {len(elsewhere)} still training in an earlier invocation's jobs" if elsewhere else ""),
              flush=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.state is None:
            return
        try:
            self._close(config)
        except Exception:  # noqa: BLE001 (as above: never a mere warning)
            traceback.print_exc()
            sys.exit(1)
        finally:
            self.state.release()

    def _close(self, config: DictConfig) -> None:
        if tuned(config):
            chosen = load_selection(self.state.store, self.state.parent_run_id)
            if chosen is not None:
                self.jobs += plan_jobs(config, final_jobs(config, chosen["combinations"]))[0]
        self.state.wait_for_live_children()  # an earlier invocation's jobs that outlived it end first
        log_pca_baselines(self.jobs, self.state)
        text, counts = summarize(self.jobs, self.state.children())
        client, parent = self.state.store.client, self.state.parent_run_id
        client.log_text(parent, text + "\n", "summary.md")
        for name, count in counts.items():
            client.set_tag(parent, f"sweep.{name}", str(count))
        unfinished = counts["failed"] + counts["missing"]
        self.state.store.finish_run(parent, "FAILED" if unfinished else "FINISHED")
        name = config.sweep.name
        print(f"\n[sweep {name}] {counts['finished']} finished, {counts['skipped']} skipped, "
              f"{counts['failed']} failed" + (f", {counts['missing']} not run" if counts["missing"] else "")
              + f" (sweep_id {self.state.sweep_id})\n\n{text}\n", flush=True)
        report = render_report(self.state.store, self.state.sweep_id, rank_by=config.report.rank_by,
                               output_dir=config.report.output_dir)
        print(f"[sweep {name}] leaderboard: {report}/leaderboard.{{md,csv,tex,html}}", flush=True)
        if unfinished:
            sys.exit(1)
