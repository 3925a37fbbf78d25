"""Tests for lessons_pkg.training: fit against a hand-written loop, its behaviour, errors.

Exact resume and checkpoint files are tested in test_checkpoint.py."""

import copy
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
import torch.nn.functional as F
from fit_helpers import _assert_same_weights, _dataset, _loader, _loss, _model
from torch.utils.data import DataLoader, TensorDataset

from lessons_pkg.training import History, evaluate, fit, progress

# --------------------------------------------------------------------------------- reference


def test_fit_equals_hand_written_loop(device):
    model = _model(dropout=0.0, dtype=torch.float64)
    reference = copy.deepcopy(model).to(device)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    ref_losses = []
    ref_loader = _loader(_dataset(dtype=torch.float64), seed=3)
    for _ in range(2):
        for x, y in ref_loader:
            ref_opt.zero_grad()
            loss = F.cross_entropy(reference(x.to(device)), y.to(device))
            loss.backward()
            ref_opt.step()
            ref_losses.append(loss.item())
    # The same batch order: a loader with a generator seeded alike.
    loader = _loader(_dataset(dtype=torch.float64), seed=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = fit(
        model, loader, loss_fn=_loss, optimizer=optimizer, epochs=2, device=str(device),
        progress=False,
    )  # fmt: skip
    assert next(model.parameters()).device.type == device.type
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)
    assert history.steps == list(range(1, 11))
    torch.testing.assert_close(history.train["loss"], ref_losses, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_loss_stops_before_the_update_and_names_the_step(bad):
    model = _model(dropout=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    snapshots = []

    def loss_fn(model, batch):
        snapshots.append(copy.deepcopy(model.state_dict()))
        loss = _loss(model, batch)
        return loss * bad if len(snapshots) == 3 else loss

    with pytest.raises(FloatingPointError, match=rf"loss is {bad} at step 3 \(epoch 1, batch 3\)"):
        fit(model, _loader(), loss_fn=loss_fn, optimizer=optimizer, epochs=1, progress=False)
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][key])  # the weights of step 2, not updated


def test_non_finite_train_step_value_names_key_and_step():
    def train_step(model, batch):
        return {"g_loss": 1.0, "d_loss": torch.tensor(math.nan) if train_step.calls == 2 else 0.5}

    def counted(model, batch):
        train_step.calls += 1
        return train_step(model, batch)

    train_step.calls = 0
    with pytest.raises(FloatingPointError, match=r"'d_loss' is nan at step 2"):
        fit(_model(), _loader(), train_step=counted, max_steps=5, progress=False)


def test_clipping_bounds_the_update_and_logs_the_unclipped_norm():
    def one_sgd_step(clip):
        model = _model(dropout=0.0)
        before = [p.detach().clone() for p in model.parameters()]
        history = fit(
            model, _loader(shuffle=False), loss_fn=_loss, max_steps=1, clip_grad_norm=clip,
            optimizer=torch.optim.SGD(model.parameters(), lr=1.0), progress=False,
        )  # fmt: skip
        delta = torch.cat(
            [(p - b).flatten() for p, b in zip(model.parameters(), before, strict=True)]
        )
        return delta.norm().item(), history

    unclipped, _ = one_sgd_step(None)
    clipped, history = one_sgd_step(1e-3)
    assert unclipped > 0.01  # the cap below really bites
    assert clipped == pytest.approx(1e-3, rel=1e-4)
    assert history.train["grad_norm"][0] == pytest.approx(unclipped, rel=1e-5)


def test_history_lengths_and_window_means():
    losses = []

    def loss_fn(model, batch):
        loss = _loss(model, batch)
        if torch.is_grad_enabled():  # a training step, not a validation batch
            losses.append(loss.item())
        return loss

    val = _loader(_dataset(16, seed=5), shuffle=False)
    model = _model()
    history = fit(
        model, _loader(), loss_fn=loss_fn, optimizer=torch.optim.SGD(model.parameters(), 0.1),
        max_steps=10, log_every=3, val_loader=val, eval_every=4,
        progress=False,
    )  # fmt: skip
    assert history.steps == [3, 6, 9]
    assert history.train["loss"] == pytest.approx(
        [sum(losses[0:3]) / 3, sum(losses[3:6]) / 3, sum(losses[6:9]) / 3]
    )
    assert history.val_steps == [4, 8, 10]  # every 4 steps and at the end
    assert len(history.val["loss"]) == 3

    history = fit(
        model, _loader(), loss_fn=_loss, optimizer=torch.optim.SGD(model.parameters(), 0.1),
        epochs=3, val_loader=val, progress=False,
    )  # fmt: skip
    assert history.steps == list(range(1, 16))
    assert history.val_steps == [5, 10, 15]  # at each epoch's end, not twice at the last


def test_evaluation_does_not_change_the_training_trajectory():
    def run(val_loader):
        model = _model()
        fit(
            model, _loader(), loss_fn=_loss, optimizer=torch.optim.SGD(model.parameters(), 0.1),
            max_steps=8, val_loader=val_loader, eval_every=2 if val_loader else None,
            progress=False,
        )  # fmt: skip
        return model

    # An unseeded shuffled val loader draws from the global random state that dropout uses.
    with_val = run(_loader(_dataset(16, seed=5), seeded=False))
    _assert_same_weights(with_val, run(None))


def test_scheduler_is_stepped_once_per_step():
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.8)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    fit(model, _loader(), loss_fn=_loss, optimizer=optimizer, scheduler=scheduler, max_steps=3,
        progress=False)  # fmt: skip
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)


def test_evaluate_weights_batches_by_size_and_restores_the_mode(device):
    dataset = _dataset(10)
    model = _model(dropout=0.5).to(device)
    x, y = (t.to(device) for t in dataset.tensors)
    model.eval()
    expected = F.cross_entropy(model(x), y).item()  # one batch holding everything
    uneven = _loader(dataset, shuffle=False, batch_size=4)  # batches of 4, 4 and 2
    model.train()
    assert evaluate(model, _loss, uneven) == pytest.approx(expected, rel=1e-6)
    assert model.training  # dropout was off during evaluation, and the mode is back
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    evaluate(model, _loss, uneven, device=device)
    assert not model.training
    with pytest.raises(ValueError, match="loader yielded no batches"):
        evaluate(model, _loss, [])


def test_progress_false_and_tqdm_disable_print_nothing(capsys, monkeypatch):
    def run(progress):
        model = _model()
        fit(model, _loader(), loss_fn=_loss, optimizer=torch.optim.SGD(model.parameters(), 0.1),
            max_steps=3, progress=progress)  # fmt: skip

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    run(True)
    assert "3/3" in capsys.readouterr().err  # a bar is drawn when asked for
    run(False)
    assert capsys.readouterr() == ("", "")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    run("auto")
    assert capsys.readouterr() == ("", "")


def test_progress_wraps_a_loop_like_fits_bar(capsys, monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert list(progress(range(4), desc="steps", progress=True)) == [0, 1, 2, 3]
    err = capsys.readouterr().err
    assert "steps" in err and "4/4" in err
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert list(progress(range(4))) == [0, 1, 2, 3]
    assert capsys.readouterr() == ("", "")


def test_progress_in_a_notebook_kernel_obeys_tqdm_disable(monkeypatch):
    """tqdm's notebook bar ignores TQDM_DISABLE; ours must not draw a widget under it."""
    import tqdm.std

    monkeypatch.setenv("TQDM_DISABLE", "1")
    bar = progress(range(3))
    assert type(bar) is tqdm.std.tqdm and bar.disable  # never tqdm.auto's widget class
    assert list(bar) == [0, 1, 2]


@pytest.mark.parametrize("bad, error", [("yes", ValueError), (1, TypeError)])
def test_progress_rejects_bad_switches(bad, error):
    with pytest.raises(error, match="progress must be"):
        progress(range(3), progress=bad)


def test_history_plot_draws_labelled_curves():
    import matplotlib.pyplot as plt

    history = History(
        steps=[1, 2, 3], train={"loss": [3.0, 2.0, 1.0]}, val_steps=[3], val={"loss": [1.5]}
    )
    ax = history.plot()
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "loss"
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["train loss", "val loss"]
    assert list(lines[0].get_ydata()) == [3.0, 2.0, 1.0] and list(lines[1].get_xdata()) == [3]
    _, given = plt.subplots()
    gan = History(steps=[1, 2], train={"d_loss": [1.0, 0.5], "g_loss": [2.0, 1.0]})
    assert gan.plot(ax=given) is given and len(given.get_lines()) == 2
    with pytest.raises(ValueError, match="keys: 'loss' was not recorded"):
        gan.plot(keys=["loss"])
    plt.close("all")
    assert History.from_dict(history.to_dict()) == history


# ------------------------------------------------------------------------------- bad arguments


def _train_step(model, batch):
    return {"loss": 0.0}


_OPT = object()  # placeholder: replaced by a real optimizer in the test


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"train_step": _train_step}, ValueError, "exactly one of loss_fn or train_step"),
        ({"loss_fn": None}, ValueError, "exactly one of loss_fn or train_step"),
        ({"optimizer": None}, ValueError, "optimizer is required with loss_fn"),
        ({"optimizer": {"a": _OPT}}, TypeError, "optimizer must be a torch.optim.Optimizer"),
        (
            {"loss_fn": None, "train_step": _train_step, "optimizer": [1]},
            TypeError,
            "optimizer must",
        ),
        ({"epochs": 1}, ValueError, "exactly one of epochs or max_steps"),
        ({"max_steps": None}, ValueError, "exactly one of epochs or max_steps"),
        ({"max_steps": 0}, ValueError, "max_steps must be a positive int, got 0"),
        ({"max_steps": 2.5}, TypeError, "max_steps must be an int, got float"),
        ({"max_steps": None, "epochs": 1.5}, TypeError, "epochs must be an int, got float"),
        ({"max_steps": None, "epochs": True}, TypeError, "epochs must be an int, got bool"),
        ({"eval_every": 2}, ValueError, "eval_every needs a val_loader"),
        ({"eval_every": 0, "val_loader": "V"}, ValueError, "eval_every must be a positive int"),
        ({"log_every": 0}, ValueError, "log_every must be a positive int, got 0"),
        ({"log_every": None}, TypeError, "log_every must be an int, got NoneType"),
        ({"clip_grad_norm": -1.0}, ValueError, "clip_grad_norm must be a number > 0, got -1.0"),
        ({"clip_grad_norm": math.inf}, ValueError, "clip_grad_norm must be a number > 0"),
        ({"clip_grad_norm": "1"}, TypeError, "clip_grad_norm must be a number, got str"),
        (
            {"clip_grad_norm": 1.0, "loss_fn": None, "train_step": _train_step},
            ValueError,
            "clip_grad_norm works with loss_fn only",
        ),
        (
            {"loss_fn": None, "train_step": _train_step, "val_loader": "V"},
            ValueError,
            "val_loader works with loss_fn only",
        ),
        ({"progress": "yes"}, ValueError, "progress must be one of"),
        ({"progress": 1}, TypeError, "progress must be a bool or 'auto', got int"),
        ({"checkpoint_every": 5}, ValueError, "checkpoint_every needs a checkpoint_path"),
        ({"resume": True}, ValueError, "resume=True needs a checkpoint_path"),
        ({"resume": "yes"}, TypeError, "resume must be a bool"),
        ({"model": "not a model"}, TypeError, "model must be a torch.nn.Module"),
    ],
)
def test_fit_rejects_bad_arguments(overrides, error, match):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    kwargs = {"loss_fn": _loss, "optimizer": optimizer, "max_steps": 2, "progress": False}
    kwargs.update(overrides)
    if kwargs.get("optimizer") == {"a": _OPT}:
        kwargs["optimizer"] = {"a": optimizer}
    if kwargs.get("val_loader") == "V":
        kwargs["val_loader"] = _loader()
    model = kwargs.pop("model", model)
    with pytest.raises(error, match=match):
        fit(model, _loader(), **kwargs)


@pytest.mark.parametrize(
    ("returned", "error", "match"),
    [
        (torch.ones(3, requires_grad=True), ValueError, r"scalar tensor \(one element\), got"),
        (1.0, TypeError, "loss_fn must return a scalar torch.Tensor, got float"),
    ],
)
def test_fit_rejects_a_loss_that_is_not_a_scalar_tensor(returned, error, match):
    model = _model()
    with pytest.raises(error, match=match):
        fit(model, _loader(), loss_fn=lambda m, b: returned, max_steps=1, progress=False,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1))  # fmt: skip


def test_fit_rejects_bad_train_step_results_and_empty_loaders():
    model = _model()
    with pytest.raises(TypeError, match="train_step must return a non-empty dict"):
        fit(model, _loader(), train_step=lambda m, b: 1.0, max_steps=1, progress=False)
    with pytest.raises(TypeError, match="its 'loss' is str, not a number"):
        fit(model, _loader(), train_step=lambda m, b: {"loss": "low"}, max_steps=1, progress=False)
    keys = iter([{"a": 1.0}, {"b": 1.0}])
    with pytest.raises(ValueError, match=r"returned keys \['b'\] at step 2"):
        fit(model, _loader(), train_step=lambda m, b: next(keys), max_steps=2, progress=False)
    empty = DataLoader(TensorDataset(torch.zeros(0, 4), torch.zeros(0)), batch_size=2)
    with pytest.raises(ValueError, match="train_loader yielded no batches"):
        fit(model, empty, train_step=_train_step, max_steps=3, progress=False)


PAGES = sorted((Path(__file__).resolve().parents[1] / "book").rglob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_page_trains_in_silence(page):
    """A reader watches every training cell progress: a page may turn fit's bar off only inside
    a loop that carries its own (``for ... in progress(...)``, a few lines above)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "progress=False" in line:
            above = "\n".join(lines[max(0, i - 4): i])
            assert "in progress(" in above, f"{page.name}:{i + 1}: fit(..., progress=False)"
