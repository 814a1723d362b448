"""The leaderboard written as Markdown, LaTeX (booktabs) and CSV."""
from __future__ import annotations

import pandas as pd

from aebench.report.collect import ReportData
from aebench.report.ranks import RankSummary
from aebench.report.stats import TEST
from aebench.report.table import Leaderboard
from aebench.report.transfer import TransferMatrix, markdown_matrices


def markdown_table(board: Leaderboard) -> str:
    header = [board.key_label(k) for k in board.keys] + ["n", "vs best"] + [c.heading for c in board.columns]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "---|" * len(board.keys) + "---:|---|" + "---:|" * len(board.columns)]
    for position in range(len(board.rows)):
        row = board.rows.iloc[position]
        cells = [str(row[key]) for key in board.keys] + [str(row["n"]), str(row["vs_best"])]
        for column in board.columns:
            text = board.cell(position, column)
            cells.append(f"**{text}**" if board.best.get(column.metric) == position else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cite_lines(data: ReportData) -> list[str]:
    return [f"{key}: {value}" for key, value in data.cite.items()]


HOW_TO_CITE = ("Quote a number with its n and its table's protocol (the paragraphs above and the table's "
               "caption), and name the sweep by its sweep_id and aebench version and commit: the command below "
               "re-runs it (a finished run is never trained again), and the MLflow parent run holds every run "
               "behind every cell.")


def bibtex(data: ReportData) -> str:
    version, commit = data.cite.get("aebench version", "-"), data.cite.get("git commit", "-")
    year = data.cite.get("date", "-")[:4]
    return "\n".join(["@software{aebench,", "  title = {aebench: a benchmarking suite for autoencoders},",
                      f"  version = {{{version}}},", f"  note = {{commit {commit}; sweep {data.cite.get('sweep_id', '-')}}},",
                      f"  year = {{{year}}},", "}"])


# how every number of a report was obtained, beside the tables
METHOD = ("Each run is tested with the weights of its epoch of lowest validation loss (the clean reconstruction "
          "objective, without penalties; the test split is never used to choose). SSIM averages a Gaussian "
          "window of 11 x 11 pixels (sigma 1.5), or the largest odd window that fits a smaller image (7 x 7 and "
          "sigma 0.95 on 8 x 8 digits), over the positions where it lies inside the image. The contractive "
          "penalty is exact for fully connected encoders and, unless a run sets regularizer.projections, "
          "estimated from one random projection a step for convolutional ones. The hidden widths of deep and "
          "stacked follow the input (model.hidden_dims=auto: twice the input size, then the input size, at most "
          "1000 and 500 as in Hinton and Salakhutdinov 2006: 128 and 64 for 64 inputs, 1000 and 500 for 784); a row's code size is in its own column. "
          "The linear autoencoder's decoder is its encoder transposed (model.tied_weights=true), started with "
          "orthonormal rows (Saxe et al. 2014), so that it reaches PCA's error.")


def tuning_text(data: ReportData, board: Leaderboard) -> str:
    """How a tuned table's rows were chosen (``aebench.sweep.tuning``); empty for other tables."""
    about = data.tuning
    if about is None or board.selection is None:
        return ""
    margin = board.selection in about.get("one_standard_error", [])  # the one-standard-error rule applied
    return (f"Tuned for {board.selection}: {about['trials']} trials per dataset x model x regularizer, the same "
            f"budget for each, drawn by a {about['sampler']} (trial seed {about['trial_seed']}) from: "
            f"{'; '.join(about['search_spaces'])}. Selected by the "
            f"{about['selections'].get(board.selection, board.selection)}, never the test split; the selected "
            f"configuration is trained with {about['seeds']} seeds (n), which give the numbers shown."
            + (f" The penalty off is a candidate: {about['penalty_off']}. A regularizer named in a none row "
               "(\"chosen with the penalty off\") is one where no trial of the penalty validated better than the "
               f"penalty off{' by that margin' if margin else ''}; "
               "that row stands for it (with a weight of 0 a run has the losses of the none run)."
               + (f" The margin was not applied to {len(about['one_standard_error_not_applied'])} combinations, whose "
                  "trials predate val/probe_samples (sweep.rerun=true trains them again)."
                  if margin and about.get("one_standard_error_not_applied") else "")
               if about.get("penalty_off") else ""))


def ranks_table(summary: RankSummary) -> str:
    header = ["method", *summary.datasets, "average rank"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for method, row in summary.ranks.iterrows():
        lines.append(f"| {method} | " + " | ".join(f"{row[c]:g}" for c in summary.datasets)
                     + f" | {row['average rank']:.2f} |")
    return "\n".join(lines)


def ranks_csv(summaries: list[RankSummary]) -> str:
    frames = [s.ranks.reset_index(names="method").assign(task=s.task, tuned_for=s.selection,
                                                          metric=s.metric.metric, friedman_p=s.friedman_p,
                                                          critical_difference=s.critical_difference)
              for s in summaries]
    return pd.concat(frames, ignore_index=True).to_csv(index=False)


def markdown(data: ReportData, boards: list[Leaderboard], summaries: list[RankSummary] = (),
             transfer: list[TransferMatrix] = ()) -> str:
    parts = [f"# aebench leaderboard: {data.name}", "",
             "Mean ± sample standard deviation over seeds (n runs; the CSV adds each mean's 95 % Student-t "
             "interval); the best value of each column in bold (baselines' columns unmarked); - where a run has "
             f"no such metric. vs best: each row against the best autoencoder row of its code size on the ranking metric ({TEST}; "
             "- where a row has one run).", "", METHOD]
    for board in boards:
        parts += ["", f"## {board.title}", "", f"Ranked by {board.rank_by.label}. {tuning_text(data, board)}".strip(),
                  "", markdown_table(board)]
    for summary in summaries:
        parts += ["", f"## {summary.title}", "", f"Rank of each method by {summary.metric.label} on each dataset "
                  "(1 = best; methods present on every dataset). " + summary.note, "", ranks_table(summary)]
    if transfer:
        parts += markdown_matrices(transfer)
    parts += ["", f"## Skipped ({len(data.skipped)})", ""] + [f"- {label}: {reason}" for label, reason in data.skipped]
    parts += ["", f"## Failed ({len(data.failed)})", ""] + [f"- {label}: {reason}" for label, reason in data.failed]
    parts += ["", "## Provenance and citing", "", HOW_TO_CITE, "", "```"] + cite_lines(data) + ["```", "",
              "```bibtex", bibtex(data), "```", ""]
    return "\n".join(parts)


def csv(boards: list[Leaderboard]) -> str:
    frames = []
    for board in boards:
        frame = board.rows.copy()
        frame.insert(0, "dataset", board.dataset)
        frame.insert(1, "task", board.task)
        if board.selection is not None:
            frame.insert(2, "tuned_for", board.selection)
        frames.append(frame.rename(columns={k: board.key_label(k) for k in board.keys}))
    return pd.concat(frames, ignore_index=True).to_csv(index=False) if frames else ""


LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


UP, DOWN = r"\uparrow", r"\downarrow"


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(character, character) for character in str(text))


def _latex_cell(board: Leaderboard, position: int, column) -> str:
    text = board.cell(position, column)
    if text == "-":
        return "--"
    math_text = latex_escape(text).replace(",", "{,}").replace(" ± ", r" \pm ")
    if board.best.get(column.metric) == position:
        return rf"$\mathbf{{{math_text}}}$"
    if column.metric == board.rank_by.metric and board.rows.iloc[position]["vs_best"] == "tied":
        return rf"\underline{{${math_text}$}}"
    return f"${math_text}$"


def latex(data: ReportData, boards: list[Leaderboard]) -> str:
    lines = [f"% aebench leaderboard: {latex_escape(data.name)}",
             r"% needs \usepackage{booktabs} and \usepackage{graphicx}; \input{leaderboard.tex}"]
    lines += [f"% {latex_escape(line)}" for line in cite_lines(data)] + [""]
    for board in boards:
        arrows = [latex_escape(c.label) + ("" if c.describes_row else f" ${UP if c.higher_is_better else DOWN}$")
                  for c in board.columns]
        header = [latex_escape(board.key_label(k)) for k in board.keys] + ["$n$"] + arrows
        lines += [r"\begin{table}[t]", r"\centering",
                  rf"\caption{{aebench on {latex_escape(board.title)}: mean $\pm$ standard deviation over seeds "
                  rf"({latex_escape(data.name)}), ranked by {latex_escape(board.rank_by.label)}; "
                  r"best of each column in bold; underlined: tied with the best autoencoder row ("
                  + latex_escape(TEST) + "). " + latex_escape(tuning_text(data, board)) + "}",
                  rf"\label{{tab:aebench-{latex_escape(board.slug)}}}",
                  r"\resizebox{\linewidth}{!}{%",
                  r"\begin{tabular}{" + "l" * len(board.keys) + "r" * (1 + len(board.columns)) + "}",
                  r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
        for position in range(len(board.rows)):
            row = board.rows.iloc[position]
            cells = [latex_escape(row[key]) for key in board.keys] + [str(row["n"])]
            cells += [_latex_cell(board, position, column) for column in board.columns]
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}}", r"\end{table}", ""]
    return "\n".join(lines)
