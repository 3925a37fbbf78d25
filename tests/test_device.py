import random

import numpy as np
import pytest
import torch

from lessons_pkg.device import describe_device, get_device, set_seed


def test_cpu_is_always_available():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_picks_an_available_device():
    device = get_device("auto")
    expected = "cuda" if torch.cuda.is_available() else device.type
    assert device.type == expected
    torch.zeros(1, device=device)  # usable
    assert device.type in describe_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_missing_cuda_says_why():
    with pytest.raises(ValueError, match="torch.cuda.is_available"):
        get_device("cuda")


def test_missing_mps_says_why():
    if torch.backends.mps.is_available():
        pytest.skip("MPS is present")
    with pytest.raises(ValueError, match="mps"):
        get_device("mps")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cpu:0", ""])
def test_unknown_name(bad):
    with pytest.raises(ValueError, match="name must be one of"):
        get_device(bad)


def test_wrong_type():
    with pytest.raises(TypeError, match="name must be a str"):
        get_device(0)


def test_set_seed_repeats_every_generator():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    set_seed(123)
    first = draw()
    set_seed(123)
    assert draw() == first
    set_seed(124)
    assert draw() != first


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                      ("1", TypeError), (True, TypeError)])
def test_set_seed_rejects_bad_seed(bad, exc):
    with pytest.raises(exc, match="seed must"):
        set_seed(bad)
