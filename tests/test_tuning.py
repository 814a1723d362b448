"""Tuned sweeps: search spaces declared beside the defaults, the same quasi-random trials for every
combination, selection on validation metrics only, and a resumed tuned sweep that trains no trial twice."""
import json
import math
import signal
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from sweeps import aebench, runs, store

from aebench.config import config_dir
from aebench.errors import ConfigError
from aebench.run.spec import RunSpec
from aebench.sweep.keys import run_key
from aebench.sweep.search import Dimension, dimensions, off_values, trials
from aebench.sweep.tuning import (
    OFF,
    SELECTIONS,
    STANDARD_ERROR_SAMPLES,
    Fallback,
    Trial,
    final_jobs,
    member_configs,
    off_settings,
    plan_trials,
    proportion_standard_error,
    select,
    trial_jobs,
    without_standard_error,
)
from aebench.tracking import TrackingStore, counted_runs


def composed(*overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def tuned_plan(*overrides: str, chosen=None):
    """``plan_trials`` of a sweep (and ``final_jobs`` of a selection ``chosen``), composed as Hydra runs it."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
        return plan_trials(cfg) if chosen is None else final_jobs(cfg, chosen)


@pytest.mark.parametrize("regularizer, expected", [
    ("none", ["trainer.lr"]),
    ("l2", ["trainer.lr", "regularizer.weight"]),
    ("sparse_l1", ["trainer.lr", "regularizer.weight"]),
    ("sparse_kl", ["trainer.lr", "regularizer.target", "regularizer.weight"]),
    ("contractive", ["trainer.lr", "regularizer.weight"]),
    ("denoising", ["trainer.lr", "regularizer.noise_prob"]),  # masking noise: its fraction, not a sigma
    ("sparse_kl_denoising", ["trainer.lr", "regularizer.terms.sparse_kl.target", "regularizer.terms.sparse_kl.weight",
                             "regularizer.terms.denoising.noise_prob"]),
])
def test_every_knob_has_a_search_space_beside_its_default(regularizer, expected):
    cfg = composed(f"regularizer={regularizer}")
    dims = dimensions(cfg)
    assert [dim.key for dim in dims] == expected
    assert all(0 <= dim.low < dim.high and (dim.low > 0 or not dim.log) for dim in dims)
    # every penalty can be turned off, each term of a combination by its strength: weight 0, no noise
    off, label = off_settings(cfg, dims)
    assert label == regularizer.replace("_denoising", "+denoising")
    assert (off is None) == (regularizer == "none")
    assert off is None or (set(off) == {k for k in expected if k.endswith((".weight", ".noise_prob"))}
                           and set(off.values()) == {0.0})


def test_a_term_that_cannot_be_turned_off_keeps_the_whole_regularizer_on():
    weight = Dimension("regularizer.terms.l2.weight", 1e-6, 1e-2, log=True, off=0.0)
    target = Dimension("regularizer.terms.sparse_kl.target", 0.01, 0.2, log=True)
    terms = ["regularizer.terms.l2", "regularizer.terms.sparse_kl"]
    assert off_values([weight, target], terms) is None  # sparse_kl would stay on: no fallback to none
    assert off_values([weight], ["regularizer.terms.l2"]) == {"regularizer.terms.l2.weight": 0.0}
    assert off_values([weight], []) is None


def test_a_search_space_entry_with_an_unknown_field_is_refused():
    """YAML 1.1 reads a bare ``off:`` as the boolean False: a field the entry does not know is an error."""
    with pytest.raises(ConfigError, match=r"regularizer.search_space.weight='off'.*low, high, log, off_at, when"):
        dimensions(composed("regularizer=l2", "+regularizer.search_space.weight.off=0"))
    yaml = OmegaConf.create("regularizer: {name: l2, weight: 0.1, search_space: {weight: {low: 1, high: 2, off: 0}}}")
    with pytest.raises(ConfigError, match=r"regularizer.search_space.weight='False'"):
        dimensions(yaml)


def test_a_dimension_applies_only_to_the_noise_it_sets():
    keys = [dim.key for dim in dimensions(composed("regularizer=denoising", "regularizer.noise=gaussian"))]
    assert keys == ["trainer.lr", "regularizer.noise_std"]


def test_search_spaces_change_no_run_key_and_no_param():
    plain = composed("regularizer=l2")
    wider = composed("regularizer=l2", "regularizer.search_space.weight.high=1.0")
    assert run_key(plain) == run_key(wider)
    assert not any("search_space" in key for key in RunSpec.of(plain).params())
    assert run_key(plain) != run_key(composed("regularizer=l2", "regularizer.weight=0.001"))


def test_trials_are_the_same_quasi_random_points_for_every_combination():
    lr = Dimension("trainer.lr", 3e-4, 3e-2, log=True)
    weight = Dimension("regularizer.weight", 1e-6, 1e-2, log=True)
    alone, paired = trials([lr], 8, seed=1000), trials([lr, weight], 8, seed=1000)
    assert [t["trainer.lr"] for t in alone] == [t["trainer.lr"] for t in paired]  # same budget, same points
    assert len({t["trainer.lr"] for t in alone}) == 8
    assert all(3e-4 <= t["trainer.lr"] <= 3e-2 and 1e-6 <= t["regularizer.weight"] <= 1e-2 for t in paired)
    # a quasi-random sequence covers the log range evenly: one point in each eighth, give or take one
    eighths = sorted(int(8 * math.log(t["trainer.lr"] / 3e-4) / math.log(100)) for t in alone)
    assert len(set(eighths)) >= 6
    assert trials([lr], 8, seed=1000) == alone and trials([lr], 8, seed=1001) != alone
    assert trials([], 8, seed=1000) == [{}]  # nothing to tune: one trial, the defaults


def test_selection_sees_validation_metrics_only(tmp_path):
    """Trials whose test scores rank them the other way round: the choice follows validation."""
    tracking = TrackingStore.shared(f"sqlite:///{tmp_path / 'mlflow.db'}", "selection")
    planned, scores = [], [  # (val/best_loss, test/mse, val/probe_accuracy, test/probe_accuracy, status)
        (0.030, 0.010, 0.70, 0.99, "FINISHED"),
        (0.020, 0.050, 0.90, 0.50, "FINISHED"),   # best on validation for both selections, worst on test
        (0.001, 0.001, 0.99, 0.99, "FAILED"),     # a failed trial is never chosen
    ]
    for index, (val_loss, test_mse, val_probe, test_probe, status) in enumerate(scores):
        run_id = tracking.start_run(f"trial{index}", {"run_key": f"key{index}"}, {})
        tracking.log_metrics(run_id, {"val/best_loss": val_loss, "test/mse": test_mse,
                                      "val/probe_accuracy": val_probe, "test/probe_accuracy": test_probe})
        tracking.finish_run(run_id, status)
        planned.append(Trial("digits deep l2", index, {"trainer.lr": 0.001 * (index + 1)}, [], f"key{index}"))
    found = counted_runs(tracking.client.search_runs([tracking.experiment_id]))
    chosen = select(planned, found)["digits deep l2"]
    assert chosen["reconstruction"]["trial"] == 1 and chosen["features"]["trial"] == 1
    assert chosen["trials_finished"] == 2
    assert all(metric.startswith("val/") for metric, _ in SELECTIONS.values())


def test_a_regularized_combination_has_n_minus_1_trials_and_its_penalty_off_as_nth_candidate():
    """The same budget of N candidates: N trials for regularizer=none, N - 1 for each regularized
    combination plus its penalty off at the choice made for none; without none in the sweep, N trials."""
    swept = ["+sweep=quick", "sweep.tune.trials=4", "sweep.datasets=[digits]", "sweep.models=[undercomplete]"]
    planned, _, fallbacks = tuned_plan(*swept, "sweep.regularizers=[none,l2,sparse_kl_denoising]")
    count = {}
    for trial in planned:
        count[trial.combination.split()[2]] = count.get(trial.combination.split()[2], 0) + 1
    assert count == {"regularizer=none": 4, "regularizer=l2": 3, "regularizer=sparse_kl_denoising": 3}
    assert sorted((f.values for f in fallbacks.values()), key=len) == [
        {"regularizer.weight": 0.0},
        {"regularizer.terms.sparse_kl.weight": 0.0, "regularizer.terms.denoising.noise_prob": 0.0}]
    assert {f.plain.split()[2] for f in fallbacks.values()} == {"regularizer=none"}
    assert sorted(f.label for f in fallbacks.values()) == ["l2", "sparse_kl+denoising"]  # as runs are tagged
    # the trials it keeps are the first N - 1 of the same sequence (their run keys do not change)
    lr = {t.index: t.values["trainer.lr"] for t in planned if "regularizer=none" in t.combination}
    assert all(t.values["trainer.lr"] == lr[t.index] for t in planned)
    alone, _, none_left = tuned_plan(*swept, "sweep.regularizers=[l2]")
    assert len(alone) == 4 and none_left == {}


def planned_trial_jobs(*swept: str):
    """(config, trials, search spaces, trial jobs) of a sweep composed as Hydra runs it (inside initialize_config_dir)."""
    cfg = compose("config", overrides=list(swept), return_hydra_config=True)
    planned, spaces, _ = plan_trials(cfg)
    return cfg, planned, spaces, trial_jobs(cfg, planned, spaces)


def test_trials_that_differ_in_lr_and_weight_are_one_job_and_each_member_is_its_trial():
    """``sweep.tune.vectorize``: a combination whose trials differ only in learning rate, penalty weight and a
    setting members set apart (sparse_kl's target) is
    one job (``+sweep.members``); each member's config is its trial's own, with its run key and values, so
    caching, resuming and selection see the same trials; other combinations keep one job a trial."""
    from aebench.sweep.job import tuning_tags
    from aebench.sweep.plan import job_configs

    swept = ["+sweep=quick", "sweep.tune.trials=4", "sweep.datasets=[digits]", "sweep.models=[undercomplete,stacked]",
             "sweep.regularizers=[none,l2,denoising,sparse_kl]"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg, planned, spaces, jobs = planned_trial_jobs(*swept)
        grouped = [job for job in jobs if any(o.startswith("+sweep.members=") for o in job)]
        # sparse_kl's trials draw its target too, denoising's its noise level: members set them apart
        # (Regularizer.per_member), each drawing its corruption as alone (aebench.fast.member_draws)
        assert len(planned) == 2 * (4 + 3 + 3 + 3) and len(jobs) == 4 + 13 and jobs[:4] == grouped  # longest first
        # stacked pretrains layer by layer: one job a trial, in parallel
        assert [job for job in jobs if job not in grouped] == [t.overrides for t in planned
                                                               if "model=stacked" in t.combination]
        for job, job_cfg in zip(grouped, job_configs(cfg, grouped)):
            choices = [o for o in job if o.startswith(("model=", "regularizer="))]
            trials_of = [t for t in planned if set(choices) <= set(t.combination.split())]
            members = member_configs(job_cfg)
            assert len(members) == len(trials_of) in (3, 4)
            for member, trial in zip(members, trials_of):
                assert run_key(member) == trial.run_key
                tags = tuning_tags(member)
                assert tags["sweep.stage"] == "trial" and tags["sweep.trial"] == str(trial.index)
                assert all(OmegaConf.select(member, key) == value for key, value in trial.values.items())
        one_each = compose("config", overrides=swept + ["sweep.tune.vectorize=false"], return_hydra_config=True)
        assert trial_jobs(one_each, planned, spaces) == [t.overrides for t in planned]


def test_trials_of_a_penalty_that_is_not_its_weight_times_a_term_keep_one_job_each(monkeypatch):
    from aebench.regularizers import L2

    monkeypatch.setattr(L2, "weight_scales_penalty", False)
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        _, planned, _, jobs = planned_trial_jobs("+sweep=quick", "sweep.tune.trials=3", "sweep.datasets=[digits]",
                                                 "sweep.models=[undercomplete]", "sweep.regularizers=[none,l2]")
    assert len(jobs) == 1 + 2 and jobs[1:] == [t.overrides for t in planned if "regularizer=l2" in t.combination]


def test_a_regularizer_setting_on_the_command_line_keeps_the_penalty_off_candidate():
    """A setting of the regularizer on the command line is in every job's overrides, the
    ``regularizer=none`` jobs' too; the penalty off must still fall back to those (it was silently
    dropped, and the penalty had N trials of its own)."""
    swept = ["+sweep=quick", "sweep.tune.trials=4", "sweep.datasets=[digits]", "sweep.models=[undercomplete]",
             "sweep.regularizers=[none,contractive]", "++regularizer.projections=4"]
    planned, _, fallbacks = tuned_plan(*swept)
    ((name, fallback),) = fallbacks.items()
    names = {trial.combination for trial in planned}
    assert "regularizer=contractive" in name and fallback.plain in names and "regularizer=none" in fallback.plain
    assert "++regularizer.projections=4" in fallback.plain  # the plain combination as the sweep has it
    assert sum(trial.combination == name for trial in planned) == 3
    assert fallback.values == {"regularizer.weight": 0.0}


def test_the_penalty_off_is_chosen_where_no_trial_of_the_penalty_validates_better(tmp_path):
    tracking = TrackingStore.shared(f"sqlite:///{tmp_path / 'mlflow.db'}", "fallback")
    planned, plain, strong = [], "digits deep none", "digits deep l2"
    scores = {  # (combination, trial): (val/best_loss, val/probe_accuracy)
        (plain, 0): (0.020, 0.80), (plain, 1): (0.010, 0.85),
        (strong, 0): (0.030, 0.90), (strong, 1): (0.015, 0.70)}  # worse for reconstruction, better for features
    for (combination, index), (val_loss, val_probe) in scores.items():
        key = f"{combination}/{index}"
        run_id = tracking.start_run(key, {"run_key": key}, {})
        tracking.log_metrics(run_id, {"val/best_loss": val_loss, "val/probe_accuracy": val_probe})
        tracking.finish_run(run_id, "FINISHED")
        values = {"trainer.lr": 0.001 * (index + 1), **({"regularizer.weight": 0.5} if combination == strong else {})}
        planned.append(Trial(combination, index, values, [], key))
    found = counted_runs(tracking.client.search_runs([tracking.experiment_id]))
    chosen = select(planned, found, {strong: Fallback(plain, {"regularizer.weight": 0.0}, "l2")})
    recon, features = chosen[strong]["reconstruction"], chosen[strong]["features"]
    assert recon["trial"] == OFF and recon["values"] == {"trainer.lr": 0.002, "regularizer.weight": 0.0}
    assert recon["value"] == 0.010 and recon["off_of"] == {"combination": plain, "trial": 1, "regularizer": "l2"}
    assert features["trial"] == 0 and features["values"] == {"trainer.lr": 0.001, "regularizer.weight": 0.5}
    assert chosen[plain]["reconstruction"]["trial"] == 1 and "off_of" not in chosen[plain]["reconstruction"]
    assert select(planned, found)[strong]["reconstruction"]["trial"] == 1  # without the fallback: its own best

    # the final runs of the penalty off train the regularized combination with weight 0 at none's choice
    swept = ["+sweep=quick", "sweep.tune.trials=2", "sweep.datasets=[digits]", "sweep.models=[deep]",
             "sweep.regularizers=[none,l2]", "sweep.seeds=1"]
    ((name, fallback),) = tuned_plan(*swept)[2].items()
    jobs = tuned_plan(*swept, chosen={name: chosen[strong], fallback.plain: chosen[plain]})
    # the penalty off trains nothing (weight 0 trains the runs of regularizer=none): l2 has only its features job
    assert [job[-1] for job in jobs if "regularizer=l2" in job] == ["sweep.selected_for=features"]
    assert [job[-1] for job in jobs if "regularizer=none" in job] == ["sweep.selected_for=reconstruction+features"]


def test_for_features_a_penalty_must_beat_its_penalty_off_by_one_standard_error(tmp_path):
    """The one-standard-error rule: a penalty whose best trial validates 0.01 better than its
    penalty off on 180 validation images (SE 0.026) is not kept; on 20,000 images (SE 0.0025) it is.
    Reconstruction has no standard error: there any gain keeps the penalty."""
    plain, strong = "digits deep none", "digits deep l2"

    fallbacks = {strong: Fallback(plain, {"regularizer.weight": 0.0}, "l2")}

    def chosen_with(samples: float | None, own: float = 0.86, off: float = 0.85) -> dict:
        tracking = TrackingStore.shared(f"sqlite:///{tmp_path / f'{samples}-{own}.db'}", "margin")
        planned = []
        for combination, val_loss, val_probe in ((plain, 0.020, off), (strong, 0.019, own)):
            key = f"{combination}/0"
            run_id = tracking.start_run(key, {"run_key": key}, {})
            n = {} if samples is None else {"val/probe_samples": samples}
            tracking.log_metrics(run_id, {"val/best_loss": val_loss, "val/probe_accuracy": val_probe, **n})
            tracking.finish_run(run_id, "FINISHED")
            planned.append(Trial(combination, 0, {"trainer.lr": 0.001}, [], key))
        found = counted_runs(tracking.client.search_runs([tracking.experiment_id]))
        return select(planned, found, fallbacks)

    few, many = chosen_with(180)[strong], chosen_with(20_000)[strong]
    assert few["features"]["trial"] == OFF and few["features"]["value"] == 0.85
    assert few["features"]["own"]["value"] == 0.86  # the penalty's own best stays in selection.json
    adjusted = (0.86 * 20_000 + 2) / 20_004  # Agresti & Coull's standard error, written out
    assert many["features"]["trial"] == 0 and many["features"]["standard_error"] == pytest.approx(
        math.sqrt(adjusted * (1 - adjusted) / 20_004))
    assert few["reconstruction"]["trial"] == 0 == many["reconstruction"]["trial"]  # 0.019 < 0.020, no margin
    # at an accuracy of 1 the error stays above 0: one image of 180 is within it
    assert chosen_with(180, own=1.0, off=179 / 180)[strong]["features"]["trial"] == OFF
    # trials from before val/probe_samples was logged: the strict rule, and the selection says so
    old = chosen_with(None)
    assert old[strong]["features"]["trial"] == 0 and old[strong]["features"]["standard_error"] is None
    assert without_standard_error(old, fallbacks) == [strong] and without_standard_error(chosen_with(180), fallbacks) == []


GRID = ["+sweep=quick", "sweep.tune.trials=3", "sweep.datasets=[digits]", "sweep.models=[undercomplete]",
        "sweep.regularizers=[none,l2]", "sweep.seeds=2", "trainer.max_epochs=6"]


@pytest.mark.slow
def test_a_killed_tuned_sweep_resumes_without_training_a_trial_twice_and_selects_on_validation(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "aebench", *GRID], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if " 3/5 done" in line:  # 3 trials of none, 2 of l2 (its third candidate: its penalty off)
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    before = {r.info.run_id: r.data.tags["run_key"] for r in runs(tmp_path) if r.info.status == "FINISHED"}
    assert len(before) >= 3

    resumed = aebench(tmp_path, *GRID)
    assert resumed.returncode == 0, resumed.stderr
    children = runs(tmp_path)
    finished = [r for r in children if r.info.status == "FINISHED"]
    keys = [r.data.tags["run_key"] for r in finished]
    assert len(keys) == len(set(keys))  # no trial and no final run trained twice
    assert set(before) <= {r.info.run_id for r in finished}  # the trials finished before the kill are kept
    trial_runs = [r for r in finished if r.data.tags.get("sweep.stage") == "trial"]
    final_runs = [r for r in finished if r.data.tags.get("sweep.stage") == "final"]
    assert len(trial_runs) == 5 and all(r.data.tags["seed"] == "1000" for r in trial_runs)
    # sweep.tune.vectorize (the default): each combination's trials trained together, each its own run
    assert all(int(r.data.tags["aebench.vectorized_members"]) >= 1 for r in trial_runs)
    assert {r.data.tags["seed"] for r in final_runs} == {"0", "1"}

    (parent,) = runs(tmp_path, "sweep")
    selection = json.load(open(store(tmp_path).download_artifacts(parent.info.run_id, "selection.json")))
    assert selection["protocol"]["trials"] == 3 and selection["protocol"]["seeds"] == 2
    assert selection["protocol"]["penalty_off"].startswith("1 regularized combinations")
    chosen = {regularizer: next(v for c, v in selection["combinations"].items() if f"regularizer={regularizer}" in c)
              for regularizer in ("none", "l2")}
    for selected_for, (metric, higher) in SELECTIONS.items():
        def best(regularizer):  # (validation score, trial) of the regularizer's own best trial
            own = [((-1 if higher else 1) * r.data.metrics[metric], int(r.data.tags["sweep.trial"]))
                   for r in trial_runs if r.data.tags["regularizer"] == regularizer]
            return min(own)
        assert chosen["none"][selected_for]["trial"] == best("none")[1]
        # l2 chooses from its 2 trials and its penalty off at none's choice: for reconstruction a tie goes to
        # its own trial; for features its own trial must be better by more than one standard error
        gain = best("none")[0] - best("l2")[0]
        margin = 0.0
        if selected_for in STANDARD_ERROR_SAMPLES:
            accuracy, samples = -best("l2")[0], trial_runs[0].data.metrics[STANDARD_ERROR_SAMPLES[selected_for]]
            margin = proportion_standard_error(accuracy, samples)
        off = gain <= margin if margin > 0 else gain < 0
        assert chosen["l2"][selected_for]["trial"] == (OFF if off else best("l2")[1])
        for regularizer in ("none", "l2"):
            values = chosen[regularizer][selected_for]["values"]
            rows = [r for r in final_runs if r.data.tags["regularizer"] == regularizer
                    and selected_for in r.data.tags["sweep.selected_for"].split("+")]
            if regularizer == "l2" and off:  # no run of its own: its row is none's final runs of this selection
                assert rows == []
                (listed,) = [row for row in selection["penalty_off_rows"] if row["selection"] == selected_for]
                assert listed["regularizer"] == "l2" and listed["values"]["regularizer.weight"] == 0.0
                assert sorted(listed["run_keys"]) == sorted(r.data.tags["run_key"] for r in final_runs
                                                            if r.data.tags["regularizer"] == "none"
                                                            and selected_for in r.data.tags["sweep.selected_for"])
                continue
            assert len(rows) == 2 and all(float(r.data.params["trainer.lr"]) == values["trainer.lr"] for r in rows)

    report = (tmp_path / "reports" / parent.data.tags["sweep_id"] / "leaderboard.md").read_text()
    assert "## digits, tuned for reconstruction" in report and "## digits, tuned for features" in report
    assert "3 trials per dataset x model x regularizer" in report and "selected hyperparameters" in report
    assert "The penalty off is a candidate: 1 regularized combinations had N - 1 trials" in report
    assert "one standard error of its accuracy" in report and "by that margin" in report

    again = aebench(tmp_path, *GRID)
    assert again.returncode == 0, again.stderr
    assert "0 to train" in again.stdout and "jobs of the selected configurations, 0 to train" in again.stdout
    assert len(runs(tmp_path)) == len(children)


def test_the_report_shows_the_final_runs_of_the_latest_selection_only():
    """A trial that failed and trained again may change a choice: the earlier choice's final runs
    stay in the store but are no longer rows."""
    import pandas as pd

    from aebench.report.collect import current_selection

    runs = pd.DataFrame({"run_key": ["t1", "old", "new", "both", "pca"],
                         "stage": ["trial", "final", "final", "final", None],
                         "selected_for": [None, "reconstruction", "features", "features", None]})
    kept = current_selection(runs, {"reconstruction": ["new", "both"], "features": ["both"]})
    assert list(kept["run_key"]) == ["t1", "new", "both", "pca"]
    assert dict(zip(kept["run_key"], kept["selected_for"]))["new"] == "reconstruction"  # the latest choice
    assert dict(zip(kept["run_key"], kept["selected_for"]))["both"] == "reconstruction+features"


def test_a_penalty_chosen_off_is_named_by_the_none_row_and_gets_no_row_of_its_own():
    """A copy of the none row would tie it, count twice against the best row and stand in the ranks
    as a method: the none row of that selection names the penalties chosen off instead."""
    import pandas as pd

    from aebench.report.collect import penalty_off_rows
    from aebench.report.table import leaderboards

    def run(key, regularizer, seed, psnr, selected_for, hyperparameters):
        return {"run_id": f"id-{key}", "run_key": key, "dataset": "digits", "model": "deep", "regularizer": regularizer,
                "seed": str(seed), "task": "reconstruct", "stage": "final", "selected_for": selected_for,
                "hyperparameters": hyperparameters, "params.trainer.lr": "0.005",
                "tuned_keys": "trainer.lr" + (",regularizer.noise_prob" if regularizer != "none" else ""),
                "metrics.test/psnr": psnr, "metrics.test/mse": 10 ** (-psnr / 10)}

    runs = pd.DataFrame([run("n0", "none", 0, 22.0, "reconstruction+features", "lr=0.005"),
                         run("n1", "none", 1, 21.8, "reconstruction+features", "lr=0.005"),
                         run("d0", "sparse_kl+denoising", 0, 19.0, "features", "lr=0.005, noise_prob=0.2"),
                         run("d1", "sparse_kl+denoising", 1, 19.2, "features", "lr=0.005, noise_prob=0.2")])
    off = [{"selection": "reconstruction", "combination": "dataset=digits model=deep regularizer=sparse_kl_denoising",
            "regularizer": "sparse_kl+denoising", "values": {"trainer.lr": 0.005, "regularizer.noise_prob": 0.0},
            "run_keys": ["n0", "n1"]}]
    boards = {board.selection: board for board in leaderboards(penalty_off_rows(runs, off))}
    rows = boards["reconstruction"].rows
    assert list(rows["regularizer"]) == ["none"] and rows["vs_best"].tolist() == ["best"]
    assert rows["hyperparameters"].iloc[0] == "lr=0.005; also sparse_kl+denoising, chosen with the penalty off"
    assert rows["test/psnr"].iloc[0] == pytest.approx(21.9) and rows["n"].iloc[0] == 2
    features = boards["features"].rows.set_index("regularizer")  # chosen on: its own runs, and none says nothing more
    assert features.loc["sparse_kl+denoising", "test/psnr"] == pytest.approx(19.1)
    assert features.loc["none", "hyperparameters"] == "lr=0.005"


def test_the_eta_weighs_the_runs_left_by_what_their_kind_cost(tmp_path):
    """Two cheap runs done, three expensive ones left: the ETA counts them at their own cost."""
    import time

    from aebench.sweep.progress import Progress

    progress = Progress(tmp_path / "progress.jsonl", total=6, skipped=0, started=time.time() - 12.0, name="t")
    progress.plan({"a": "digits linear none reconstruct", "b": "digits linear none reconstruct",
                   "c": "digits conv none reconstruct", "d": "digits conv l2 reconstruct",
                   "e": "digits conv l2 reconstruct", "f": "digits conv contractive reconstruct"})
    for key, seconds in (("a", 1.0), ("b", 1.0), ("c", 10.0)):
        progress.record(key, "FINISHED", seconds)
    # left: d and e (conv l2, unseen: conv's 10 s each) and f (conv, 10 s); one run at a time (12 s of runs in 12 s)
    assert progress.eta(progress._records(), 12.0) == pytest.approx(30.0)
    assert "3/6 done" in progress.line("x") and "ETA 0:00:30" in progress.line("x")
    progress.plan({"g": "digits linear none reconstruct"}, added=True)
    assert progress.planned() == 7 and progress.eta(progress._records(), 6.0) == pytest.approx(31.0 / 2)


def test_whether_trials_train_together_is_decided_from_data_and_model_alone():
    """The launching process (under SLURM often a login node without a GPU) decides it without building a
    trainer: a GPU config is not refused there for want of a GPU; stacked pretraining and random draws are."""
    import torch

    from aebench.run.plan import members_refusal

    if not torch.cuda.is_available():
        assert members_refusal(composed("trainer.accelerator=gpu"), ["trainer.lr"]) is None
    assert members_refusal(composed("model=deep", "regularizer=l2"), ["trainer.lr", "regularizer.weight"]) is None
    assert "layer-wise stages" in members_refusal(composed("model=stacked"), ["trainer.lr"])
    assert members_refusal(composed("regularizer=denoising"), ["trainer.lr", "regularizer.noise_prob"]) is None
    assert "draw nothing at random" in members_refusal(composed("model=vae"), ["trainer.lr"])
    assert members_refusal(composed("model=deep", "regularizer=sparse_kl"), ["trainer.lr", "regularizer.target"]) is None
    assert "set its noise_prob apart" in members_refusal(composed("model=deep", "regularizer=l2"),
                                                         ["regularizer.noise_prob"])
    with pytest.raises(ConfigError, match="sparse_kl needs code activations"):  # the rules refuse the run itself
        members_refusal(composed("model=linear", "regularizer=sparse_kl"), ["trainer.lr"])


def test_a_combination_the_rules_refuse_is_not_reported_as_trained_one_a_job():
    swept = ["+sweep=quick", "sweep.tune.trials=2", "sweep.datasets=[digits]", "sweep.models=[linear,deep]",
             "sweep.regularizers=[sparse_kl]"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg, planned, spaces, _ = planned_trial_jobs(*swept)
        refusals: dict[str, str] = {}
        jobs = trial_jobs(cfg, planned, spaces, refusals)
    assert refusals == {}
    assert len(jobs) == 1 + 2  # deep's trials together; linear's (refused by the rules) one a job, skipped there
