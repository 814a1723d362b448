"""The console keeps library chatter off the screen, whichever Lightning package name logs it."""
import subprocess
import sys

PROGRAM = """
import logging
import lightning.pytorch as L
import mlflow.pytorch  # as a run that logs its model does: it imports pytorch_lightning
from aebench.console import quiet_libraries
logging.basicConfig(level=logging.INFO)  # a worker whose root logger shows INFO (as the sweep's did)
quiet_libraries()
L.Trainer(logger=False, enable_progress_bar=False, accelerator="cpu")
print("trainer built")
"""


def test_trainer_info_stays_off_the_console_after_mlflow_pytorch():
    """mlflow.pytorch imports pytorch_lightning, whose import points Lightning's shared rank-zero logger at
    ``pytorch_lightning.utilities.rank_zero``: a sweep's log filled with "GPU available" lines until that
    name was quieted too."""
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "trainer built" in done.stdout
    assert "available" not in done.stderr, done.stderr
