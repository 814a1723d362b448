"""The leaderboard as one self-contained HTML page: tables that sort on a click of a header and a box
that filters their rows, figures embedded as PNG data; nothing is fetched when it is viewed."""
from __future__ import annotations

import base64
import math
from html import escape

from aebench.report.collect import ReportData
from aebench.report.figures import Drawn
from aebench.report.formats import HOW_TO_CITE, METHOD, bibtex, cite_lines, tuning_text
from aebench.report.ranks import RankSummary
from aebench.report.table import MISSING, Leaderboard
from aebench.report.transfer import INTRO as TRANSFER_INTRO
from aebench.report.transfer import TransferMatrix
from aebench.report.transfer import cell as _transfer_cell

# click a header: rows sorted by that column (numbers as numbers, missing values last), again: reversed;
# type in the box: only rows whose table title and key cells hold every word typed stay shown
SCRIPT = """
function cellValue(row, column) {
  const text = row.cells[column].textContent.trim();
  if (text === "-" || text === "") return null;
  const number = parseFloat(text.replace(/,/g, ""));
  return isNaN(number) ? text.toLowerCase() : number;
}
document.querySelectorAll("table.board").forEach(table => {
  table.querySelectorAll("thead th").forEach((header, column) => {
    header.addEventListener("click", () => {
      const ascending = header.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("thead th").forEach(other => other.removeAttribute("aria-sort"));
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = cellValue(a, column), y = cellValue(b, column);
        if (x === null || y === null) return (x === null) - (y === null);
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      rows.forEach(row => body.appendChild(row));
    });
  });
});
const filterBox = document.getElementById("filter");
filterBox.addEventListener("input", () => {
  const words = filterBox.value.toLowerCase().split(/\\s+/).filter(Boolean);
  document.querySelectorAll("table.board").forEach(table => {
    Array.from(table.tBodies[0].rows).forEach(row => {
      const keys = Array.from(row.querySelectorAll("td.key")).map(cell => cell.textContent).join(" ");
      const text = (table.dataset.dataset + " " + keys).toLowerCase();
      row.hidden = !words.every(word => text.includes(word));
    });
  });
});
"""

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 78rem;
       color: #1d1d1f; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
div.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.82rem; margin: 1rem 0; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e5e5e5; text-align: right; white-space: nowrap; }
th { border-bottom: 2px solid #999; background: #f6f6f6; }
td.key, th.key { text-align: left; }
tr.baseline td { color: #555; font-style: italic; }
td.best { font-weight: 700; background: #eaf3ea; }
td.tied { text-decoration: underline; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #555; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; }
table.board th { cursor: pointer; } th[aria-sort="ascending"]::after { content: " ▲"; }
th[aria-sort="descending"]::after { content: " ▼"; }
input#filter { font-size: 0.95rem; padding: 0.3rem 0.5rem; width: 24rem; }
"""


def _provenance_cells(data: ReportData, row) -> str:
    """Links to the row's runs in the MLflow UI and the command that re-runs it."""
    links = " ".join(f'<a href="{escape(data.run_link.format(run_id=run_id))}">{number}</a>'
                     for number, run_id in enumerate(row["run_ids"], 1))
    command = row.get("command", MISSING) or MISSING
    return f'<td class="key">{links}</td><td class="key"><code>{escape(str(command))}</code></td>'


def _table(board: Leaderboard, data: ReportData) -> str:
    head = "".join(f'<th class="key">{escape(board.key_label(k))}</th>' for k in board.keys) + "<th>n</th>"
    head += '<th class="key">vs best</th>'
    head += "".join(f"<th>{escape(c.heading)}</th>" for c in board.columns)
    head += '<th class="key">MLflow runs</th><th class="key">reproduce</th>'
    body = []
    for position in range(len(board.rows)):
        row = board.rows.iloc[position]
        cells = "".join(f'<td class="key">{escape(str(row[k]))}</td>' for k in board.keys) + f"<td>{row['n']}</td>"
        cells += f'<td class="key">{escape(str(row["vs_best"]))}</td>'
        for column in board.columns:
            kind = "best" if board.best.get(column.metric) == position else \
                "tied" if column.metric == board.rank_by.metric and row["vs_best"] == "tied" else ""
            marked = f' class="{kind}"' if kind else ""
            ci = row.get(f"{column.metric}.ci95")
            hover = f' title="95 % CI: ± {escape(column.text(ci))}"' if ci is not None and not math.isnan(ci) else ""
            cells += f"<td{marked}{hover}>{escape(board.cell(position, column))}</td>"
        cells += _provenance_cells(data, row)
        kind = ' class="baseline"' if row["model"] == "pca" else ""
        body.append(f"<tr{kind}>{cells}</tr>")
    return (f'<div class="scroll"><table class="board" data-dataset="{escape(board.title)}"><thead><tr>{head}</tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table></div>')


CAPTIONS = {"ranking": "Rank metric per row, mean ± standard deviation over seeds; PCA in grey.",
            "psnr_by_code_size": "Test PSNR against code size; PCA's curve dashed.",
            "reconstructions": "Test images (top) and their reconstructions (bottom) by the best run of the top rows; "
                               "for a task, the model's input (top), its output, and the clean image (bottom).",
            "traversals": "Latent traversals by the best run of the top rows: each row moves one code unit (the "
                          "most varying first) from its 5th to its 95th percentile over the test codes, the others "
                          "at their mean, decoded.",
            "interpolations": "Interpolations between pairs of test images by the best run of the top rows: the "
                              "decoded straight line between their codes, above the pixel blend of the two images.",
            "rate_distortion": "PSNR against bits per pixel: the autoencoders over code sizes (quantised codes), "
                               "PCA with the same quantisation (dashed), and JPEG (dotted).",
            "critical_difference": "Average ranks over the datasets, best on the left; methods closer than the "
                                   "critical difference (bar) are not shown to differ (Nemenyi).",
            "codes": "Test codes of the best autoencoder run (and of PCA) on their first two principal components."}


def _figure(name: str, png: bytes) -> str:
    kind = next((k for k in CAPTIONS if name.startswith(k)), "")
    data = base64.b64encode(png).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(name)}">'
            f"<figcaption>{escape(CAPTIONS.get(kind, name))}</figcaption></figure>")


def _items(pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return "<p>None.</p>"
    return "<ul>" + "".join(f"<li>{escape(label)}: {escape(reason)}</li>" for label, reason in pairs) + "</ul>"


def _transfer(matrices: list[TransferMatrix]) -> list[str]:
    parts = ["<h2>Data-specific: trained on (rows) x tested on (columns)</h2>", f"<p>{escape(TRANSFER_INTRO)}</p>"]
    for matrix in matrices:
        head = "".join(f"<th>{escape(str(c))}</th>" for c in ["trained on", *matrix.means.columns])
        body = "".join("<tr>" + f'<td class="key">{escape(str(trained))}</td>'
                       + "".join(f'<td title="n = {matrix.counts.loc[trained, tested]:.0f}">'
                                 f"{escape(_transfer_cell(matrix, trained, tested))}</td>"
                                 for tested in matrix.means.columns) + "</tr>"
                       for trained in matrix.means.index)
        parts += [f"<h3>{escape(matrix.method)} (own-data advantage {matrix.own_data_advantage():.2f} dB)</h3>",
                  f'<div class="scroll"><table class="transfer"><thead><tr>{head}</tr></thead>'
                  f"<tbody>{body}</tbody></table></div>"]
    return parts


def _ranks(summary: RankSummary, figures: dict[str, dict[str, Drawn]]) -> list[str]:
    head = "".join(f"<th>{escape(c)}</th>" for c in ["method", *summary.datasets, "average rank"])
    body = "".join("<tr>" + f'<td class="key">{escape(str(method))}</td>'
                   + "".join(f"<td>{row[c]:g}</td>" for c in summary.datasets)
                   + f"<td>{row['average rank']:.2f}</td></tr>" for method, row in summary.ranks.iterrows())
    diagram = f"critical_difference_{summary.task}_{summary.selection or 'all'}.png"
    drawn = figures.get("across", {}).get(diagram)
    return [f"<h2>{escape(summary.title)}</h2>", f"<p>Rank by {escape(summary.metric.label)} (1 = best). "
            f"{escape(summary.note)}</p>", f'<div class="scroll"><table class="ranks"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"] + ([_figure(diagram, drawn.png)] if drawn else [])


def page(data: ReportData, boards: list[Leaderboard], figures: dict[str, dict[str, Drawn]],
         summaries: list[RankSummary] = (), transfer: list[TransferMatrix] = ()) -> str:
    parts = [f"<h1>aebench leaderboard: {escape(data.name)}</h1>",
             "<p>Mean ± sample standard deviation over seeds (n runs); the best value of each column highlighted "
             "(baselines' columns unmarked); - where a run has no such metric. Click a column's header to sort "
             "by it; type in the box to show only the rows that name every word (model, regularizer, dataset).</p>",
             f"<p>{escape(METHOD)}</p>",
             '<p><input id="filter" type="search" placeholder="filter rows: e.g. conv sparse_kl" '
             'aria-label="filter rows"></p>']
    for board in boards:
        parts += [f"<h2>{escape(board.title)}</h2>",
                  f"<p>Ranked by {escape(board.rank_by.label)}. {escape(tuning_text(data, board))}</p>", _table(board, data)]
        parts += [_figure(name, drawn.png) for name, drawn in figures.get(board.slug, {}).items()]
    for summary in summaries:
        parts += _ranks(summary, figures)
    if transfer:
        parts += _transfer(transfer)
    parts += [f"<h2>Skipped ({len(data.skipped)})</h2>", _items(data.skipped),
              f"<h2>Failed ({len(data.failed)})</h2>", _items(data.failed),
              "<h2>Provenance and citing</h2>", f"<p>{escape(HOW_TO_CITE)}</p>",
              f"<pre>{escape(chr(10).join(cite_lines(data)))}</pre>", f"<pre>{escape(bibtex(data))}</pre>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>aebench leaderboard: {escape(data.name)}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(parts)}<script>{SCRIPT}</script></body></html>\n")
