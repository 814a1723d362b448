"""The leaderboard report, from a real sweep's MLflow store only."""
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sweeps import aebench, needs_program, runs, store

pytestmark = pytest.mark.slow

# 32 combinations: linear x sparse_kl refused (8), lr=1e30 diverges (12 FAILED), 12 FINISHED
GRID = ["+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[linear,undercomplete]",
        "sweep.regularizers=[none,sparse_kl]", "sweep.seeds=2", "model.code_dim=4,8", "trainer.lr=0.01,1e30"]
METRICS = ["test/psnr", "test/mse", "test/ssim", "test/probe_accuracy", "test/knn_accuracy", "test/code_hoyer",
           "test/jacobian_frobenius", "test/denoise_psnr"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    done = aebench(folder, *GRID)
    assert done.returncode == 1, done.stderr  # some runs failed, by design
    (parent,) = runs(folder, "sweep")
    return folder, parent, done


def report_folder(folder, parent):
    return folder / "reports" / parent.data.tags["sweep_id"]


def test_the_sweep_writes_every_file_and_logs_it_on_its_parent_run(swept):
    folder, parent, done = swept
    written = report_folder(folder, parent)
    names = {p.name for p in written.iterdir()}
    assert {"leaderboard.md", "leaderboard.csv", "leaderboard.tex", "leaderboard.html"} <= names
    figures = {"ranking_digits", "psnr_by_code_size_digits", "reconstructions_digits", "traversals_digits",
               "interpolations_digits", "codes_digits"}
    assert {f"{name}.png" for name in figures} | {f"{name}.pdf" for name in figures} <= names  # PDF for papers
    assert all((written / f"{name}.pdf").read_bytes().startswith(b"%PDF-") for name in figures)
    logged = {a.path for a in store(folder).list_artifacts(parent.info.run_id, "report")}
    assert {f"report/{name}" for name in names} == logged
    assert f"leaderboard: reports/{parent.data.tags['sweep_id']}/leaderboard" in done.stdout


def test_table_numbers_are_mean_and_std_over_seeds_of_the_store(swept):
    folder, parent, _ = swept
    table = pd.read_csv(report_folder(folder, parent) / "leaderboard.csv")
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")
    found = mlflow.search_runs(experiment_names=["aebench"],
                               filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    finished = found[found["status"] == "FINISHED"]
    keys = ["tags.model", "tags.regularizer", "params.model.code_dim"]
    models = finished[finished["tags.model"] != "pca"]
    assert set(models["params.trainer.lr"]) == {"0.01"}  # the diverged ones are not in the table
    expected = models.groupby(keys)[[f"metrics.{m}" for m in METRICS]].agg(["mean", "std", "count"])
    autoencoders = table[table["model"] != "pca"]
    assert len(autoencoders) == len(expected) == 6  # linear/none, undercomplete/{none,sparse_kl} x code 4, 8
    for _, row in autoencoders.iterrows():
        reference = expected.loc[(row["model"], row["regularizer"], str(row["code_dim"]))]
        assert row["n"] == 2
        for metric in METRICS:
            assert row[metric] == pytest.approx(reference[(f"metrics.{metric}", "mean")], rel=1e-9)
            assert row[f"{metric}.std"] == pytest.approx(reference[(f"metrics.{metric}", "std")], rel=1e-9)
    assert list(autoencoders["test/psnr"]) == sorted(autoencoders["test/psnr"], reverse=True)


def test_pca_rows_stand_beside_the_autoencoders(swept):
    folder, parent, _ = swept
    table = pd.read_csv(report_folder(folder, parent) / "leaderboard.csv")
    pca = table[table["model"] == "pca"].set_index("code_dim")
    assert sorted(pca.index) == [4, 8] and (pca["n"] == 1).all()
    from sklearn.decomposition import PCA

    from aebench.data import AutoencoderDataModule, load_dataset

    data = AutoencoderDataModule(load_dataset("digits"))
    train_x, test_x = data.inputs("train").flatten(1).double().numpy(), data.inputs("test").flatten(1).double().numpy()
    for k in (4, 8):
        fitted = PCA(k).fit(train_x)
        mse = ((fitted.inverse_transform(fitted.transform(test_x)) - test_x) ** 2).mean()
        assert pca.loc[k, "test/mse"] == pytest.approx(mse, rel=1e-5)
    linear = table[(table["model"] == "linear")].set_index("code_dim")
    assert (pca["test/mse"] <= linear["test/mse"]).all()  # the linear optimum bounds the linear autoencoder


def test_failed_and_skipped_combinations_are_listed(swept):
    folder, parent, _ = swept
    written = report_folder(folder, parent)
    markdown, page = (written / "leaderboard.md").read_text(), (written / "leaderboard.html").read_text()
    assert "## Failed (12)" in markdown and "## Skipped (8)" in markdown
    assert markdown.count("TrainingDiverged") == 12
    assert "<h2>Skipped (8)</h2>" in page and "<h2>Failed (12)</h2>" in page
    skipped = json.loads(open(store(folder).download_artifacts(parent.info.run_id, "skipped.json")).read())
    assert len(skipped) == 8 and all("sparse_kl" in item["reason"] for item in skipped)
    assert "| pca | none | 4 | 1 |" in markdown and re.search(r"\| pca \| none \| 4 \| 1 \|.*\| - \|", markdown)


def test_latex_is_a_booktabs_table_ready_to_input(swept):
    folder, parent, _ = swept
    tex = (report_folder(folder, parent) / "leaderboard.tex").read_text()
    for command in (r"\begin{tabular}", r"\toprule", r"\midrule", r"\bottomrule", r"\end{table}"):
        assert tex.count(command) == 1, command
    assert r"sparse\_kl" in tex and "sparse_kl" not in tex.replace(r"sparse\_kl", "")
    assert r"\pm" in tex and r"\mathbf{" in tex
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    header = tex.split(r"\toprule")[1].split(r"\midrule")[0]
    assert all(line.count("&") == header.count("&") for line in body) and len(body) == 8  # 6 + 2 PCA rows
    assert tex.count("{") == tex.count("}")


def chromium_render(html, folder):
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        needs_program("chromium", "sudo apt-get install chromium")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={folder / 'profile'}", "--enable-logging=stderr", "--v=0"]
    shot = folder / "shot.png"
    rendered = subprocess.run([executable, *flags, "--window-size=1300,2400", f"--screenshot={shot}", html.as_uri()],
                              capture_output=True, text=True, timeout=120)
    dom = subprocess.run([executable, *flags, "--dump-dom", html.as_uri()], capture_output=True, text=True,
                         timeout=120)
    return rendered, dom, shot


def test_the_html_page_renders_in_headless_chromium(swept, tmp_path):
    folder, parent, _ = swept
    rendered, dom, shot = chromium_render(report_folder(folder, parent) / "leaderboard.html", tmp_path)
    assert rendered.returncode == 0 and dom.returncode == 0, rendered.stderr[-2000:]
    console = [line for line in rendered.stderr.splitlines() + dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    assert dom.stdout.count('<table class="board"') == 1 and dom.stdout.count('<img src="data:image/png;base64,') == 6
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2400, 1300)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.02  # text, tables and figures, not a blank page


def test_the_html_tables_sort_and_filter_in_a_real_browser(swept):
    """Drive Debian's chromium with Playwright: a click on a header sorts, typing filters."""
    folder, parent, _ = swept
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        needs_program("chromium", "sudo apt-get install chromium")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    page_path = report_folder(folder, parent) / "leaderboard.html"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(page_path.as_uri())
        headers = page.locator("table.board thead th").all_inner_texts()
        column = next(i for i, text in enumerate(headers) if text.startswith("MSE"))

        def values():
            cells = page.locator(f"table.board tbody tr:not([hidden]) td:nth-child({column + 1})").all_inner_texts()
            return [float(text.split(" ± ")[0]) for text in cells if text != "-"]

        before = values()
        page.locator("table.board thead th").nth(column).click()
        assert values() == sorted(before)
        page.locator("table.board thead th").nth(column).click()
        assert values() == sorted(before, reverse=True) != before
        models = page.locator("table.board tbody td:nth-child(1)")
        assert models.all_inner_texts() != sorted(models.all_inner_texts())  # ranked by PSNR, not by name
        page.locator("table.board thead th").nth(0).click()
        assert models.all_inner_texts() == sorted(models.all_inner_texts())
        rows = page.locator("table.board tbody tr")
        total = rows.count()
        page.fill("#filter", "undercomplete sparse_kl")
        shown = page.locator("table.board tbody tr:not([hidden])").all_inner_texts()
        assert 0 < len(shown) < total and all("undercomplete" in row and "sparse_kl" in row for row in shown)
        page.fill("#filter", "")
        assert page.locator("table.board tbody tr:not([hidden])").count() == total
        browser.close()
    assert errors == []


def test_report_on_demand_ranks_and_refuses_bad_input(swept, tmp_path):
    folder, parent, _ = swept
    sweep_id = parent.data.tags["sweep_id"]
    done = aebench_report(folder, f"report.sweep_id={sweep_id}", "report.rank_by=test/mse",
                          f"report.output_dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / sweep_id / "leaderboard.csv")
    assert list(table["test/mse"]) == sorted(table["test/mse"])
    whole = aebench_report(folder, "report.whole_experiment=true", f"report.output_dir={tmp_path}")
    assert whole.returncode == 0 and (tmp_path / "experiment-aebench" / "leaderboard.html").exists()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    for arguments, message in [(["report.sweep_id=0123"], "report.sweep_id='0123' is not allowed: one of the sweeps"),
                               (["report.rank_by=accuracy"],
                                "report.rank_by='accuracy' is not allowed: null (each task's main metric) or one of"),
                               ([f"tracking.uri=http://127.0.0.1:{closed}"], "a reachable MLflow server"),
                               (["tracking.experiment=empty"], "tracking.experiment='empty' is not allowed")]:
        bad = aebench_report(folder, *arguments)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert message in bad.stderr
    empty = aebench_report(tmp_path)
    assert empty.returncode == 2 and "there is no mlruns/mlflow.db here" in empty.stderr
    assert not (tmp_path / "mlruns").exists()


def aebench_report(folder, *arguments):
    return subprocess.run([sys.executable, "-m", "aebench.report", *arguments], cwd=folder, capture_output=True,
                          text=True, timeout=300)


def test_a_rows_command_reproduces_its_numbers_to_the_printed_precision(swept, tmp_path):
    """The reproduce column: run in a new folder, a row's command trains the row's seeds again and the new
    report prints the same numbers (PSNR to 0.01 dB, MSE to 3 significant digits, as the tables print them)."""
    folder, parent, _ = swept
    table = pd.read_csv(report_folder(folder, parent) / "leaderboard.csv")
    row = table[(table["model"] == "undercomplete") & (table["n"] == 2)].iloc[0]
    command = shlex.split(row["command"])
    assert command[:3] == ["python", "-m", "aebench"]
    again = aebench(tmp_path, *command[3:])
    assert again.returncode == 0, again.stderr[-3000:]
    (new_parent,) = runs(tmp_path, "sweep")
    redone = pd.read_csv(report_folder(tmp_path, new_parent) / "leaderboard.csv")
    redone_row = redone[redone["model"] == "undercomplete"].iloc[0]
    assert len(redone[redone["model"] != "pca"]) == 1 and redone_row["n"] == 2
    assert f"{redone_row['test/psnr']:.2f}" == f"{row['test/psnr']:.2f}"
    assert f"{redone_row['test/mse']:.3g}" == f"{row['test/mse']:.3g}"


def test_rows_are_never_merged_over_a_regularizer_setting_and_show_code_size_and_epochs(tmp_path):
    done = aebench(tmp_path, "+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[undercomplete,stacked]",
                   "regularizer=l2", "sweep.seeds=2", "regularizer.weight=1e-4,1e-1", "trainer.max_epochs=2")
    assert done.returncode == 0, done.stderr
    (parent,) = runs(tmp_path, "sweep")
    table = pd.read_csv(report_folder(tmp_path, parent) / "leaderboard.csv")
    autoencoders = table[table["model"] != "pca"]
    assert sorted(zip(autoencoders["model"], autoencoders["regularizer.weight"].astype(float))) == [
        ("stacked", 0.0001), ("stacked", 0.1), ("undercomplete", 0.0001), ("undercomplete", 0.1)]
    assert list(autoencoders["n"]) == [2, 2, 2, 2]
    assert set(table["model/code_dim"]) == {16}
    epochs = dict(zip(autoencoders["model"], autoencoders["train/total_epochs"]))
    assert epochs["undercomplete"] == 2 and epochs["stacked"] == 2 + 3 * 10  # three layers pretrained 10 epochs each
    report = (report_folder(tmp_path, parent) / "leaderboard.md").read_text()
    assert "| code size ↓ |" not in report and "code size" in report
    provenance = report[report.index("## Provenance and citing"):]
    for line in ("sweep_id: " + parent.data.tags["sweep_id"], "hardware: ", " cores; GPUs: ", "libraries: torch ",
                 "data digits: training ", "(aebench:digits)",
                 f"parent run {parent.info.run_id}", "@software{aebench,"):
        assert line in provenance, line
    row = autoencoders[(autoencoders["model"] == "undercomplete")
                       & (autoencoders["regularizer.weight"].astype(float) == 0.1)].iloc[0]
    assert " seed=0,1 " in row["command"] and "regularizer.weight=0.1" in row["command"]
    again = tmp_path / "again"
    again.mkdir()
    rerun = aebench(again, *shlex.split(row["command"])[3:])  # the row's command, in a new folder
    assert rerun.returncode == 0, rerun.stderr
    (rerun_parent,) = runs(again, "sweep")
    rerun_table = pd.read_csv(report_folder(again, rerun_parent) / "leaderboard.csv")
    (same,) = [r for _, r in rerun_table.iterrows() if r["model"] == "undercomplete"]
    assert same["n"] == 2 and same["test/psnr"] == row["test/psnr"]  # the same numbers, bit for bit on the CPU
    html = (report_folder(tmp_path, parent) / "leaderboard.html").read_text()
    assert "#/experiments/" in html and "/runs/" in html and "<code>python -m aebench +sweep=quick" in html
    latex = (report_folder(tmp_path, parent) / "leaderboard.tex").read_text()
    assert "% libraries: torch " in latex and r"\underline{" not in latex.split("% libraries")[0]
