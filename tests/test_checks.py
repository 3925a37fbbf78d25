"""The shared argument checks: TypeError for a wrong type, ValueError for a wrong value, and a
message that names the argument, the expectation and what came."""

import math

import pytest
import torch

from lessons_pkg import _checks as c


@pytest.mark.parametrize("value, exc, text", [
    (1.0, TypeError, "n must be an int, got float"),
    (True, TypeError, "n must be an int, got bool"),
    ("3", TypeError, "n must be an int, got str"),
    (0, ValueError, "n must be a positive int, got 0"),
])
def test_positive_int_rejects(value, exc, text):
    with pytest.raises(exc, match=text):
        c.check_positive_int("n", value)


def test_int_bounds_and_pass_through():
    assert c.check_int("k", 3, minimum=0, maximum=3) == 3
    assert c.check_positive_int("k", None, optional=True) is None
    with pytest.raises(ValueError, match="k must be an int >= 2, got 1"):
        c.check_int("k", 1, minimum=2)
    with pytest.raises(ValueError, match="k must be an int <= 3, got 4"):
        c.check_int("k", 4, maximum=3)


def test_seed_bounds():
    assert c.check_seed("seed", 2**32 - 1) == 2**32 - 1
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\), got -1"):
        c.check_seed("seed", -1)
    with pytest.raises(TypeError, match="seed must be an int"):
        c.check_seed("seed", 1.0)


@pytest.mark.parametrize("value, exc, text", [
    (1.5, ValueError, r"top_p must be a number in \(0, 1\], got 1.5"),
    (0.0, ValueError, r"top_p must be a number in \(0, 1\], got 0.0"),
    (math.nan, ValueError, "got nan"),
    (True, TypeError, "top_p must be a number, got bool"),
    ("0.5", TypeError, "top_p must be a number, got str"),
])
def test_number_in_an_interval(value, exc, text):
    with pytest.raises(exc, match=text):
        c.check_number("top_p", value, low=0, high=1, low_open=True)


def test_number_one_sided_and_probability():
    assert c.check_number("lr", 1, low=0, low_open=True) == 1.0
    with pytest.raises(ValueError, match="lr must be a number > 0, got 0"):
        c.check_number("lr", 0, low=0, low_open=True)
    with pytest.raises(ValueError, match="x must be a finite number, got inf"):
        c.check_number("x", math.inf)
    assert c.check_probability("p", 0.0) == 0.0
    with pytest.raises(ValueError, match=r"p must be a number in \(0, 1\]"):
        c.check_probability("p", 0.0, open_low=True)


def test_choice_tensor_ids_and_generator():
    assert c.check_choice("reduction", "mean", ("mean", "sum")) == "mean"
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum'\), got 'avg'"):
        c.check_choice("reduction", "avg", ("mean", "sum"))
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        c.check_tensor("x", [1.0])
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        c.check_tensor("x", torch.ones(2, dtype=torch.long), floating=True)
    with pytest.raises(ValueError, match=r"x must have 2 or 3 dimensions, got shape \(4,\)"):
        c.check_tensor("x", torch.ones(4), ndim=(2, 3))
    with pytest.raises(TypeError, match="ids must be an integer tensor"):
        c.check_token_ids("ids", torch.ones(3), 10)
    with pytest.raises(ValueError, match=r"ids must hold token ids in \[0, 10\), got values in "
                                         r"\[0, 10\]"):
        c.check_token_ids("ids", torch.tensor([0, 10]), 10)
    g = torch.Generator()
    assert c.check_generator("generator", g) is g and c.check_generator("generator", None) is None
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got int"):
        c.check_generator("generator", 0)


def test_int_sequence():
    assert c.check_int_sequence("hidden", (4, 2)) == [4, 2]
    assert c.check_int_sequence("hidden", []) == []
    with pytest.raises(TypeError, match="hidden must be a sequence of ints, got int"):
        c.check_int_sequence("hidden", 4)
    with pytest.raises(TypeError, match="hidden must be a sequence of ints, got str"):
        c.check_int_sequence("hidden", "44")
    with pytest.raises(ValueError, match="channels must hold 3 ints, got 2"):
        c.check_int_sequence("channels", [1, 2], length=3)
    with pytest.raises(ValueError, match="sizes must hold at least 2 ints, got 1"):
        c.check_int_sequence("sizes", [3], min_length=2)
    with pytest.raises(ValueError, match="n_outs must hold at least 1 int, got 0"):
        c.check_int_sequence("n_outs", [], min_length=1)
    with pytest.raises(ValueError, match=r"sizes\[1\] must be a positive int, got 0"):
        c.check_int_sequence("sizes", [3, 0])
    with pytest.raises(TypeError, match=r"sizes\[0\] must be an int, got float"):
        c.check_int_sequence("sizes", [3.0])


def test_same_shape():
    c.check_same_shape("a", torch.zeros(2, 3), "b", torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"mu and logvar must have the same shape, got \(2, 3\) "
                                         r"and \(3,\)"):
        c.check_same_shape("mu", torch.zeros(2, 3), "logvar", torch.zeros(3))


def test_token_batch():
    ids = torch.tensor([[0, 4, 2]])
    assert c.check_token_batch("ids", ids, 5, context_length=3) is ids
    with pytest.raises(TypeError, match="ids must be a torch.Tensor, got list"):
        c.check_token_batch("ids", [[0]], 5)
    with pytest.raises(TypeError, match="ids must be an integer tensor, got dtype torch.float32"):
        c.check_token_batch("ids", ids.float(), 5)
    with pytest.raises(TypeError, match="ids must be an int64 or int32 tensor of token ids, got "
                                        "dtype torch.int16"):
        c.check_token_batch("ids", ids.short(), 5)
    with pytest.raises(ValueError, match=r"ids must have 2 dimensions, got shape \(3,\)"):
        c.check_token_batch("ids", ids[0], 5)
    with pytest.raises(ValueError, match=r"ids has length 3 > context_length \(2\)"):
        c.check_token_batch("ids", ids, 5, context_length=2)
    with pytest.raises(ValueError, match=r"ids must hold token ids in \[0, 4\), got values in "
                                         r"\[0, 4\]"):
        c.check_token_batch("ids", ids, 4)


def test_shape():
    x = torch.zeros(2, 1, 8, 8)
    assert c.check_shape("x", x, ("B", 1, 8, 8), floating=True) is x
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 8, 8\), got \(2, 1, 7, 7\)"):
        c.check_shape("x", torch.zeros(2, 1, 7, 7), ("B", 1, 8, 8))
    with pytest.raises(ValueError, match=r"z must have shape \(B, 3\), got \(4,\)"):
        c.check_shape("z", torch.zeros(4), ("B", 3))
    with pytest.raises(ValueError, match=r"p must have shape \(5,\), got \(4,\)"):
        c.check_shape("p", torch.zeros(4), (5,))
    with pytest.raises(TypeError, match="z must be a torch.Tensor, got list"):
        c.check_shape("z", [1.0], ("B", 3))
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        c.check_shape("x", torch.zeros(2, 3, dtype=torch.long), ("B", 3), floating=True)
