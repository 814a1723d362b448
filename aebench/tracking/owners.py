"""Who is running a run: the host, process and SLURM job tagged on it, and whether that owner is
still alive, so that a resumed sweep marks only the runs of dead processes KILLED and leaves a
run that is still training (a SLURM job that outlived its launching process) to finish."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Mapping

HOST, PID, STARTED, SLURM_JOB = "aebench.host", "aebench.pid", "aebench.process_started", "slurm.job_id"


def process_started(pid: int) -> str | None:
    """When the process started (clock ticks since boot, /proc/<pid>/stat): with its pid, it names
    one process, where a pid alone may be reused by another."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_tags() -> dict[str, str]:
    """This process as a run's owner; under SLURM its job too, as ``scancel`` and ``squeue`` take
    it: ``<array job>_<task>`` for a task of a job array (SLURM 22.05 refuses a task's own job id)."""
    tags = {HOST: socket.gethostname(), PID: str(os.getpid()), STARTED: process_started(os.getpid()) or ""}
    environment = os.environ
    if environment.get("SLURM_ARRAY_JOB_ID") and environment.get("SLURM_ARRAY_TASK_ID"):
        tags[SLURM_JOB] = f"{environment['SLURM_ARRAY_JOB_ID']}_{environment['SLURM_ARRAY_TASK_ID']}"
    elif environment.get("SLURM_JOB_ID"):
        tags[SLURM_JOB] = environment["SLURM_JOB_ID"]
    return tags


def process_alive(host: str | None, pid: str | None, started: str | None = None) -> bool:
    """Whether process ``pid`` (started at ``started``) on this host is alive and not this one;
    other hosts cannot be checked. Without a start time, an aebench process of that pid counts."""
    if host != socket.gethostname() or not pid or int(pid) == os.getpid():
        return False
    if started:
        return process_started(int(pid)) == started
    try:
        return b"aebench" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def slurm_job_alive(job_id: str) -> bool | None:
    """Whether SLURM still has the job pending or running; None where SLURM cannot be asked. Only
    SLURM's "Invalid job id" means gone: any other failure (a busy controller) counts as alive."""
    if shutil.which("squeue") is None:
        return None
    try:
        listed = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True,
                                timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return True
    if listed.returncode != 0:
        return "invalid job id" not in listed.stderr.lower()  # gone from the queue long ago, or not known
    return listed.stdout.strip() not in ("", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL",
                                         "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE")


def owner_alive(tags: Mapping[str, str]) -> bool:
    """Whether the run's owner may still write to it. On this host its process decides (pid and
    start time); on another, its SLURM job in the queue. An owner on another host without SLURM
    cannot be checked and counts as gone: two invocations of one sweep from two machines that are
    not SLURM jobs are not kept apart."""
    if tags.get(HOST) == socket.gethostname():
        return process_alive(tags.get(HOST), tags.get(PID), tags.get(STARTED))
    job = tags.get(SLURM_JOB)
    alive = slurm_job_alive(job) if job else None
    return bool(alive)
