"""Sweeps: every dataset x model x regularizer x seed as Hydra multirun jobs, one MLflow parent
run per sweep, resumable, fault-isolated, parallel through Hydra's launchers.

- ``keys``: the stable identities of a run (``run_key``) and of a sweep (``sweep_id``);
- ``plan``: the jobs of a sweep, which rules skip and which are already done;
- ``state``: the sweep's parent run and its children in the MLflow store;
- ``callback``: the Hydra callback that opens and closes a sweep in the launching process;
- ``job``: one job in whatever process the launcher gives it;
- ``progress``: the one-line-per-run display, readable in a log file;
- ``devices``: one device per worker process when there are several GPUs;
- ``summary``: the table printed when a sweep ends.
"""
