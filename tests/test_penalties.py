"""Each penalty against a slow brute-force reference (explicit loops, autograd Jacobians), in float64."""
import itertools

import pytest
import torch

from aebench.models import create_model
from aebench.ops.jacobian import (
    EncoderJacobian,
    chain_sq_norm,
    jvp_chain_sq_norm,
    jvp_chain_sq_norms,
    linear_chain,
    vjp_sq_norm,
    vjp_sq_norms,
)
from aebench.regularizers import L2, Contractive, SparseKL, SparseL1

RELATIVE = 1e-5


def brute_force_jacobian_sq(encoder, x, create_graph=False):
    """||J_f(x_b)||_F^2 for each sample, one full autograd Jacobian at a time."""
    values = []
    for sample in x:
        jacobian = torch.autograd.functional.jacobian(lambda v: encoder(v.unsqueeze(0)).squeeze(0), sample,
                                                      create_graph=create_graph)
        values.append(jacobian.pow(2).sum())
    return torch.stack(values)


ENCODERS = {
    "one layer sigmoid": ("undercomplete", (12,), {"activation": "sigmoid"}),
    "one layer tanh": ("undercomplete", (12,), {"activation": "tanh"}),
    "one layer relu": ("undercomplete", (12,), {"activation": "relu"}),
    "one layer elu": ("undercomplete", (12,), {"activation": "elu"}),
    "one layer softplus": ("undercomplete", (12,), {"activation": "softplus"}),
    "one layer leaky_relu": ("undercomplete", (12,), {"activation": "leaky_relu"}),
    "one layer gelu (no closed form)": ("undercomplete", (12,), {"activation": "gelu"}),
    "linear": ("linear", (12,), {}),
    "tied overcomplete": ("overcomplete", (6,), {"code_dim": 9, "tied_weights": True}),
    "deep relu/sigmoid": ("deep", (1, 4, 3), {"hidden_dims": [7, 5], "activation": "relu"}),
    "deep tanh/relu": ("deep", (12,), {"hidden_dims": [9], "activation": "tanh", "code_activation": "relu"}),
    "stacked": ("stacked", (12,), {"hidden_dims": [8, 6]}),
    "conv": ("conv", (2, 7, 6), {"channels": [3, 4]}),
}


def random_model(name, shape, options, seed):
    torch.manual_seed(seed)
    options = {"code_dim": 4, **options}
    model = create_model(name, input_shape=shape, **options).double()
    for parameter in model.parameters():  # random weights, not just the initialisation's scale
        parameter.data.normal_(0, 0.7)
    return model


@pytest.mark.parametrize("key", ENCODERS)
def test_jacobian_norm_matches_autograd_jacobian(key):
    name, shape, options = ENCODERS[key]
    for seed in range(3):
        model = random_model(name, shape, options, seed)
        x = torch.randn(5, *shape, dtype=torch.float64)
        jacobian = EncoderJacobian(model.encoder)
        inputs = x.clone().requires_grad_(jacobian.needs_input_grad())
        code = model.encoder(inputs)
        fast = jacobian.sq_norm(inputs, code)
        assert torch.allclose(fast, brute_force_jacobian_sq(model.encoder, x), rtol=RELATIVE, atol=0)


CONTRACTIVE_CASES = ["one layer sigmoid", "one layer tanh", "one layer relu", "one layer elu", "one layer softplus",
                     "one layer leaky_relu", "linear", "tied overcomplete", "deep relu/sigmoid", "stacked", "conv",
                     "one layer gelu (no closed form)"]


@pytest.mark.parametrize("key", CONTRACTIVE_CASES)
def test_contractive_penalty_and_its_gradient_match_brute_force(key):
    name, shape, options = ENCODERS[key]
    model = random_model(name, shape, options, seed=11)
    x = torch.randn(4, *shape, dtype=torch.float64)
    penalty = Contractive(weight=0.3, projections=None)  # exact on every route
    penalty.bind(model)
    inputs = x.clone().requires_grad_(penalty.needs_input_grad)
    value = penalty.penalty(model, inputs, model.encoder(inputs))
    # piecewise-linear codes (relu, identity): the bias does not enter the penalty, its gradient is zero
    unused = {"allow_unused": True, "materialize_grads": True}
    fast_grads = torch.autograd.grad(value, list(model.encoder.parameters()), **unused)

    reference = 0.3 * brute_force_jacobian_sq(model.encoder, x, create_graph=True).mean()
    slow_grads = torch.autograd.grad(reference, list(model.encoder.parameters()), **unused)
    assert value.item() == pytest.approx(reference.item(), rel=RELATIVE)
    for fast, slow in zip(fast_grads, slow_grads):
        assert torch.allclose(fast, slow, rtol=RELATIVE, atol=1e-12)


CODE_RANGES = {"sigmoid": (0.01, 0.99), "tanh": (-0.99, 0.99), "softplus": (0.01, 3.0), "elu": (-0.99, 3.0),
               "relu": (0.0, 3.0), "leaky_relu": (-1.0, 3.0), "identity": (-3.0, 3.0)}


@pytest.mark.parametrize("activation", sorted(CODE_RANGES))
def test_closed_form_gradient_written_out_matches_autograd(activation):
    """The hand-written backward of ClosedFormContractive against numerical differences (gradcheck) and
    its value against the formula, for a stack of 3 seeds: code (3, B, C), weight (3, C, inputs)."""
    from aebench.ops.activations import DERIVATIVE_FROM_OUTPUT
    from aebench.ops.jacobian import closed_form_penalty

    generator = torch.Generator().manual_seed(2)
    low, high = CODE_RANGES[activation]
    code = (low + (high - low) * torch.rand(3, 5, 4, generator=generator, dtype=torch.float64)).requires_grad_()
    if activation in ("relu", "leaky_relu"):  # away from the kink, where s' jumps
        code = torch.where(code.abs() < 0.05, code + 0.1, code).detach().requires_grad_()
    weight = torch.randn(3, 4, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    value = closed_form_penalty(weight, activation, code, 0.3)
    derivative = DERIVATIVE_FROM_OUTPUT[activation](code.detach())
    expected = 0.3 * (derivative.square() * weight.detach().square().sum(-1).unsqueeze(1)).sum(-1).mean(-1)
    assert value.shape == (3,) and torch.allclose(value, expected, rtol=1e-12)
    assert torch.autograd.gradcheck(lambda c, w: closed_form_penalty(w, activation, c, 0.3), (code, weight))


def test_projection_estimate_is_unbiased():
    """Averaged over all 2^K sign vectors the estimator equals the exact norm (E[v v^T] = I exactly)."""
    model = random_model("conv", (1, 6, 6), {"channels": [3], "code_dim": 3}, seed=5)
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    code = model.encoder(x)
    exact = vjp_sq_norm(code, x)
    signs = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=3)), dtype=torch.float64)  # (8, K)
    every_sign = signs.unsqueeze(1).expand(-1, 4, -1)
    assert torch.allclose(vjp_sq_norms(code, x, every_sign).mean(0), exact, rtol=1e-12)
    torch.manual_seed(0)
    sampled = vjp_sq_norm(code, x, projections=20000)
    assert torch.allclose(sampled, exact, rtol=0.03)


def test_each_encoder_takes_the_cheapest_exact_route():
    def route(name, **options):
        return EncoderJacobian(create_model(name, input_shape=(1, 8, 8), code_dim=2, **options).encoder).route

    assert route("undercomplete") == route("linear") == "closed form"
    assert route("deep") == route("stacked") == "layer chain"
    assert route("conv") == route("undercomplete", activation="gelu") == "vector-Jacobian products"


def test_sparse_l1_matches_explicit_loop():
    torch.manual_seed(1)
    code = torch.randn(7, 5, dtype=torch.float64)
    total = 0.0
    for row in code.tolist():
        total += sum(abs(value) for value in row)
    expected = 0.25 * total / len(code)
    assert SparseL1(weight=0.25).penalty(None, None, code).item() == pytest.approx(expected, rel=RELATIVE)


def test_sparse_kl_matches_explicit_loop():
    import math

    torch.manual_seed(2)
    code = torch.rand(9, 6, dtype=torch.float64) * 0.98 + 0.01
    rho, beta = 0.05, 0.7
    expected = 0.0
    for unit in range(code.shape[1]):
        rho_hat = sum(code[b, unit].item() for b in range(code.shape[0])) / code.shape[0]
        expected += rho * math.log(rho / rho_hat) + (1 - rho) * math.log((1 - rho) / (1 - rho_hat))
    assert SparseKL(target=rho, weight=beta).penalty(None, None, code).item() == pytest.approx(beta * expected, rel=RELATIVE)
    at_target = torch.full((4, 3), rho, dtype=torch.float64)
    assert SparseKL(target=rho, weight=1.0).penalty(None, None, at_target).item() == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("tied", [False, True])
def test_l2_matches_explicit_loop_over_weights(tied):
    model = random_model("undercomplete", (10,), {"tied_weights": tied}, seed=3)
    expected, seen = 0.0, set()
    for name, parameter in model.named_parameters():
        if name.endswith("weight") and id(parameter) not in seen:
            seen.add(id(parameter))
            expected += sum(value ** 2 for value in parameter.flatten().tolist())
    assert L2(weight=0.02).penalty(model, None, None).item() == pytest.approx(0.01 * expected, rel=RELATIVE)


def test_projections_estimate_the_contractive_penalty_of_a_deep_encoder():
    model = random_model("deep", (10,), {"hidden_dims": [8]}, seed=4)
    x = torch.randn(6, 10, dtype=torch.float64)
    exact = Contractive(weight=1.0)
    exact.bind(model)
    estimate = Contractive(weight=1.0, projections=4000)
    estimate.bind(model)
    assert not exact.needs_input_grad and not estimate.needs_input_grad  # the chain, exact or carried forward
    code = model.encoder(x)
    torch.manual_seed(0)
    assert estimate.penalty(model, x, code).item() == pytest.approx(exact.penalty(model, x, code).item(), rel=0.03)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_the_forward_estimate_of_a_chain_is_unbiased(activation):
    """Averaged over all 2^n input-side sign vectors, ||J u||^2 is the exact norm (E[u u^T] = I exactly),
    and so is its gradient; one draw differs from it."""
    model = random_model("deep", (5,), {"hidden_dims": [4, 3], "code_dim": 2, "activation": activation}, seed=6)
    chain = linear_chain(model.encoder)
    x = torch.randn(3, 5, dtype=torch.float64)
    signs = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=5)), dtype=torch.float64)  # (32, 5)
    every_sign = signs.unsqueeze(1).expand(-1, 3, -1)
    averaged, exact = jvp_chain_sq_norms(chain, x, every_sign).mean(0), chain_sq_norm(chain, x)
    assert torch.allclose(averaged, exact, rtol=1e-12)
    weight = chain[0][0].weight
    (from_average,) = torch.autograd.grad(averaged.sum(), weight)
    (from_exact,) = torch.autograd.grad(exact.sum(), weight)
    assert torch.allclose(from_average, from_exact, rtol=1e-10)
    torch.manual_seed(0)
    assert not torch.allclose(jvp_chain_sq_norm(chain, x, projections=1), exact)


@pytest.mark.parametrize("projections", [None, 3])
def test_the_penalty_of_a_chain_reads_the_layer_outputs_of_the_training_pass(projections, monkeypatch):
    """Kept by forward hooks: the layers do not run again, and the penalty and its gradient are those of
    running them again; a code from another pass gets its own layer outputs."""
    import aebench.ops.jacobian as jacobian

    model = random_model("deep", (10,), {"hidden_dims": [8, 6]}, seed=7)
    penalty = Contractive(weight=1.0, projections=projections)
    penalty.bind(model)
    x, other = torch.randn(5, 10, dtype=torch.float64), torch.randn(5, 10, dtype=torch.float64)
    reruns, run_layers = [], jacobian.chain_outputs
    monkeypatch.setattr(jacobian, "chain_outputs", lambda chain, inputs: reruns.append(1) or run_layers(chain, inputs))

    def value_and_gradient(code):
        model.zero_grad()
        torch.manual_seed(0)  # the same directions for the estimate
        value = penalty.penalty(model, x, code)
        value.backward()
        return value.item(), [p.grad.clone() for p in model.encoder.parameters()]

    kept = value_and_gradient(model.encoder(x))
    assert reruns == []
    code_of_x = model.encoder(x).detach()
    model.encoder(other)  # the kept outputs are now other's
    rerun = value_and_gradient(code_of_x)
    assert reruns == [1]
    assert kept[0] == pytest.approx(rerun[0], rel=1e-12)
    for one, two in zip(kept[1], rerun[1]):
        assert torch.allclose(one, two, rtol=1e-10)
