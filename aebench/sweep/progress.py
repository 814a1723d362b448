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
        self._append({"run_key": run_key, "status": status, "seconds": round(seconds, 3)})

    def add_to_total(self, count: int) -> None:
        """Runs planned after the invocation began (a tuned sweep's selected configurations)."""
        self._append({"planned": count})

    def _append(self, record: dict) -> None:
        line = json.dumps(record) + "\n"
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line.encode())
        finally:
            os.close(descriptor)

    def _records(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines()] if self.path.exists() else []

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self._records():
            if "status" in record:
                counts[record["status"]] = counts.get(record["status"], 0) + 1
        return counts

    def planned(self) -> int:
        return self.total + sum(record.get("planned", 0) for record in self._records())

    def line(self, what: str) -> str:
        counts = self.counts()
        done, total = sum(counts.values()), self.planned()
        elapsed = time.time() - self.started
        eta = elapsed / done * max(total - done, 0) if done else 0.0
        failed = counts.get("FAILED", 0)
        return (f"[sweep {self.name}] {done}/{total} done, {self.skipped} skipped, {failed} failed, "
                f"{clock(elapsed)} elapsed, ETA {clock(eta)} | {what}")
