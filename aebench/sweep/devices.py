"""One GPU per worker process: each process claims a free slot with an exclusive file lock,
held for its lifetime, so concurrent jobs never share a device while one is idle."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

_claimed: dict[str, int] = {}
_lock_files: list = []


def claim_slot(lock_dir: str | Path, slots: int) -> int:
    """This process's slot in ``range(slots)``: the same on every call; a free one if any is,
    else one shared by process id."""
    key = str(lock_dir)
    if key in _claimed:
        return _claimed[key]
    folder = Path(lock_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(slots):
        handle = open(folder / f"slot-{slot}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _lock_files.append(handle)  # kept open: the lock lives as long as the process
        _claimed[key] = slot
        return slot
    _claimed[key] = os.getpid() % slots
    return _claimed[key]
