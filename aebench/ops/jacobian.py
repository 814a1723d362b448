"""||J_f(x)||_F^2, the squared Frobenius norm of the encoder's Jacobian, per sample (Rifai et al. 2011).

Every route is batched over the samples; none loops over them in Python:

- closed form, for one linear layer h = s(W x + b) with an elementwise s:
  J = diag(s'(a)) W, so ||J||_F^2 = sum_j s'(a_j)^2 ||W_j||^2, with s' read off h; as a training
  penalty its gradient is written out (``ClosedFormContractive``);
- chain, exact for any stack of linear layers and elementwise activations:
  J = D_L W_L ... D_1 W_1 (D_l = diag(s'_l(a_l))), multiplied from the code side, (B, K, width),
  with ||P W_1||_F^2 = sum((P W_1 W_1^T) * P) so the input dimension enters only through W_1 W_1^T;
- vector-Jacobian products, for any other encoder (convolutions): exact as sum_k ||e_k^T J||^2
  over the K code directions in one batched backward pass, or estimated without bias as
  mean_p ||v_p^T J||^2 over P random sign vectors v_p (E[v v^T] = I);
- estimated for a chain: mean_p ||J u_p||^2 over P random sign vectors u_p of the input side
  (E[u u^T] = I, Hutchinson's estimator), each J u carried forward through the layers with the
  activations, t_l = s_l'(a_l) * (W_l t_{l-1}): forward mode, so its gradient needs no double
  backward (about 40 % of the cost of the vector-Jacobian estimate, BENCHMARKS.md).
"""
from __future__ import annotations

import torch
from torch import nn

from aebench.ops.activations import DERIVATIVE_FROM_OUTPUT, DERIVATIVE_SLOPE_FROM_OUTPUT, activation_name


def linear_chain(encoder: nn.Module) -> list[tuple[nn.Linear, nn.Module, str]] | None:
    """[(linear, activation, activation name), ...] if the encoder is Flatten?, then Linear and
    activation modules alternating, each activation with an output-form derivative; else None."""
    leaves = [m for m in encoder.modules() if not list(m.children())]
    if leaves and isinstance(leaves[0], nn.Flatten):
        leaves = leaves[1:]
    if not leaves or len(leaves) % 2:
        return None
    chain = []
    for linear, activation in zip(leaves[::2], leaves[1::2]):
        name = activation_name(activation)
        if not isinstance(linear, nn.Linear) or name not in DERIVATIVE_FROM_OUTPUT:
            return None
        chain.append((linear, activation, name))
    return chain


def closed_form_sq_norm(weight: torch.Tensor, activation: str, code: torch.Tensor) -> torch.Tensor:
    """sum_j s'(a_j)^2 ||W_j||^2 per sample, for h = s(W x + b) given as ``code`` (B, K)."""
    derivative = DERIVATIVE_FROM_OUTPUT[activation](code)
    return derivative.pow(2) @ weight.pow(2).sum(dim=1).to(derivative.dtype)


class ClosedFormContractive(torch.autograd.Function):
    """lambda * mean_b sum_j s'(h_bj)^2 ||W_j||^2 for code h (..., B, C) and weight W (..., C, inputs),
    one value per leading index (seeds), with its gradient written out rather than traced:

        d/dW_j = 2 lambda/B (sum_b s'(h_bj)^2) W_j,
        d/dh_bj = 2 lambda/B s'(h_bj) (d s'/d h)(h_bj) ||W_j||^2.

    Autograd would trace about fifteen small operators for the backward; written out it takes seven,
    which on a small model is most of what the penalty costs (BENCHMARKS.md). Checked with gradcheck
    and against brute-force Jacobians (``tests/test_penalties.py``).
    """

    @staticmethod
    def forward(ctx, code: torch.Tensor, weight: torch.Tensor, activation: str, weight_of_penalty: float):
        derivative = DERIVATIVE_FROM_OUTPUT[activation](code)
        per_unit = (derivative * derivative).sum(dim=-2)  # sum_b s'(h_bj)^2: (..., C)
        norms = (weight * weight).sum(dim=-1).to(derivative.dtype)  # ||W_j||^2: (..., C)
        ctx.save_for_backward(code, weight, derivative, per_unit, norms)
        ctx.activation, ctx.scale = activation, weight_of_penalty / code.shape[-2]
        total = per_unit @ norms if per_unit.ndim == 1 else (per_unit.unsqueeze(-2) @ norms.unsqueeze(-1)).flatten(-3)
        return total.mul_(ctx.scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        code, weight, derivative, per_unit, norms = ctx.saved_tensors
        twice = (grad * (2 * ctx.scale)).unsqueeze(-1)  # (..., 1)
        grad_weight = weight * (per_unit * twice).unsqueeze(-1).to(weight.dtype)
        slope = DERIVATIVE_SLOPE_FROM_OUTPUT[ctx.activation]
        grad_code = None if slope is None or not ctx.needs_input_grad[0] else \
            (derivative * slope(code)).mul_((norms * twice).unsqueeze(-2))
        return grad_code, grad_weight, None, None


def closed_form_penalty(weight: torch.Tensor, activation: str, code: torch.Tensor, weight_of_penalty: float):
    """``weight_of_penalty`` * mean over samples of the closed-form ||J||_F^2, per leading index.

    Under ``torch.func`` transforms (seeds under vmap) the same formula is traced by autograd instead:
    a function that vmap could take needs ``setup_context`` and its intermediates as outputs, which
    cost more than the written-out gradient saves (BENCHMARKS.md)."""
    try:
        return ClosedFormContractive.apply(code, weight, activation, weight_of_penalty)
    except RuntimeError as error:
        if "functorch transforms" not in str(error):
            raise
    return weight_of_penalty * closed_form_sq_norm(weight, activation, code).mean(dim=-1)


Chain = list[tuple[nn.Linear, nn.Module, str]]


def chain_outputs(chain: Chain, inputs: torch.Tensor) -> list[torch.Tensor]:
    """Each layer's output (after its activation) for ``inputs``, the last one the code."""
    hidden, outputs = inputs.flatten(1), []
    for linear, activation, _ in chain:
        hidden = activation(linear(hidden))
        outputs.append(hidden)
    return outputs


def chain_sq_norm(chain: Chain, inputs: torch.Tensor, outputs: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Exact ||J||_F^2 per sample for a linear chain, from the layer ``outputs`` of the encoder pass
    (recomputed from ``inputs`` when not given)."""
    outputs = chain_outputs(chain, inputs) if outputs is None else outputs
    derivatives = [DERIVATIVE_FROM_OUTPUT[name](output) for (_, _, name), output in zip(chain, outputs)]
    product = derivatives[-1].unsqueeze(2) * chain[-1][0].weight  # D_L W_L: (B, K, width_{L-1})
    for (linear, _, _), derivative in zip(reversed(chain[1:-1]), reversed(derivatives[1:-1])):
        product = (product * derivative.unsqueeze(1)) @ linear.weight
    product = product * derivatives[0].unsqueeze(1)  # P = D_L W_L ... W_2 D_1: (B, K, width_1)
    first = chain[0][0].weight
    # ||P W_1||_F^2 = sum (P G) * P with G = W_1 W_1^T: width_1^2 per row instead of width_1 * input_dim
    return ((product @ (first @ first.t())) * product).sum(dim=(1, 2))


def sign_directions(projections: int, batch: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """(projections, batch, width) independent random signs: E[v v^T] = I."""
    signs = torch.randint(0, 2, (projections, batch, width), device=like.device)
    return (2 * signs - 1).to(like.dtype)


def jvp_chain_sq_norms(chain: Chain, inputs: torch.Tensor, directions: torch.Tensor,
                       outputs: list[torch.Tensor] | None = None) -> torch.Tensor:
    """||J u||^2 for each input-side direction u (directions: (P, B, input values)) and sample: (P, B),
    the Jacobian-vector products carried forward through the chain with its layer ``outputs``
    (recomputed from ``inputs`` when not given)."""
    outputs = chain_outputs(chain, inputs) if outputs is None else outputs
    tangent = directions
    for (linear, _, name), output in zip(chain, outputs):
        tangent = (tangent @ linear.weight.t()) * DERIVATIVE_FROM_OUTPUT[name](output)
    return tangent.pow(2).sum(dim=2)


def jvp_chain_sq_norm(chain: Chain, inputs: torch.Tensor, projections: int,
                      outputs: list[torch.Tensor] | None = None) -> torch.Tensor:
    """The unbiased estimate of a chain's ||J||_F^2 per sample from ``projections`` random sign directions."""
    flat = inputs.flatten(1)
    return jvp_chain_sq_norms(chain, inputs, sign_directions(projections, *flat.shape, flat), outputs).mean(dim=0)


def vjp_sq_norms(code: torch.Tensor, inputs: torch.Tensor, directions: torch.Tensor,
                 create_graph: bool = False) -> torch.Tensor:
    """||v^T J||^2 for each direction v (directions: (P, B, K)) and sample: (P, B), one batched pass.
    ``code`` must have been computed from ``inputs`` with ``inputs.requires_grad``."""
    (rows,) = torch.autograd.grad(code, inputs, grad_outputs=directions, is_grads_batched=True,
                                  retain_graph=True, create_graph=create_graph)
    return rows.flatten(2).pow(2).sum(dim=2)


def vjp_sq_norm(code: torch.Tensor, inputs: torch.Tensor, projections: int | None = None,
                create_graph: bool = False) -> torch.Tensor:
    """Exact ||J||_F^2 per sample over the K basis directions (``projections=None``), or its unbiased
    estimate, the mean over ``projections`` random sign directions."""
    batch, code_dim = code.shape
    if projections is None:
        basis = torch.eye(code_dim, dtype=code.dtype, device=code.device).unsqueeze(1).expand(-1, batch, -1)
        return vjp_sq_norms(code, inputs, basis, create_graph).sum(dim=0)
    directions = sign_directions(projections, batch, code_dim, code)
    return vjp_sq_norms(code, inputs, directions, create_graph).mean(dim=0)


class EncoderJacobian:
    """The route to ||J_f(x)||_F^2 for one encoder, chosen once from its structure."""

    def __init__(self, encoder: nn.Module):
        self.encoder = encoder
        self.chain = linear_chain(encoder)
        # the latest output of each layer of a deeper chain (keep_outputs), by its position in the chain
        self._outputs: list[torch.Tensor | None] = [None] * len(self.chain or ())

    def keep_outputs(self) -> None:
        """Keep the layer outputs of every pass of a deeper chain (forward hooks on its activations), so
        that ``sq_norm`` of that pass's code reads them instead of running the layers again (a third of
        what the exact penalty costs, most of what the estimate does: BENCHMARKS.md)."""
        if self.chain is not None and len(self.chain) > 1:
            for _, activation, _ in self.chain:
                activation.register_forward_hook(self._keep)

    def __getstate__(self) -> dict:
        """Copies and pickles (a deep copy of the model, as weight-averaging callbacks make) leave the
        kept outputs behind: tensors inside an autograd graph cannot be copied, and a copy's passes keep
        their own."""
        return {**self.__dict__, "_outputs": [None] * len(self._outputs)}

    def _keep(self, module: nn.Module, args, output: torch.Tensor) -> None:
        """One slot per layer, overwritten by each pass: a pass that starts at a later layer (a stacked
        model's pretraining stage, which shares the layers) replaces what it runs, and nothing piles up."""
        position = next(index for index, (_, activation, _) in enumerate(self.chain) if activation is module)
        if position == 0:  # the first layer: a new pass of the whole encoder
            self._outputs = [None] * len(self.chain)
        self._outputs[position] = output

    @property
    def kept_outputs(self) -> int:
        """How many layer outputs (each holding its pass's autograd graph) are kept now."""
        return sum(output is not None for output in self._outputs)

    def _outputs_of(self, code: torch.Tensor) -> list[torch.Tensor] | None:
        """The kept layer outputs if ``code`` is the very tensor their pass produced, else None."""
        outputs = self._outputs
        return outputs if outputs and outputs[-1] is code and all(o is not None for o in outputs) else None

    @property
    def route(self) -> str:
        if self.chain is None:
            return "vector-Jacobian products"
        return "closed form" if len(self.chain) == 1 else "layer chain"

    def needs_input_grad(self) -> bool:
        """Only the vector-Jacobian route differentiates through the inputs (chains estimate forward)."""
        return self.chain is None

    def sq_norm(self, inputs: torch.Tensor, code: torch.Tensor, projections: int | None = None,
                create_graph: bool = False) -> torch.Tensor:
        """Per-sample ||J_f(x)||_F^2 by the cheapest exact route. ``projections`` replaces every route
        but the closed form by the unbiased estimate from that many random directions: Jacobian-vector
        products for a chain, vector-Jacobian products for any other encoder."""
        if self.route == "closed form":
            linear, _, name = self.chain[0]
            return closed_form_sq_norm(linear.weight, name, code)
        if self.chain is not None:
            outputs = self._outputs_of(code)
            return chain_sq_norm(self.chain, inputs, outputs) if projections is None else \
                jvp_chain_sq_norm(self.chain, inputs, projections, outputs)
        return vjp_sq_norm(code, inputs, projections, create_graph)
