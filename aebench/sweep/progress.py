"""The sweep's display: one line per run trained, with done / total, failures, elapsed and ETA.

Every job appends its outcome to one small file of the invocation (a single ``O_APPEND`` write
is atomic), so workers in different processes share the counts without a server. A line is
plain text: it reads the same on a terminal and in a log file.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class Progress:
    path: Path           # this invocation's outcomes, one JSON object a line
    total: int           # runs this invocation has to train
    skipped: int         # combinations the rules refused
    started: float       # time.time() when the invocation began
    name: str            # how lines start: [sweep <name>]

    def record(self, run_key: str, status: str, seconds: float) -> None:
        line = json.dumps({"run_key": run_key, "status": status, "seconds": round(seconds, 3)}) + "\n"
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line.encode())
        finally:
            os.close(descriptor)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                status = json.loads(line)["status"]
                counts[status] = counts.get(status, 0) + 1
        return counts

    def line(self, what: str) -> str:
        counts = self.counts()
        done = sum(counts.values())
        elapsed = time.time() - self.started
        eta = elapsed / done * max(self.total - done, 0) if done else 0.0
        failed = counts.get("FAILED", 0)
        return (f"[sweep {self.name}] {done}/{self.total} done, {self.skipped} skipped, {failed} failed, "
                f"{clock(elapsed)} elapsed, ETA {clock(eta)} | {what}")
