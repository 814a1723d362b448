"""Variants: shapes, options, tied weights, the registry's errors and safe checkpoints."""
import pickle

import pytest
import torch

from aebench.errors import ConfigError
from aebench.models import (
    Autoencoder,
    conv,
    create_model,
    deep,
    linear,
    list_models,
    load_autoencoder,
    save_autoencoder,
    undercomplete,
)


def test_registry_lists_variants_and_rejects_unknown_names_and_options():
    assert list_models() == ["conv", "deep", "linear", "overcomplete", "stacked", "undercomplete", "vae"]
    with pytest.raises(ConfigError, match="name='vqvae' is not allowed: one of conv, deep, linear"):
        create_model("vqvae", input_shape=(4,))
    with pytest.raises(ConfigError, match="hidden_dims=.*not an option of model linear"):
        create_model("linear", input_shape=(4,), hidden_dims=[3])


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 7, 9), (1, 28, 28), (3, 32, 32), (2, 1, 5)])
@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_conv_reconstructs_any_image_size(shape, kernel_size):
    model = conv(input_shape=shape, code_dim=5, channels=[4, 6, 8], kernel_size=kernel_size)
    x = torch.rand(3, *shape)
    assert model.encode(x).code.shape == (3, 5)
    assert model(x).shape == x.shape


@pytest.mark.parametrize("name", ["linear", "undercomplete", "overcomplete", "deep"])
def test_mlp_variants_take_vectors_and_images(name):
    code = {"overcomplete": 64}.get(name, 8)
    for shape in [(64,), (1, 8, 8)]:
        model = create_model(name, input_shape=shape, code_dim=code)
        x = torch.rand(5, *shape)
        assert model.encode(x).code.shape == (5, code) and model(x).shape == x.shape


def test_linear_autoencoder_is_affine():
    model = linear(input_shape=(10,), code_dim=3)
    a, b = torch.randn(1, 10), torch.randn(1, 10)
    mixed = model(0.3 * a + 0.7 * b)
    assert torch.allclose(mixed, 0.3 * model(a) + 0.7 * model(b), atol=1e-6)


def test_tied_weights_share_one_matrix():
    model = undercomplete(input_shape=(12,), code_dim=4, tied_weights=True)
    untied = undercomplete(input_shape=(12,), code_dim=4)
    assert model.num_parameters() == 12 * 4 + 4 + 12  # one matrix, two biases
    assert untied.num_parameters() == 2 * 12 * 4 + 4 + 12
    encoder_weight = model.encoder[1].weight
    assert model.decoder[0].encoder_layer.weight is encoder_weight
    model(torch.rand(2, 12)).sum().backward()
    assert encoder_weight.grad is not None
    deep_tied = deep(input_shape=(20,), code_dim=3, hidden_dims=[10, 6], tied_weights=True)
    assert deep_tied(torch.rand(2, 20)).shape == (2, 20)


def test_deep_decoder_can_be_asymmetric():
    model = deep(input_shape=(20,), code_dim=3, hidden_dims=[10], decoder_dims=[5, 7, 9])
    widths = [m.out_features for m in model.decoder if isinstance(m, torch.nn.Linear)]
    assert widths == [5, 7, 9, 20]


def test_bce_reconstructs_in_unit_range_and_needs_unit_data():
    model = undercomplete(input_shape=(6,), code_dim=2, loss="bce")
    out = model(torch.randn(4, 6) * 10)
    assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(ConfigError, match="loss='bce' is not allowed: mse or l1"):
        undercomplete(input_shape=(6,), code_dim=2, loss="bce", unit_range=False)


def test_checkpoint_round_trip(tmp_path):
    model = deep(input_shape=(1, 8, 8), code_dim=4, hidden_dims=[12], decoder_dims=[9, 11], loss="l1")
    path = tmp_path / "model.pt"
    save_autoencoder(model, path)
    loaded = load_autoencoder(path)
    assert isinstance(loaded, Autoencoder) and loaded.loss_name == "l1"
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(loaded(x), model.eval()(x))


class Payload:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_checkpoint_loading_runs_no_pickled_code(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": "aebench-autoencoder/1", "payload": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_autoencoder(path)
    assert "pickled code ran" not in capsys.readouterr().out


@pytest.mark.parametrize("name", ["deep", "stacked"])
def test_default_widths_follow_the_input_size(name):
    """hidden_dims=auto: twice the input size, then the input size, capped at 1000 and 500, never below the code."""
    def widths(model):
        return [layer.out_features for layer in model.encoder.modules() if isinstance(layer, torch.nn.Linear)]

    assert widths(create_model(name, input_shape=(64,), code_dim=16)) == [128, 64, 16]  # digits: twice the input, then the input
    assert widths(create_model(name, input_shape=(1, 28, 28), code_dim=16)) == [1000, 500, 16]  # capped at Hinton & Salakhutdinov's widths
    assert widths(create_model(name, input_shape=(1, 28, 28), code_dim=16, hidden_dims=[100])) == [100, 16]
    assert create_model(name, input_shape=(1, 28, 28), code_dim=32).architecture["hidden_dims"] == [1000, 500]
    assert create_model(name, input_shape=(8,), code_dim=24).architecture["hidden_dims"] == [24, 24]
