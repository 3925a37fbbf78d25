"""Tests for lessons_pkg.training: fit against a hand-written loop, exact resume, errors."""

import copy
import dataclasses
import math
from collections import namedtuple

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lessons_pkg import checkpoint
from lessons_pkg.checkpoint import load_checkpoint, save_checkpoint
from lessons_pkg.device import to_device
from lessons_pkg.training import History, evaluate, fit

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


def test_to_device_recurses_and_keeps_types(device):
    Pair = namedtuple("Pair", "x label")
    batch = {"a": [torch.ones(2), ("text", torch.zeros(1))], "b": Pair(torch.ones(3), 7)}
    moved = to_device(batch, device)
    assert moved["a"][0].device.type == device.type
    assert isinstance(moved["a"], list) and isinstance(moved["a"][1], tuple)
    assert moved["a"][1][0] == "text" and moved["a"][1][1].device.type == device.type
    assert isinstance(moved["b"], Pair) and moved["b"].label == 7
    assert moved["b"].x.device.type == device.type
    assert to_device(batch, None) is batch


# ------------------------------------------------------------------------------------ resume


def _adam_run(seeded, loader_seed=1, draws=7, **kwargs):
    model = _model()
    torch.rand(draws)  # moves the global random state away from where model init left it
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    history = fit(
        model, _loader(seed=loader_seed, seeded=seeded), loss_fn=_loss, optimizer=optimizer,
        scheduler=scheduler,
        val_loader=_loader(_dataset(16, seed=5), shuffle=False), clip_grad_norm=1.0,
        progress=False, config={"lr": 0.01, "hidden": (16,)}, **kwargs,
    )  # fmt: skip
    return model, optimizer, history


@pytest.mark.parametrize("seeded", [True, False], ids=["loader-generator", "global-seed"])
@pytest.mark.parametrize("k", [3, 5, 7])  # mid-epoch, at an epoch boundary, in the second epoch
def test_resume_after_step_k_gives_the_uninterrupted_weights(tmp_path, seeded, k):
    n_steps = 12
    torch.manual_seed(123)
    full_model, full_opt, full_history = _adam_run(seeded, max_steps=n_steps, eval_every=4)

    path = tmp_path / "run.pt"
    torch.manual_seed(123)
    _adam_run(seeded, max_steps=k, eval_every=4, checkpoint_path=path)
    # Other random states and another loader seed: the checkpoint's states must win.
    torch.manual_seed(999)
    model, optimizer, history = _adam_run(
        seeded,
        loader_seed=2,
        draws=3,
        max_steps=n_steps,
        eval_every=4,
        checkpoint_path=path,
        resume=True,
    )

    _assert_same_weights(model, full_model)
    _assert_same_optimizer(optimizer, full_opt)
    assert history.steps == full_history.steps
    assert history.train == full_history.train
    assert full_history.val_steps == [4, 8, 12]
    assert load_checkpoint(path, _model())["step"] == n_steps


class _Crash(RuntimeError):
    pass


def test_resume_after_a_crash_reproduces_weights_and_history(tmp_path):
    def run(loss_fn, path=None, resume=False):
        model = _model()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        history = fit(
            model, _loader(), loss_fn=loss_fn, optimizer=optimizer, epochs=3,
            val_loader=_loader(_dataset(16, seed=5), shuffle=False),
            checkpoint_path=path, checkpoint_every=3 if path else None, resume=resume,
            log_every=2, progress=False,
        )  # fmt: skip
        return model, history

    torch.manual_seed(7)
    full_model, full_history = run(_loss)

    calls = 0

    def crashing_loss(model, batch):
        nonlocal calls
        if torch.is_grad_enabled():  # a training step, not a validation batch
            calls += 1
        if calls == 8:  # the last checkpoint was written after step 6
            raise _Crash("power cut")
        return _loss(model, batch)

    path = tmp_path / "ckpt" / "run.pt"  # the folder is created on demand
    torch.manual_seed(7)
    with pytest.raises(_Crash):
        run(crashing_loss, path)
    assert load_checkpoint(path, _model())["step"] == 6
    model, history = run(_loss, path, resume=True)

    _assert_same_weights(model, full_model)
    assert history == full_history
    assert full_history.val_steps == [5, 10, 15]  # one evaluation per epoch
    assert sorted(p.name for p in path.parent.iterdir()) == ["run.pt"]  # no temporary files


def test_train_step_with_two_optimizers_trains_both_and_resumes_exactly(tmp_path):
    real = TensorDataset(torch.randn(32, 2) * 0.5 + torch.tensor([2.0, -1.0]))

    def run(max_steps, path=None, resume=False):
        torch.manual_seed(0)
        model = nn.ModuleDict(
            {"g": nn.Linear(2, 2), "d": nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))}
        )
        opts = {
            "g": torch.optim.Adam(model["g"].parameters(), lr=0.01),
            "d": torch.optim.Adam(model["d"].parameters(), lr=0.01),
        }

        def gan_step(model, batch):
            (x,) = batch
            z = torch.randn(x.shape[0], 2, device=x.device)
            fake = model["g"](z)
            real_logits, fake_logits = model["d"](x), model["d"](fake.detach())
            d_loss = F.binary_cross_entropy_with_logits(
                real_logits, torch.ones_like(real_logits)
            ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            opts["d"].zero_grad()
            d_loss.backward()
            opts["d"].step()
            gen_logits = model["d"](fake)
            g_loss = F.binary_cross_entropy_with_logits(gen_logits, torch.ones_like(gen_logits))
            opts["g"].zero_grad()
            g_loss.backward()
            opts["g"].step()
            return {"d_loss": d_loss.item(), "g_loss": g_loss}

        before = copy.deepcopy(model)
        history = fit(
            model, _loader(real), train_step=gan_step, optimizer=opts, max_steps=max_steps,
            checkpoint_path=path, checkpoint_every=3 if path else None, resume=resume,
            progress=False,
        )  # fmt: skip
        return before, model, history

    before, full, history = run(8)
    assert set(history.train) == {"d_loss", "g_loss"}
    assert len(history.train["d_loss"]) == len(history.train["g_loss"]) == 8
    for part in ("g", "d"):
        first_before = next(before[part].parameters())
        assert not torch.equal(first_before, next(full[part].parameters())), part

    path = tmp_path / "gan.pt"
    run(4, path)
    assert set(torch.load(path, weights_only=True)["optimizers"]) == {"g", "d"}
    _, resumed, resumed_history = run(8, path, resume=True)
    _assert_same_weights(resumed, full)
    assert resumed_history.train == history.train


# ------------------------------------------------------------------------------- checkpoints


@dataclasses.dataclass(frozen=True)
class _Config:
    hidden: int = 16
    sizes: tuple = (1, 2)


def test_checkpoint_file_holds_everything_and_loads_weights_only(tmp_path):
    path = tmp_path / "run.pt"
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(
        model, _loader(), loss_fn=_loss, optimizer=optimizer, max_steps=4, checkpoint_path=path,
        config=_Config(), progress=False,
    )  # fmt: skip
    saved = torch.load(path, weights_only=True)
    assert saved["step"] == 4
    assert saved["config"] == {"hidden": 16, "sizes": (1, 2)}
    assert set(saved["rng"]) == {"python", "numpy", "torch", "cuda"}
    assert saved["extra"]["loop"]["batch_in_epoch"] == 4
    assert saved["history"]["steps"] == [1, 2, 3, 4]
    assert set(saved["optimizer"]) == {"state", "param_groups"}
    for key, value in model.state_dict().items():
        assert torch.equal(saved["model"][key], value)


def test_save_and_load_checkpoint_round_trip(tmp_path):
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    _loss(model, next(iter(_loader()))).backward()
    optimizer.step()
    path = tmp_path / "manual.pt"
    save_checkpoint(path, model, optimizer, 1, _Config(hidden=3))
    after_save = torch.rand(3)

    fresh = _model()
    with torch.no_grad():
        for p in fresh.parameters():
            p.add_(1.0)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.01)
    saved = load_checkpoint(path, fresh, fresh_opt, restore_rng=True)
    assert saved["step"] == 1 and saved["config"]["hidden"] == 3
    assert torch.equal(torch.rand(3), after_save)  # the random state was put back
    _assert_same_weights(fresh, model)
    _assert_same_optimizer(fresh_opt, optimizer)


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    model = _model()
    save_checkpoint(path, model, None, 1)

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, None, 2)
    monkeypatch.undo()
    assert load_checkpoint(path, _model())["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


def test_checkpoint_errors(tmp_path):
    model = _model()
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt", model)
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint written by lessons_pkg"):
        load_checkpoint(tmp_path / "other.pt", model)

    path = tmp_path / "plain.pt"
    save_checkpoint(path, model, None, 0)
    with pytest.raises(ValueError, match="holds no optimizer state"):
        load_checkpoint(path, model, torch.optim.SGD(model.parameters(), lr=0.1))
    opts = {"a": torch.optim.SGD(model.parameters(), lr=0.1)}
    save_checkpoint(path, model, opts, 0)
    with pytest.raises(ValueError, match=r"optimizer has keys \['b'\]"):
        load_checkpoint(path, model, {"b": torch.optim.SGD(model.parameters(), lr=0.1)})
    with pytest.raises(ValueError, match=r"holds a dict \['a'\], got SGD"):
        load_checkpoint(path, model, opts["a"])

    with pytest.raises(TypeError, match=r"config\['f'\] has type function"):
        save_checkpoint(path, model, None, 0, {"f": lambda: 0})
    with pytest.raises(TypeError, match="config must be a dataclass instance, a dict or None"):
        save_checkpoint(path, model, None, 0, 5)
    with pytest.raises(ValueError, match="step must be an int >= 0, got -1"):
        save_checkpoint(path, model, None, -1)
    with pytest.raises(TypeError, match="step must be an int, got float"):
        save_checkpoint(path, model, None, 1.0)

    save_checkpoint(path, model, opts["a"], 0)
    with pytest.raises(ValueError, match="was written by save_checkpoint, not by fit"):
        fit(model, _loader(), loss_fn=_loss, optimizer=opts["a"], max_steps=2,
            checkpoint_path=path, resume=True, progress=False)  # fmt: skip
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        fit(model, _loader(), loss_fn=_loss, optimizer=opts["a"], max_steps=2,
            checkpoint_path=tmp_path / "nope.pt", resume=True, progress=False)  # fmt: skip


def test_resume_with_another_config_is_refused(tmp_path):
    path = tmp_path / "run.pt"
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    common = dict(loss_fn=_loss, optimizer=optimizer, max_steps=2, checkpoint_path=path,
                  progress=False)  # fmt: skip
    fit(model, _loader(), config={"lr": 0.1}, **common)
    with pytest.raises(ValueError, match="config differs from the checkpoint's"):
        fit(model, _loader(), config={"lr": 0.2}, resume=True, **common)


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
