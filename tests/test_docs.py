"""The README and CONTRIBUTING.md say what the code does: their examples run and their maps match."""
import re
from pathlib import Path

import aebench

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(aebench.__file__).parent


def code_blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


def test_the_readme_example_without_hydra_trains_with_early_stopping(tmp_path, monkeypatch):
    (block,) = [b for b in code_blocks(ROOT / "README.md", "python") if "EarlyStopping" in b]
    monkeypatch.chdir(tmp_path)  # Lightning writes its logs beside the script
    namespace = {}
    exec(block.replace("max_epochs=50", "max_epochs=3, enable_progress_bar=False"), namespace)
    model = namespace["model"]
    assert model.trainer.current_epoch == 3 and "val/loss" in model.trainer.callback_metrics


def test_contributing_shows_the_orthogonal_regularizer_as_it_is():
    python, yaml = code_blocks(ROOT / "CONTRIBUTING.md", "python"), code_blocks(ROOT / "CONTRIBUTING.md", "yaml")
    assert python[0].strip() in (PACKAGE / "regularizers" / "orthogonal.py").read_text()
    assert yaml[0] == (ROOT / "conf" / "regularizer" / "orthogonal.yaml").read_text()


def test_the_layout_map_names_every_part_of_the_package():
    (layout,) = re.findall(r"\n```\n(aebench/\n.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    first_column = re.findall(r"(?m)^  (\S.*?)(?:\s{2,}|$)", layout)
    named = {name for entry in first_column for name in entry.split(", ")}
    parts = {f"{p.name}/" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    parts |= {p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    assert parts == named, "the README's map and the package differ"
