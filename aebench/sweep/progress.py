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

    def plan(self, kinds: dict[str, str], added: bool = False) -> None:
        """The runs to train (run key -> kind: ``dataset model regularizer task``), for the ETA;
        ``added``: planned after the invocation began (a tuned sweep's selected configurations)."""
        self._append({"plan": kinds, "added": added})

    def _append(self, record: dict) -> None:
        line = json.dumps(record) + "\n"
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line.encode())
        finally:
            os.close(descriptor)

    def _records(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines()] if self.path.exists() else []

    def counts(self, records: list[dict] | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self._records() if records is None else records:
            if "status" in record:
                counts[record["status"]] = counts.get(record["status"], 0) + 1
        return counts

    def planned(self, records: list[dict] | None = None) -> int:
        records = self._records() if records is None else records
        return self.total + sum(len(record["plan"]) for record in records if record.get("added"))

    def eta(self, records: list[dict], elapsed: float) -> float:
        """Seconds left: each run still to train costs what finished runs of its kind cost (else of
        its model, else any run), and the runs share the workers as the finished ones did."""
        finished = [record for record in records if "status" in record]
        if not finished or elapsed <= 0:
            return 0.0
        kinds: dict[str, str] = {}
        for record in records:
            kinds.update(record.get("plan", {}))
        by_kind: dict[str, list[float]] = {}
        by_model: dict[str, list[float]] = {}
        for record in finished:
            kind = kinds.get(record["run_key"], "")
            by_kind.setdefault(kind, []).append(record["seconds"])
            by_model.setdefault(_model(kind), []).append(record["seconds"])
        overall = sum(r["seconds"] for r in finished) / len(finished)

        def cost(kind: str) -> float:
            seen = by_kind.get(kind) or by_model.get(_model(kind))
            return sum(seen) / len(seen) if seen else overall

        done_keys = {record["run_key"] for record in finished}
        remaining = [kind for key, kind in kinds.items() if key not in done_keys]
        unplanned = max(self.planned(records) - len(finished) - len(remaining), 0)
        work = sum(cost(kind) for kind in remaining) + overall * unplanned
        workers = max(1.0, sum(r["seconds"] for r in finished) / elapsed)  # how many ran at once, on average
        return work / workers

    def line(self, what: str) -> str:
        records = self._records()
        counts = self.counts(records)
        done, total = sum(counts.values()), self.planned(records)
        elapsed = time.time() - self.started
        eta = self.eta(records, elapsed)
        failed = counts.get("FAILED", 0)
        return (f"[sweep {self.name}] {done}/{total} done, {self.skipped} skipped, {failed} failed, "
                f"{clock(elapsed)} elapsed, ETA {clock(eta)} | {what}")


def _model(kind: str) -> str:
    parts = kind.split()
    return parts[1] if len(parts) > 1 else ""
