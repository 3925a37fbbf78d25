"""Tests for training at scale on one process: mixed precision and gradient accumulation in fit,
activation checkpointing in the GPT, and lessons_pkg.memory."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from fit_helpers import _assert_same_weights, _dataset, _loader, _loss, _model

from lessons_pkg.gpt import GPT, GPTConfig, lm_loss
from lessons_pkg.memory import MemoryTracker, activation_bytes, training_memory
from lessons_pkg.training import fit

# ------------------------------------------------------------------------------ mixed precision


def _train(precision, steps=60, log_every=5, **kwargs):
    model = _model(dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    history = fit(model, _loader(), loss_fn=_loss, optimizer=optimizer, max_steps=steps,
                  precision=precision, progress=False, log_every=log_every,
                  **kwargs)  # fmt: skip
    return model, history


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_reaches_the_float32_loss(precision):
    _, full = _train(None)
    model, mixed = _train(precision)
    assert full.train["loss"][-1] < 0.25  # the task is learnt
    assert abs(mixed.train["loss"][-1] - full.train["loss"][-1]) < 0.03
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    assert ("loss_scale" in mixed.train) == (precision == "fp16")


def test_autocast_runs_the_model_in_the_asked_dtype():
    seen = []

    def loss_fn(model, batch):
        logits = model(batch[0])
        seen.append(logits.dtype)
        return F.cross_entropy(logits.float(), batch[1])

    model = _model(dropout=0.0)
    fit(model, _loader(), loss_fn=loss_fn, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        max_steps=1, precision="bf16", progress=False)  # fmt: skip
    assert seen == [torch.bfloat16]


def _overflowing_loss(model, batch):
    # The gradient of the sum is 1 per float16 output; times the scaler's initial 2**16 it is
    # 65536, above float16's largest number (65504): inf.
    return model(batch[0]).sum()


def test_the_scaler_skips_an_overflowing_step_and_halves_its_scale():
    model = _model(dropout=0.0)
    before = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, _loader(), loss_fn=_overflowing_loss, optimizer=optimizer, max_steps=1,
                  precision="fp16", progress=False)  # fmt: skip
    _assert_same_weights(model, before)  # the update was skipped
    assert history.train["loss_scale"] == [2.0**15]

    calls = []

    def overflow_once(model, batch):
        calls.append(1)
        return _overflowing_loss(model, batch) if len(calls) == 1 else _loss(model, batch)

    history = fit(model, _loader(), loss_fn=overflow_once, optimizer=optimizer, max_steps=2,
                  precision="fp16", progress=False, clip_grad_norm=1.0)  # fmt: skip
    assert history.train["loss_scale"] == [2.0**15, 2.0**15]  # the second step is taken
    assert not math.isfinite(history.train["grad_norm"][0])  # logged, not raised: skipped
    changed = [not torch.equal(a, b) for a, b in zip(model.parameters(), before.parameters(),
                                                      strict=True)]  # fmt: skip
    assert any(changed)


def test_the_scaler_state_is_saved_and_resumed(tmp_path):
    full_model, full = _train("fp16", steps=8, log_every=1)
    path = tmp_path / "run.pt"
    _train("fp16", steps=3, log_every=1, checkpoint_path=path)
    model, resumed = _train("fp16", steps=8, log_every=1, checkpoint_path=path, resume=True)
    _assert_same_weights(model, full_model)
    assert resumed.train == full.train


# ------------------------------------------------------------------------ gradient accumulation


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
def test_accumulated_micro_batches_equal_one_larger_batch(optimizer_name):
    """40 rows: micro-batches of 8 in groups of 2 (8 + 8, 8 + 8, 8) against batches of 16, 16, 8,
    so the last update of each epoch is over what is left; 5 updates cross an epoch boundary."""
    data = _dataset(dtype=torch.float64)

    def run(batch_size, accumulation_steps):
        model = _model(dropout=0.0, dtype=torch.float64)
        if optimizer_name == "SGD":
            optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        else:
            optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        history = fit(model, _loader(data, shuffle=False, batch_size=batch_size), loss_fn=_loss,
                      optimizer=optimizer, max_steps=5, accumulation_steps=accumulation_steps,
                      progress=False)  # fmt: skip
        return model, history

    big, big_history = run(16, 1)
    micro, micro_history = run(8, 2)
    for a, b in zip(micro.parameters(), big.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert micro_history.steps == big_history.steps == [1, 2, 3, 4, 5]
    # The logged loss is the mean of the micro-batches' losses: the big batch's loss, except for
    # the last group, where both are the loss of the one batch of 8 left.
    torch.testing.assert_close(micro_history.train["loss"], big_history.train["loss"],
                               rtol=0, atol=1e-12)  # fmt: skip


def test_accumulation_counts_updates_and_resumes_exactly(tmp_path):
    def run(steps, **kwargs):
        model = _model()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        fit(model, _loader(), loss_fn=_loss, optimizer=optimizer, max_steps=steps,
            accumulation_steps=2, progress=False, **kwargs)  # fmt: skip
        return model, optimizer

    full, _ = run(7)
    path = tmp_path / "run.pt"
    run(4, checkpoint_path=path)
    resumed, _ = run(7, checkpoint_path=path, resume=True)
    _assert_same_weights(resumed, full)
    model = _model()
    history = fit(model, _loader(), loss_fn=_loss, optimizer=torch.optim.SGD(model.parameters(),
                  lr=0.1), epochs=2, accumulation_steps=2, progress=False)  # fmt: skip
    assert history.steps == [1, 2, 3, 4, 5, 6]  # 5 batches per epoch: 3 updates


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"precision": "fp32"}, ValueError, r"precision must be one of \(None, 'bf16', 'fp16'\)"),
        ({"precision": 16}, TypeError, "precision must be None or a str, got int"),
        ({"accumulation_steps": 0}, ValueError, "accumulation_steps must be a positive int"),
        ({"accumulation_steps": 2.0}, TypeError, "accumulation_steps must be an int, got float"),
        ({"precision": "bf16", "loss_fn": None, "train_step": lambda m, b: {"loss": 0.0}},
         ValueError, "precision and accumulation_steps work with loss_fn only"),
    ],
)
def test_fit_rejects_bad_precision_and_accumulation(overrides, error, match):
    model = _model()
    kwargs = {"loss_fn": _loss, "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
              "max_steps": 1, "progress": False, **overrides}  # fmt: skip
    if "train_step" in overrides:
        kwargs["optimizer"] = None
    with pytest.raises(error, match=match):
        fit(model, _loader(), **kwargs)


# ----------------------------------------------------------------------- activation checkpointing


def _gpt(checkpointing, n_layers=4, dropout=0.1):
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=11, context_length=16, d_model=32, n_heads=4,
                       n_layers=n_layers, dropout=dropout)  # fmt: skip
    return GPT(config, activation_checkpointing=checkpointing).double()


def _lm_step(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 11, (8, 17), generator=g)
    torch.manual_seed(1)  # the dropout masks
    loss = lm_loss(model(ids[:, :-1]), ids[:, 1:])
    loss.backward()
    return loss


def test_activation_checkpointing_gives_the_same_loss_and_gradients():
    plain, checkpointed = _gpt(False), _gpt(True)
    loss_plain, loss_ckpt = _lm_step(plain), _lm_step(checkpointed)
    torch.testing.assert_close(loss_ckpt, loss_plain, rtol=0, atol=1e-12)
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=0, atol=1e-12, msg=name)


def test_activation_checkpointing_lowers_the_peak_memory_of_a_step():
    peaks = {}
    for checkpointing in (False, True):
        model = _gpt(checkpointing, n_layers=6, dropout=0.0)
        with MemoryTracker() as tracker:
            _lm_step(model)
        peaks[checkpointing] = tracker.peak
    assert peaks[True] < 0.6 * peaks[False]


def test_activation_checkpointing_is_off_outside_training_and_checked():
    model = _gpt(True, dropout=0.0).eval()
    ids = torch.randint(0, 11, (2, 5))
    torch.testing.assert_close(model(ids), _gpt(False, dropout=0.0)(ids))
    out = model.generate(ids, 3, temperature=0.0)  # the KV cache path ignores the flag
    assert out.shape == (2, 8)
    with pytest.raises(TypeError, match="activation_checkpointing must be a bool, got str"):
        GPT(model.config, activation_checkpointing="yes")


# ---------------------------------------------------------------------------------- memory


def test_memory_tracker_counts_live_storages_once(device):
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
    with MemoryTracker() as tracker:
        a = torch.zeros(1024, device=device)  # 4 KiB
        b = torch.zeros(512, device=device)  # 2 KiB
        view = a[1:]  # shares a's storage: not counted again
        del a
        assert tracker.current == 6144
        del view  # now a's storage is freed
        c = torch.zeros(2048, device=device)  # 8 KiB
        assert tracker.current == 10240
        del b, c
    assert (tracker.peak, tracker.current) == (10240, 0)
    if device.type == "cuda":  # the reference: CUDA's own allocator statistics
        assert torch.cuda.max_memory_allocated() - start == tracker.peak


def test_memory_tracker_sees_backward_and_the_optimizer():
    model = torch.nn.Linear(256, 256)  # 257 · 256 · 4 bytes of parameters
    optimizer = torch.optim.Adam(model.parameters())
    with MemoryTracker() as tracker:
        model(torch.randn(4, 256)).sum().backward()
        optimizer.step()
    params = 257 * 256 * 4
    assert tracker.current >= 3 * params  # gradients and Adam's two moments stay alive


def test_training_memory_reproduces_the_zero_paper():
    """Rajbhandari et al. (2020), Figure 1: Ψ = 7.5 B parameters, 64 data-parallel GPUs."""
    gb = [training_memory(7.5e9, zero_stage=s, data_parallel=64) for s in range(4)]
    assert [round(m.total / 1e9, 1) for m in gb] == [120.0, 31.4, 16.6, 1.9]
    base = gb[0]
    assert (base.weights, base.gradients, base.optimizer_states) == (15e9, 15e9, 90e9)
    split = training_memory(8e9, model_parallel=8, activations=5.0)
    assert split.total == 16e9 + 5.0


def test_activation_bytes_follows_korthikanti_et_al():
    s, b, h, a, L = 2048, 1, 12288, 96, 96  # GPT-3 175B, one sequence
    per_layer = s * b * h * (34 + 5 * a * s / h)
    assert activation_bytes(s, b, h, a, L) == L * per_layer
    assert activation_bytes(s, b, h, a, L, tensor_parallel=8) == L * s * b * h * (
        10 + 24 / 8 + 5 * a * s / (h * 8))
    assert activation_bytes(s, b, h, a, L, recompute=True) == L * 2 * s * b * h


def test_memory_arithmetic_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"zero_stage must be one of \(0, 1, 2, 3\), got 4"):
        training_memory(1e9, zero_stage=4)
    with pytest.raises(ValueError, match="data_parallel must be a positive int, got 0"):
        training_memory(1e9, data_parallel=0)
    with pytest.raises(ValueError, match="model_parallel must be a positive int, got 0"):
        training_memory(1e9, model_parallel=0)
    with pytest.raises(TypeError, match="seq_len must be an int, got float"):
        activation_bytes(2.0, 1, 8, 2, 1)
