"""Shared fixtures: the ``device`` fixture adds CUDA when a GPU is present."""

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Seed torch, and use one CPU thread: the unit tests' tensors are tiny, and one thread is
    faster for them (much faster when other processes share the cores)."""
    torch.manual_seed(0)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
