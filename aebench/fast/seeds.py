"""Several members of one combination trained together as one vectorised model: seeds, or the
trials of a tuned sweep, which differ in learning rate, penalty weight and the settings a regularizer
lets members set apart.

The K autoencoders (one per member, each initialised as its own run would be) have their
parameters stacked along a new first axis (``torch.func.stack_module_state``); one step runs
all of them at once, each on its own shuffled mini-batch: fully connected models as batched
matrix products (``aebench.fast.seed_batched``), the others with ``torch.func.vmap`` over
``functional_call``. The seeds stay independent: the gradient of the summed losses with respect to seed
k's parameters is seed k's own gradient, and Adam acts elementwise. Random training inputs
(corruption, a task's random input) are drawn for each member under its own generator, as its run
alone draws them (``aebench.fast.member_draws``), where ``train_members`` gives the generators'
states; a random penalty estimate or a sampling bottleneck draws inside ``vmap``
(``randomness="different"``), so such a member's numbers are its own, not those of its run alone.

Members may differ in Adam's learning rate (each member's update is scaled to its own: Adam's step
is proportional to its learning rate), in the weight of a penalty that is its weight times a
term independent of it (``Regularizer.weight_scales_penalty``: the gradient of member k's penalty
term is scaled by w_k / w_0), and in the settings a regularizer lets members set apart
(``Regularizer.per_member``: sparse_kl's target through ``aebench.fast.member_settings``, the
denoising noise level through each member's own draws). A member that stops improving (early
stopping) is retired: its rows leave the stacked parameters, Adam's moments and the shuffled
batches, so the others train on without it, as a run alone would stop.
"""
from __future__ import annotations

import math
from typing import Sequence

import lightning as L
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from aebench.data.arrays import as_float
from aebench.data.batches import TensorBatches, numbered_batches
from aebench.data.datamodule import AutoencoderDataModule
from aebench.evaluate.selection import BestEpochs
from aebench.fast.epoch_means import EpochMeans, read_together
from aebench.fast.member_draws import MemberDraws
from aebench.fast.member_settings import MemberSettings
from aebench.fast.seed_batched import SeedBatchedAutoencoder
from aebench.fast.steps import ManualStepModule
from aebench.models.autoencoder import Autoencoder, adam
from aebench.models.schedules import PlateauFactor, learning_rate_schedule, with_schedule
from aebench.tasks.base import trains_on_clean_inputs


class _LossTerms(nn.Module):
    """``torch.stack(model.loss_terms(x))`` as a forward pass, for ``functional_call``. Only the
    encoder, bottleneck and decoder are registered here, so each call walks them alone (not the test metrics)."""

    def __init__(self, model: Autoencoder):
        super().__init__()
        self.encoder, self.bottleneck, self.decoder = model.encoder, model.bottleneck, model.decoder  # its own
        object.__setattr__(self, "model", model)  # unregistered: its methods run on the swapped modules

    def forward(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        return torch.stack(self.model.loss_terms(x, inputs))


class _ValidationLoss(_LossTerms):
    def forward(self, inputs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.model.validation_loss(inputs, x)  # on the swapped parameters of the model's own modules


class SeedBatches:
    """Groups of stacked mini-batches (K, B, ...): seed k's batch in its own shuffled order, the very
    order ``TensorBatches(data, batch_size, shuffle=True, seed=seed)`` gives a run alone, gathered
    for all seeds and all full mini-batches of a group by one indexing operation."""

    def __init__(self, data: torch.Tensor, batch_size: int, seeds: Sequence[int], group: int):
        self.data, self.batch_size, self.group = data, batch_size, group
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]

    def __len__(self) -> int:
        return -(-(-(-self.data.shape[0] // self.batch_size)) // self.group)

    def retain(self, rows: list[int]) -> None:
        """Keep only these rows' generators: each kept member goes on with its own order."""
        self.generators = [self.generators[row] for row in rows]

    def __iter__(self):
        (count, *shape), size = self.data.shape, self.batch_size
        orders = torch.stack([torch.randperm(count, generator=g) for g in self.generators]).to(self.data.device)
        seeds, full = orders.shape[0], count // size * size  # samples in full mini-batches
        for start in range(0, count, size * self.group):
            stop = min(start + size * self.group, count)
            whole = (min(stop, full) - start) // size
            # (whole, K, B) indices -> (whole, K, B, ...) values: each [i] is a contiguous (K, B, ...) batch;
            # index_select copies whole rows, five times faster here than indexing with the (whole, K, B) tensor
            index = orders[:, start:start + whole * size].view(seeds, whole, size).transpose(0, 1).reshape(-1)
            group = list(as_float(self.data.index_select(0, index)).view(whole, seeds, size, *shape).unbind(0))
            if stop > full:  # the short last mini-batch
                tail = orders[:, full:]
                group.append(as_float(self.data.index_select(0, tail.reshape(-1))).view(*tail.shape, *shape))
            yield group


def penalty_scales(models: Sequence[Autoencoder]) -> torch.Tensor | None:
    """(K, penalties): each member's penalty weights over the first member's, or None where every
    member has the first one's weights (seeds). A regularizer whose weights differ must scale its
    penalty by its weight (``weight_scales_penalty``), and the first member's weight must not be 0."""
    first = [r for r in models[0].regularizers if r.has_penalty]
    rows = []
    for model in models:
        own = [r for r in model.regularizers if r.has_penalty]
        row = []
        for template, regularizer in zip(first, own):
            if regularizer.weight == template.weight:
                row.append(1.0)
                continue
            if not (regularizer.weight_scales_penalty and template.weight != 0):
                raise ValueError(f"members of one ensemble differ in the {regularizer.name} weight "
                                 f"({template.weight} and {regularizer.weight}), which cannot be vectorised")
            row.append(regularizer.weight / template.weight)
        rows.append(row)
    if all(value == 1.0 for row in rows for value in row):
        return None
    return torch.tensor(rows, dtype=torch.float32)


class SeedEnsemble(ManualStepModule):
    """K members of one autoencoder (seeds, or trials that differ in learning rate, penalty weight and settings)
    with stacked parameters; ``unstack()`` writes each member's selected weights back."""

    def __init__(self, models: Sequence[Autoencoder], seeds: Sequence[int], patience: int | None = None,
                 draw_states: Sequence[dict[str, torch.Tensor]] | None = None):
        super().__init__()
        self.models, self.seeds = list(models), list(seeds)
        self.active = list(range(len(self.models)))  # the members still training, in the order of their rows
        # each seed's best epoch on val/loss and its early stop, as a run alone (aebench.evaluate.selection)
        self.selection = BestEpochs(len(self.seeds), patience)
        self.best: list[dict[str, torch.Tensor]] = [{} for _ in self.seeds]
        # a plateau schedule follows each seed's own val/loss: a learning-rate factor per seed, applied to its update
        self.plateaus = [PlateauFactor() for _ in self.seeds] if models[0].lr_schedule == "plateau" else None
        self._lr_factors: torch.Tensor | None = None  # (active members,), where some factor is below 1
        params, _ = stack_module_state(self.models)
        self.names = list(params)
        template = self.models[0]
        self._terms, self._validation = _LossTerms(template), _ValidationLoss(template)
        # fully connected models: batched matrix products, no vmap (aebench.fast.seed_batched), in their own layout
        self.batched = SeedBatchedAutoencoder(template, self.names) if SeedBatchedAutoencoder.supports(template) \
            else None
        if self.batched is not None:
            params = {name: self.batched.to_batched(name, value) for name, value in params.items()}
        self.stacked = nn.ParameterList([nn.Parameter(params[name]) for name in self.names])
        self._params = list(self.stacked)
        # Adam steps at the highest learning rate; each member's update is scaled to its own (a factor <= 1)
        self.lr = max(model.lr for model in self.models)
        self.member_lr = [model.lr / self.lr for model in self.models]
        self.penalty_scales = penalty_scales(self.models)  # (K, penalties) or None
        self.member_settings = MemberSettings(self.models)  # settings members set apart (sparse_kl's target)
        # random training inputs: each member's drawn as its run alone draws them, where its generator state
        # after planning is given (aebench.fast.member_draws); else drawn for all members at once
        random_inputs = not trains_on_clean_inputs(template.task, template.regularizers)
        self.draws = MemberDraws(self.models, draw_states) if random_inputs and draw_states is not None else None
        if random_inputs and self.draws is None and any(
                vars(own) != vars(first) for model in self.models[1:]
                for first, own in zip(template.regularizers, model.regularizers) if own.corrupts):
            raise ValueError("members that corrupt their inputs differently draw them each with its own regularizer: "
                             "give their generators' states (draw_states)")
        self._factors()
        self.train_means = EpochMeans(template.term_names, rows=len(self.seeds))
        self.val_means = EpochMeans(["val/loss"], rows=len(self.seeds))
        self.epoch_loggers: list[list] = [[] for _ in self.seeds]  # each seed's own run
        self.diverged: dict[int, str] = {}  # by member index

    def _factors(self) -> None:
        """The active members' learning-rate factors (``_lr_factors``: None where all are 1) and penalty
        scales (``_scales``, on the parameters' device: None where all are 1)."""
        factors = [self.member_lr[m] * (self.plateaus[m].factor if self.plateaus is not None else 1.0)
                   for m in self.active]
        device = self.stacked[0].device
        self._lr_factors = None if all(f == 1.0 for f in factors) else torch.tensor(factors, device=device)
        if self._lr_factors is not None:  # f_k and 1 - f_k shaped for each parameter, made once, not every step
            views = [self._lr_factors.view(-1, *([1] * (p.dim() - 1))).to(p.dtype) for p in self.stacked]
            self._factor_views = (views, [1 - view for view in views])
        self._scales = None if self.penalty_scales is None else self.penalty_scales[self.active].to(device)
        if self.member_settings:
            self.member_settings.retain(self.active, device)

    def _scaled(self, terms: list[torch.Tensor]) -> list[torch.Tensor]:
        """[(K,) per term] with each penalty (the last terms) times its member's scale."""
        if self._scales is None:
            return terms
        first = len(terms) - self._scales.shape[1]
        return [*terms[:first], *(term * self._scales[:, j] for j, term in enumerate(terms[first:]))]

    def _call(self, module: nn.Module, in_dims: tuple, *tensors: torch.Tensor) -> torch.Tensor:
        def one_seed(params: tuple, settings: list[torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
            with self.member_settings.applied(settings):  # each member's own values, 0-d
                return functional_call(module, dict(zip(self.names, params)), inputs)

        return vmap(one_seed, in_dims=(0, 0, *in_dims), randomness="different")(
            tuple(self.stacked), self.member_settings.active, *tensors)

    def vmapped_loss_terms(self, xs: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """(K, terms): each seed's ``loss_terms`` of its batch ``xs[k]`` through ``vmap``, from its training
        input ``inputs[k]`` where given."""
        if inputs is None:
            return self._call(self._terms, (0,), xs)
        return self._call(self._terms, (0, 0), xs, inputs)

    def configure_optimizers(self) -> torch.optim.Optimizer | dict:
        """Adam over the stacked parameters, with the models' learning-rate schedule: one that depends on
        the epoch alone (cosine) here, the same for every seed; a plateau schedule is each seed's own
        (``PlateauFactor``, applied by ``take_seed_step``)."""
        optimizer = adam(self.stacked.parameters(), self.lr)
        if self.plateaus is not None:  # one learning rate per seed: scaled updates (``take_seed_step``)
            return optimizer
        return with_schedule(optimizer, learning_rate_schedule(self.models[0].lr_schedule, optimizer,
                                                               self.trainer.max_epochs))

    def on_train_start(self) -> None:
        super().on_train_start()
        self._params = list(self.stacked)  # the same tensors all along: listed once, not every step
        self._factors()  # on the parameters' device

    def training_step(self, groups: list[torch.Tensor], call_index: int) -> None:
        params = self._params
        for xs in groups:  # xs: (K, B, ...); seeds do not interact: the summed loss gives each its own gradient
            inputs = None if self.draws is None else self.draws.inputs(xs, self.active)
            if self.batched is not None:
                with self.member_settings.applied():  # (K,) values where members set a penalty's setting apart
                    step_loss = self.batched.step_loss(params, xs, inputs)
                self.take_seed_step(*step_loss.roots(self._scales))
                terms = step_loss.terms()  # [(K,) per term]
            else:
                stacked = self.vmapped_loss_terms(xs, inputs)  # (K, terms): backward from their sum
                gradient = stacked.new_ones(()).expand_as(stacked)
                if self._scales is not None:  # each member's penalties by its scale
                    gradient = torch.cat([gradient[:, :stacked.shape[1] - self._scales.shape[1]],
                                          self._scales.to(stacked.dtype)], dim=1)
                self.take_seed_step([stacked], [gradient])
                terms = list(stacked.unbind(1))
            self.train_means.update(self._scaled(terms), weight=xs.shape[1])

    def take_seed_step(self, loss, gradients=None) -> None:
        """``take_step``; where members have their own learning rates (their own, or a plateau schedule),
        member k's update scaled by its factor f_k: Adam's update is proportional to its learning rate,
        so f_k p_new + (1 - f_k) p_old is the step Adam takes with f_k times the learning rate."""
        if self._lr_factors is None:
            self.take_step(loss, gradients)
            return
        with torch.no_grad():
            before = torch._foreach_mul(self._params, 1.0)
        self.take_step(loss, gradients)
        with torch.no_grad():
            factors, rest = self._factor_views
            torch._foreach_mul_(self._params, factors)
            torch._foreach_addcmul_(self._params, before, rest)

    def step_plateaus(self, losses: dict[int, float]) -> None:
        """Each active member's plateau schedule, by member index."""
        for member, loss in losses.items():
            self.plateaus[member].step(loss)
        self._factors()

    def on_train_epoch_end(self) -> None:
        with torch.no_grad():
            task = self.models[0].task
            for number, x in numbered_batches(self.trainer.datamodule.validation_batches()):
                inputs = task.test_input(x, number)  # one fixed task input per batch, shared by the members
                losses = self.batched.validation_loss(self._params, inputs, x) if self.batched is not None \
                    else self._call(self._validation, (None, None), inputs, x)
                self.val_means.update([losses], weight=x.shape[0])
        train, val = read_together((self.train_means, self.train_means.totals()),
                                   (self.val_means, self.val_means.totals()))  # one host sync
        empty = [{} for _ in self.active]
        train, val = train or empty, val or empty
        for row, member in enumerate(self.active):
            values = {**train[row], **val[row]}
            loss = values.get("train/loss")
            if loss is not None and not math.isfinite(loss) and member not in self.diverged:
                self.diverged[member] = f"TrainingDiverged: train/loss became {loss} in epoch {self.current_epoch}"
            for logger in self.epoch_loggers[member]:
                logger.log_metrics(values, step=self.current_epoch)
        if all("val/loss" in values for values in val):
            losses = {member: values["val/loss"] for member, values in zip(self.active, val)}
            self.select(losses)
            if self.plateaus is not None:
                self.step_plateaus(losses)
        self.retire([m for m in self.active if self.selection.stopped[m] or m in self.diverged])
        schedule = self.lr_schedulers()
        if schedule is not None:
            schedule.step()  # an epoch schedule, after validation as on the reference path

    def select(self, losses: dict[int, float]) -> None:
        """Keep each active member's weights of its best epoch so far (``losses`` by member index); stop
        once every member has stopped improving."""
        every = [losses.get(member, math.inf) for member in range(len(self.models))]  # retired ones have stopped
        improved = self.selection.update(self.current_epoch, every)
        rows = [(row, member) for row, member in enumerate(self.active) if improved[member]]
        if rows:
            self._keep(rows)
        if self.selection.all_stopped:
            self.trainer.should_stop = True

    def _keep(self, rows: list[tuple[int, int]]) -> None:
        """Copy the current weights of (row, member) pairs as those members' best."""
        with torch.no_grad():
            for name, stacked in zip(self.names, self.stacked):
                in_model_layout = self.batched.to_model(name, stacked) if self.batched is not None else stacked
                for row, member in rows:
                    kept = self.best[member].get(name)
                    if kept is None:  # the first improvement allocates; later ones copy into it
                        self.best[member][name] = in_model_layout[row].detach().clone()
                    else:
                        kept.copy_(in_model_layout[row])

    def retire(self, members: list[int]) -> None:
        """Take stopped (or diverged) members out of the stacked parameters, Adam's state and the batches,
        while others train on; a member that never improved keeps its last weights."""
        if not members or len(members) == len(self.active) and self.selection.all_stopped:
            return  # none stopped, or the fit ends now with every member in place
        self._keep([(self.active.index(m), m) for m in members if not self.best[m]])
        for member in members:
            self.selection.stopped[member] = True  # a diverged member trains no further either
        keep = [row for row, member in enumerate(self.active) if member not in members]
        if not keep:
            self.trainer.should_stop = True
            return
        self.active = [self.active[row] for row in keep]
        optimizer = self.optimizers()
        optimizer = getattr(optimizer, "optimizer", optimizer)
        with torch.no_grad():
            index = torch.tensor(keep, device=self.stacked[0].device)
            for param in self._params:
                param.data = param.data.index_select(0, index)
                param.grad = None
                for name, value in optimizer.state.get(param, {}).items():
                    if torch.is_tensor(value) and value.dim() > 0 and name != "step":
                        optimizer.state[param][name] = value.index_select(0, index)
        self.train_means.rows = self.val_means.rows = len(self.active)
        self.trainer.datamodule.retain(keep)
        self._factors()

    def unstack(self) -> list[Autoencoder]:
        """Each member's selected parameters (those of its best epoch on val/loss, else the last) written
        back into the K autoencoders."""
        with torch.no_grad():
            for member, model in enumerate(self.models):
                own = dict(model.named_parameters())
                for name, stacked in zip(self.names, self.stacked):
                    if self.batched is not None:
                        stacked = self.batched.to_model(name, stacked)
                    chosen = self.best[member].get(name)
                    if chosen is None:  # an active member that never improved: its last weights
                        chosen = stacked[self.active.index(member)]
                    own[name].copy_(chosen.to(own[name].device))
        return self.models


class SeedDataModule(L.LightningDataModule):
    """One split served to K seeds at once (train) and shared for validation."""

    def __init__(self, datamodule: AutoencoderDataModule, seeds: Sequence[int], steps_per_call: int):
        super().__init__()
        self.inner, self.seeds, self.steps_per_call = datamodule, list(seeds), steps_per_call

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        return batch

    def train_dataloader(self) -> SeedBatches:
        data = self.inner.resident("train", self.trainer.strategy.root_device)
        self.batches = SeedBatches(data, self.inner.batch_size, self.seeds, self.steps_per_call)
        return self.batches

    def retain(self, rows: list[int]) -> None:
        """Serve only these rows' members from the next epoch on (the others were retired)."""
        self.batches.retain(rows)

    def validation_batches(self) -> TensorBatches:
        """The inner datamodule's, on this trainer's device (where the val split stays between epochs)."""
        return self.inner.validation_batches(self.trainer.strategy.root_device)

