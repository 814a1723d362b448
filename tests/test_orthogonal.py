"""The worked example of a new regularizer (CONTRIBUTING.md): one module, one config file."""
import pytest
import torch

from aebench.models import create_model
from aebench.regularizers import build_regularizers, list_regularizers
from aebench.run.train import train


def brute_force(matrices, weight):
    """weight * sum over matrices of sum_ij ((W W^T)_ij - delta_ij)^2, by explicit loops."""
    total = 0.0
    for matrix in matrices:
        rows = matrix.shape[0]
        for i in range(rows):
            for j in range(rows):
                dot = sum(matrix[i, k].item() * matrix[j, k].item() for k in range(matrix.shape[1]))
                total += (dot - (1.0 if i == j else 0.0)) ** 2
    return weight * total


@pytest.mark.parametrize("name,options", [("deep", {"hidden_dims": [6, 5], "code_dim": 3}),
                                          ("conv", {"channels": [2, 3], "code_dim": 3})])
def test_orthogonality_penalty_against_a_loop(name, options):
    torch.manual_seed(0)
    (regularizer,) = build_regularizers({"name": "orthogonal", "weight": 0.3})
    model = create_model(name, input_shape=(1, 8, 8), regularizers=[regularizer], **options)
    x = torch.rand(4, 1, 8, 8)
    value = regularizer.penalty(model, x, model.code_of(x))
    matrices = [p.detach().flatten(1) for p in model.encoder.parameters() if p.ndim >= 2]
    assert value.item() == pytest.approx(brute_force(matrices, 0.3), rel=1e-4)


def test_an_orthonormal_encoder_pays_nothing():
    (regularizer,) = build_regularizers({"name": "orthogonal"})
    model = create_model("linear", input_shape=(6,), code_dim=3, regularizers=[regularizer])
    with torch.no_grad():
        model.encoder[1].weight.copy_(torch.eye(6)[:3])
    assert regularizer.penalty(model, torch.rand(2, 6), torch.rand(2, 3)).item() == 0.0


@pytest.mark.parametrize("fast", [False, True])
def test_orthogonal_runs_on_both_paths_and_lowers_the_penalty(make_config, client, fast):
    assert "orthogonal" in list_regularizers()
    result = train(make_config("model=deep", "regularizer=orthogonal", "regularizer.weight=0.1",
                               "trainer.max_epochs=5", f"trainer.fast={fast}"))
    history = [m.value for m in client.get_metric_history(result.run_id, "train/penalty/orthogonal")]
    assert len(history) == 5 and history[-1] < history[0]
