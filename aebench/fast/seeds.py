"""Several seeds of one combination trained together as one vectorised model.

The K autoencoders (one per seed, each initialised as its own run would be) have their
parameters stacked along a new first axis (``torch.func.stack_module_state``); one step runs
all of them at once, each on its own shuffled mini-batch: fully connected models as batched
matrix products (``aebench.fast.seed_batched``), the others with ``torch.func.vmap`` over
``functional_call``. The seeds stay independent: the gradient of the summed losses with respect to seed
k's parameters is seed k's own gradient, and Adam acts elementwise. Random corruption draws
differ between seeds (``randomness="different"``), so a seed's numbers are its own, though not
bit for bit those of a run trained alone.
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
from aebench.fast.seed_batched import SeedBatchedAutoencoder
from aebench.fast.steps import ManualStepModule
from aebench.models.autoencoder import Autoencoder, adam
from aebench.models.schedules import PlateauFactor, learning_rate_schedule, with_schedule


class _LossTerms(nn.Module):
    """``torch.stack(model.loss_terms(x))`` as a forward pass, for ``functional_call``. Only the
    encoder, bottleneck and decoder are registered here, so each call walks them alone (not the test metrics)."""

    def __init__(self, model: Autoencoder):
        super().__init__()
        self.encoder, self.bottleneck, self.decoder = model.encoder, model.bottleneck, model.decoder  # its own
        object.__setattr__(self, "model", model)  # unregistered: its methods run on the swapped modules

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack(self.model.loss_terms(x))


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


class SeedEnsemble(ManualStepModule):
    """K copies of one autoencoder with stacked parameters; ``unstack()`` writes them back."""

    def __init__(self, models: Sequence[Autoencoder], seeds: Sequence[int], patience: int | None = None):
        super().__init__()
        self.models, self.seeds = list(models), list(seeds)
        # each seed's best epoch on val/loss and its early stop, as a run alone (aebench.evaluate.selection)
        self.selection = BestEpochs(len(self.seeds), patience)
        self.best: list[dict[str, torch.Tensor]] = [{} for _ in self.seeds]
        # a plateau schedule follows each seed's own val/loss: a learning-rate factor per seed, applied to its update
        self.plateaus = [PlateauFactor() for _ in self.seeds] if models[0].lr_schedule == "plateau" else None
        self._lr_factors: torch.Tensor | None = None  # (K,), while some seed's factor is below 1
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
        self.lr = template.lr
        self.train_means = EpochMeans(template.term_names, rows=len(self.seeds))
        self.val_means = EpochMeans(["val/loss"], rows=len(self.seeds))
        self.epoch_loggers: list[list] = [[] for _ in self.seeds]  # each seed's own run
        self.diverged: dict[int, str] = {}

    def _call(self, module: nn.Module, in_dims: tuple, *tensors: torch.Tensor) -> torch.Tensor:
        def one_seed(params: tuple, *inputs: torch.Tensor) -> torch.Tensor:
            return functional_call(module, dict(zip(self.names, params)), inputs)

        return vmap(one_seed, in_dims=(0, *in_dims), randomness="different")(tuple(self.stacked), *tensors)

    def vmapped_loss_terms(self, xs: torch.Tensor) -> torch.Tensor:
        """(K, terms): each seed's ``loss_terms`` of its batch ``xs[k]`` through ``vmap``."""
        return self._call(self._terms, (0,), xs)

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

    def training_step(self, groups: list[torch.Tensor], call_index: int) -> None:
        params = self._params
        for xs in groups:  # xs: (K, B, ...); seeds do not interact: the summed loss gives each its own gradient
            if self.batched is not None:
                step_loss = self.batched.step_loss(params, xs)
                self.take_seed_step(*step_loss.roots())
                terms = step_loss.terms()  # [(K,) per term]
            else:
                stacked = self.vmapped_loss_terms(xs)  # (K, terms): backward from their sum
                self.take_seed_step([stacked], [stacked.new_ones(()).expand_as(stacked)])
                terms = stacked.unbind(1)
            self.train_means.update(terms, weight=xs.shape[1])

    def take_seed_step(self, loss, gradients=None) -> None:
        """``take_step``; where seeds have their own learning rates (a plateau schedule), seed k's update
        scaled by its factor f_k: Adam's update is proportional to its learning rate, so
        p_old + f_k (p_new - p_old) is the step Adam takes with f_k times the learning rate."""
        if self._lr_factors is None:
            self.take_step(loss, gradients)
            return
        before = [p.detach().clone() for p in self._params]
        self.take_step(loss, gradients)
        with torch.no_grad():
            for param, old in zip(self._params, before):
                factor = self._lr_factors.view(-1, *([1] * (param.dim() - 1))).to(param.dtype)
                param.copy_(torch.addcmul(old, factor, param - old))

    def step_plateaus(self, losses: list[float]) -> None:
        for plateau, loss in zip(self.plateaus, losses):
            plateau.step(loss)
        factors = [plateau.factor for plateau in self.plateaus]
        self._lr_factors = None if all(f == 1.0 for f in factors) else \
            torch.tensor(factors, device=self._params[0].device)

    def on_train_epoch_end(self) -> None:
        with torch.no_grad():
            task = self.models[0].task
            for number, x in numbered_batches(self.trainer.datamodule.validation_batches()):
                inputs = task.test_input(x, number)  # one fixed task input per batch, shared by the seeds
                losses = self.batched.validation_loss(self._params, inputs, x) if self.batched is not None \
                    else self._call(self._validation, (None, None), inputs, x)
                self.val_means.update([losses], weight=x.shape[0])
        train, val = read_together((self.train_means, self.train_means.totals()),
                                   (self.val_means, self.val_means.totals()))  # one host sync
        empty = [{} for _ in self.seeds]
        train, val = train or empty, val or empty
        for index, seed in enumerate(self.seeds):
            values = {**train[index], **val[index]}
            loss = values.get("train/loss")
            if loss is not None and not math.isfinite(loss) and seed not in self.diverged:
                self.diverged[seed] = f"TrainingDiverged: train/loss became {loss} in epoch {self.current_epoch}"
            for logger in self.epoch_loggers[index]:
                logger.log_metrics(values, step=self.current_epoch)
        if all("val/loss" in values for values in val):
            self.select([values["val/loss"] for values in val])
            if self.plateaus is not None:
                self.step_plateaus([values["val/loss"] for values in val])
        schedule = self.lr_schedulers()
        if schedule is not None:
            schedule.step()  # an epoch schedule, after validation as on the reference path

    def select(self, losses: list[float]) -> None:
        """Keep each seed's weights of its best epoch so far; stop once every seed has stopped improving."""
        improved = self.selection.update(self.current_epoch, losses)
        if any(improved):
            with torch.no_grad():
                for name, stacked in zip(self.names, self.stacked):
                    in_model_layout = self.batched.to_model(name, stacked) if self.batched is not None else stacked
                    for index in (i for i, better in enumerate(improved) if better):
                        kept = self.best[index].get(name)
                        if kept is None:  # the first improvement allocates; later ones copy into it
                            self.best[index][name] = in_model_layout[index].detach().clone()
                        else:
                            kept.copy_(in_model_layout[index])
        if self.selection.all_stopped:
            self.trainer.should_stop = True

    def unstack(self) -> list[Autoencoder]:
        """Each seed's selected parameters (those of its best epoch on val/loss, else the last) written
        back into the K autoencoders."""
        with torch.no_grad():
            for index, model in enumerate(self.models):
                own = dict(model.named_parameters())
                for name, stacked in zip(self.names, self.stacked):
                    if self.batched is not None:
                        stacked = self.batched.to_model(name, stacked)
                    chosen = self.best[index].get(name, stacked[index])
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
        return SeedBatches(data, self.inner.batch_size, self.seeds, self.steps_per_call)

    def validation_batches(self) -> TensorBatches:
        """The inner datamodule's, on this trainer's device (where the val split stays between epochs)."""
        return self.inner.validation_batches(self.trainer.strategy.root_device)

