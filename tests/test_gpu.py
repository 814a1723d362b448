"""GPU behaviour (skipped without CUDA; scripts/gpu_check.sh runs these on the GPU machine)."""
import pytest
import torch

from aebench.run.plan import plan_run
from aebench.run.train import train, train_seeds

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed", "16-mixed"])
@pytest.mark.parametrize("model,regularizer", [("deep", "contractive"), ("conv", "denoising"), ("conv", "contractive")])
def test_training_on_the_gpu(make_config, precision, model, regularizer):
    result = train(make_config(f"model={model}", f"regularizer={regularizer}", "trainer.accelerator=gpu",
                               f"trainer.precision={precision}"))
    assert result.status == "FINISHED" and result.metrics["test/psnr"] > 5


def test_batches_live_on_the_gpu_as_uint8(make_config, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from datafiles import write_mnist

    write_mnist(tmp_path / "mnist", n_train=2000, n_test=500)
    plan = plan_run(make_config("dataset=mnist", f"dataset.root={tmp_path}", "trainer.accelerator=gpu"))
    plan.fit()
    resident = plan.datamodule.resident("train")
    assert resident.is_cuda and resident.dtype == torch.uint8


def test_seed_lists_on_the_gpu(make_config):
    results = train_seeds(make_config("seed=[0,1,2,3]", "trainer.accelerator=gpu", "trainer.precision=bf16-mixed"))
    assert [r.status for r in results] == ["FINISHED"] * 4
