"""Tests for lessons_pkg.checkpoint: exact resume through fit, checkpoint files, errors."""

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from fit_helpers import (
    _assert_same_optimizer,
    _assert_same_weights,
    _dataset,
    _loader,
    _loss,
    _model,
)
from torch import nn
from torch.utils.data import TensorDataset

from lessons_pkg import checkpoint
from lessons_pkg.checkpoint import load_checkpoint, save_checkpoint
from lessons_pkg.training import fit

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


def _random_bytes(path, model):
    path.write_bytes(bytes(torch.randint(0, 256, (3000,), dtype=torch.uint8).tolist()))


def _a_plain_tensor(path, model):
    torch.save(torch.ones(3), path)


def _a_truncated_checkpoint(path, model):
    save_checkpoint(path, model, torch.optim.SGD(model.parameters(), lr=0.1), 3)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("write", [_random_bytes, _a_plain_tensor, _a_truncated_checkpoint])
def test_an_unreadable_or_foreign_file_is_a_clear_value_error(tmp_path, write):
    path = tmp_path / "broken.pt"
    write(path, _model())
    model = _model()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match="not a checkpoint written by lessons_pkg") as caught:
        load_checkpoint(path, model)
    assert str(path) in str(caught.value)
    error = caught.value  # raised alone: no unpickling traceback from inside torch above it
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])  # the model was not touched


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
