"""Datasets, the seeded split and device-resident batches."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from aebench.data import AutoencoderDataModule, list_datasets, load_dataset, seeded_split
from aebench.data.batches import TensorBatches, numbered_batches
from aebench.errors import ConfigError


def test_bundled_datasets_are_listed_and_unknown_names_fail_with_the_list():
    assert list_datasets() == ["breast_cancer", "cifar10", "digits", "fashion_mnist", "images", "kmnist", "mnist",
                               "movielens", "npy", "patches", "synthetic_lowrank", "synthetic_manifold",
                               "synthetic_ratings", "wine"]
    with pytest.raises(ConfigError, match="name='svhn' is not allowed: one of breast_cancer, cifar10, digits"):
        load_dataset("svhn")
    with pytest.raises(ConfigError, match="rank=2 .*not an option of dataset digits"):
        load_dataset("digits", rank=2)


def test_digits_are_images_in_unit_range_with_labels():
    data = load_dataset("digits")
    assert data.x.shape == (1797, 1, 8, 8) and data.x.dtype == torch.float32
    assert data.x.min() == 0 and data.x.max() == 1 and data.is_image and data.unit_range
    assert data.labels.shape == (1797,) and set(data.labels.tolist()) == set(range(10))


def test_synthetic_lowrank_lies_on_its_subspace():
    data = load_dataset("synthetic_lowrank", n_samples=500, dim=32, rank=4, noise_std=0.0)
    x = data.x.double()
    singular = torch.linalg.svdvals(x - x.mean(0))
    assert singular[4] < 1e-6 * singular[0]  # rank 4 exactly without noise
    train = AutoencoderDataModule(data).inputs("train")  # scaled onto [0, 1] by the train split's extremes
    assert train.min() == 0 and train.max() == 1 and not data.is_image and data.labels is None
    noisy = load_dataset("synthetic_lowrank", n_samples=500, dim=32, rank=4, noise_std=0.02).x.double()
    singular = torch.linalg.svdvals(noisy - noisy.mean(0))
    assert (singular[:4] ** 2).sum() / (singular ** 2).sum() > 0.99
    again = load_dataset("synthetic_lowrank", n_samples=500, dim=32, rank=4, noise_std=0.02).x
    assert torch.equal(again, noisy.float())


def test_split_is_disjoint_complete_and_seeded():
    split = seeded_split(1000, split_seed=3, val_fraction=0.1, test_fraction=0.2)
    everything = torch.cat([split.train, split.val, split.test])
    assert sorted(everything.tolist()) == list(range(1000))
    assert (len(split.train), len(split.val), len(split.test)) == (700, 100, 200)
    same = seeded_split(1000, split_seed=3, val_fraction=0.1, test_fraction=0.2)
    assert torch.equal(same.test, split.test)
    assert not torch.equal(seeded_split(1000, 4, 0.1, 0.2).test, split.test)


@pytest.mark.parametrize("val,test", [(0.0, 0.2), (0.5, 0.5), (0.1, 1.0), (0.1, -0.1)])
def test_split_fractions_out_of_range_fail(val, test):
    with pytest.raises(ConfigError):
        seeded_split(100, 0, val, test)


def everything(batches: TensorBatches) -> torch.Tensor:
    """All samples of one pass, in the order served (groups of mini-batches flattened)."""
    return torch.cat([batch for _, batch in numbered_batches(batches)])


def test_batches_cover_every_sample_once_per_epoch_in_a_new_order():
    data = torch.arange(103).float().unsqueeze(1)
    batches = TensorBatches(data, batch_size=10, shuffle=True, seed=0)
    assert len(batches) == 11
    first = everything(batches).squeeze(1)
    second = everything(batches).squeeze(1)
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(103))
    assert not torch.equal(first, second)
    replay = everything(TensorBatches(data, batch_size=10, shuffle=True, seed=0)).squeeze(1)
    assert torch.equal(replay, first)


def test_batches_come_in_groups_of_steps_per_call():
    data = torch.arange(103).float().unsqueeze(1)
    groups = list(TensorBatches(data, batch_size=10, shuffle=False, group=4))
    assert [len(group) for group in groups] == [4, 4, 3] and len(TensorBatches(data, 10, shuffle=False, group=4)) == 3
    assert [len(batch) for batch in groups[-1]] == [10, 10, 3]


def test_grouped_batches_follow_the_seeded_permutation():
    """A group is gathered at once and cut into views: the batches are the seeded order, cut every 10."""
    data = torch.arange(103 * 2).float().view(103, 2)
    groups = list(TensorBatches(data, batch_size=10, shuffle=True, seed=3, group=4))
    order = torch.randperm(103, generator=torch.Generator().manual_seed(3))
    assert [[len(batch) for batch in group] for group in groups] == [[10] * 4, [10] * 4, [10, 10, 3]]
    assert torch.equal(torch.cat([batch for group in groups for batch in group]), data[order])


def test_uint8_images_are_served_as_floats_in_unit_range():
    data = torch.tensor([[0, 51, 255]], dtype=torch.uint8).repeat(5, 1)
    (batch,) = list(TensorBatches(data, batch_size=5, shuffle=False))
    assert batch.dtype == torch.float32 and batch[0].tolist() == pytest.approx([0.0, 0.2, 1.0])


def test_evaluation_batches_are_in_order():
    data = torch.arange(25).float().unsqueeze(1)
    assert torch.equal(everything(TensorBatches(data, 10, shuffle=False)), data)


def test_data_parallel_shards():
    data = torch.arange(103).float().unsqueeze(1)
    train = [everything(TensorBatches(data, 8, shuffle=True, seed=1, rank=r, world_size=2)) for r in (0, 1)]
    assert len(train[0]) == len(train[1]) == 51  # equal steps on every process
    assert not set(train[0].flatten().tolist()) & set(train[1].flatten().tolist())
    test = [everything(TensorBatches(data, 8, shuffle=False, rank=r, world_size=2, drop_uneven=False)) for r in (0, 1)]
    assert sorted(torch.cat(test).flatten().tolist()) == list(range(103))  # each sample exactly once


def test_datamodule_serves_its_split():
    module = AutoencoderDataModule(load_dataset("digits"), batch_size=100, split_seed=0)
    assert torch.equal(everything(module.test_dataloader()), module.inputs("test"))
    assert module.labels("test").shape == (len(module.split.test),)
    assert np.isclose(len(module.split.train) / 1797, 0.7, atol=0.01)


def test_numbered_test_batches_are_what_the_test_step_sees(make_config):
    """A task that scores the whole test split afterwards (denoise, dewatermark, the PCA baseline) corrupts
    batch i as the test step did: the same batches, in groups of steps_per_call, with the same numbers."""
    from aebench.run.plan import plan_run

    plan = plan_run(make_config("trainer.batch_size=50", "trainer.steps_per_call=2"))
    seen, task_input = [], plan.model.task.test_input

    def recording(x, index):
        seen.append((index, x.clone()))
        return task_input(x, index)

    plan.model.task.test_input = recording
    plan.trainer.test(plan.model, datamodule=plan.datamodule, verbose=False)
    expected = plan.datamodule.numbered_test_batches()
    assert len(expected) > 4 and expected[-1][1].shape[0] < 50  # several groups, a short last batch
    assert [index for index, _ in seen] == [index for index, _ in expected]
    for (_, batch), (_, same) in zip(seen, expected):
        assert torch.equal(batch, same)


@pytest.mark.parametrize("name", ["synthetic_lowrank", "synthetic_manifold"])
def test_synthetic_data_is_scaled_with_the_train_split_alone(name):
    """The affine map onto [0, 1] is fitted on the train split: its extremes land on 0 and 1, and
    what the val and test samples hold does not move it."""
    arrays = load_dataset(name)
    train = AutoencoderDataModule(arrays).inputs("train")
    assert train.min().item() == 0.0 and train.max().item() == pytest.approx(1.0, abs=1e-6)
    split = AutoencoderDataModule(arrays).split
    x = arrays.x.clone()
    x[split.test] = x[split.test] * 100 + 5
    assert torch.equal(AutoencoderDataModule(replace(arrays, x=x)).inputs("train"), train)
