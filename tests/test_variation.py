"""Feature variation: latent traversals move one code unit at a time, interpolations join two codes;
both logged for image runs."""
import io

import pytest
import torch
from PIL import Image

from aebench.evaluate.variation import interpolation_rows, traversal_rows, traversal_units
from aebench.models import create_model
from aebench.run.train import train


def linear_model(code_dim: int = 4):
    torch.manual_seed(0)
    return create_model("linear", input_shape=(1, 4, 4), code_dim=code_dim).eval()


def test_a_traversal_moves_one_unit_along_its_range_and_decodes_it():
    """For a linear decoder D(c) = W c + b, consecutive images of unit j's row differ by the step times W[:, j]."""
    model = linear_model()
    inputs = torch.rand(200, 1, 4, 4)
    with torch.no_grad():
        codes = model.code_of(inputs)
    order = traversal_units(codes, 4)
    assert order == codes.var(0).argsort(descending=True).tolist()  # most varying unit first
    rows = traversal_rows(model, codes, units=3, steps=5)
    assert len(rows) == 3 and rows[0].shape == (5, 1, 4, 4)
    weight = model.decoder[0].encoder_layer.weight.T  # tied (linear's default): W_dec = W_enc^T, (16, code_dim)
    for row, unit in zip(rows, order):
        low, high = torch.quantile(codes[:, unit], torch.tensor([0.05, 0.95]))
        step = (high - low) / 4
        differences = (row[1:] - row[:-1]).flatten(1)
        assert torch.allclose(differences, (step * weight[:, unit]).expand_as(differences), atol=1e-5)
        middle = codes.mean(0).clone()
        middle[unit] = (low + high) / 2
        with torch.no_grad():
            assert torch.allclose(row[2], model.decode(middle[None])[0], atol=1e-5)  # the others at their mean


def test_interpolations_join_the_codes_of_two_images_and_blend_their_pixels():
    model = linear_model()
    images = torch.rand(4, 1, 4, 4)
    rows = interpolation_rows(model, images, images, pairs=2, steps=5)
    assert len(rows) == 4
    with torch.no_grad():
        reconstructions = model(images)
    for pair in range(2):
        decoded, blended = rows[2 * pair], rows[2 * pair + 1]
        a, b = images[2 * pair], images[2 * pair + 1]
        assert torch.allclose(decoded[0], reconstructions[2 * pair], atol=1e-5)
        assert torch.allclose(decoded[-1], reconstructions[2 * pair + 1], atol=1e-5)
        assert torch.allclose(blended[0], a) and torch.allclose(blended[-1], b)
        assert torch.allclose(blended[2], (a + b) / 2)
        # a linear decoder maps the code path to a straight line too: the midpoint is the mean of the ends
        assert torch.allclose(decoded[2], (decoded[0] + decoded[-1]) / 2, atol=1e-5)


@pytest.mark.parametrize("model", ["undercomplete", "vae"])
def test_an_image_run_logs_its_traversals_and_interpolations(make_config, client, tmp_path, model):
    result = train(make_config(f"model={model}", "model.code_dim=4"))
    sizes = {}
    for name in ("traversals.png", "interpolations.png"):
        path = client.download_artifacts(result.run_id, name, str(tmp_path))
        sizes[name] = Image.open(io.BytesIO(open(path, "rb").read())).size
    # 4 traversed units (the code size) x 9 steps; 3 pairs x 2 rows of 9: digits enlarged to tiles
    traversal_width, traversal_height = sizes["traversals.png"]
    interpolation_width, interpolation_height = sizes["interpolations.png"]
    assert traversal_width == interpolation_width
    assert traversal_height * 6 // 4 == pytest.approx(interpolation_height, abs=6)
