"""Write a report: leaderboard.md, .csv, .tex, .html, the figures, ranks.csv and transfer.csv (where
there is something to rank or transfer scores), into reports/<sweep_id>/,
and log them as artifacts of the sweep's parent run."""
from __future__ import annotations

from pathlib import Path

from aebench.report import formats
from aebench.report.collect import collect
from aebench.report.figures import critical_difference_diagram, figures
from aebench.report.html import page
from aebench.report.ranks import rank_summaries
from aebench.report.table import check_rank_by, leaderboards
from aebench.report.transfer import csv_matrices, transfer_matrices
from aebench.tracking import TrackingStore


def render_report(store: TrackingStore, sweep_id: str | None = None, whole_experiment: bool = False,
                  rank_by: str | None = None, output_dir: str | Path = "reports") -> Path:
    """Write the report and return its folder. ``rank_by``: the metric every table holding it is
    ranked by; None: each task's main metric."""
    check_rank_by(rank_by)
    data = collect(store, sweep_id, whole_experiment)
    boards = leaderboards(data.runs, rank_by) if not data.runs.empty else []
    drawn = {board.slug: figures(board, data.runs, store) for board in boards}
    summaries = rank_summaries(boards)
    for summary in summaries:
        diagram = critical_difference_diagram(summary)
        if diagram is not None:
            drawn.setdefault("across", {})[f"critical_difference_{summary.task}_{summary.selection or 'all'}.png"] = diagram
    transfer = transfer_matrices(data.runs)
    folder = Path(output_dir) / data.folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leaderboard.md").write_text(formats.markdown(data, boards, summaries, transfer))
    if summaries:
        (folder / "ranks.csv").write_text(formats.ranks_csv(summaries))
    if transfer:
        (folder / "transfer.csv").write_text(csv_matrices(transfer))
    (folder / "leaderboard.csv").write_text(formats.csv(boards))
    (folder / "leaderboard.tex").write_text(formats.latex(data, boards))
    (folder / "leaderboard.html").write_text(page(data, boards, drawn, summaries, transfer))
    for made in drawn.values():
        for name, drawn in made.items():
            (folder / name).write_bytes(drawn.png)
            (folder / name).with_suffix(".pdf").write_bytes(drawn.pdf)
    if data.parent_run_id is not None:
        store.client.log_artifacts(data.parent_run_id, str(folder), "report")
    return folder
