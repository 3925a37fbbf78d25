"""The tiny data set, loaders and model that the tests of training and checkpoint share."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

N_ROWS, BATCH = 40, 8  # five batches per epoch


def _dataset(n=N_ROWS, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g, dtype=dtype)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return TensorDataset(x, y)


def _loader(dataset=None, seed=1, seeded=True, shuffle=True, batch_size=BATCH):
    generator = torch.Generator().manual_seed(seed) if seeded else None
    return DataLoader(
        dataset if dataset is not None else _dataset(),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
    )


def _model(dropout=0.3, dtype=torch.float32):
    torch.manual_seed(0)
    layers = [nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2)]
    return nn.Sequential(*layers).to(dtype)


def _loss(model, batch):
    x, y = batch
    return F.cross_entropy(model(x), y)


def _assert_same_weights(a: nn.Module, b: nn.Module):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def _assert_same_optimizer(a: torch.optim.Optimizer, b: torch.optim.Optimizer):
    sa, sb = a.state_dict()["state"], b.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for index in sa:
        for name, value in sa[index].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(sb[index][name])), name
