"""Tests for lessons_pkg.lstm: the cells and the layer against torch on copied weights (float64)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lessons_pkg.lstm import LSTM, GRUCell, LSTMCell
from lessons_pkg.text_models import LSTMClassifier, LSTMLanguageModel

TOL = {"rtol": 1e-12, "atol": 1e-12}
DT = torch.float64


def _leaf(shape, device):
    return torch.randn(*shape, dtype=DT, device=device).requires_grad_()


def _twin(t):
    """An independent leaf with the same values, so each model gets its own .grad."""
    return t.detach().clone().requires_grad_()


def _backward(outputs, weights):
    """Backpropagate a random linear functional of every output, so every path gets a gradient."""
    loss = sum((o * w).sum() for o, w in zip(outputs, weights, strict=True))
    loss.backward()


def _assert_same_grads(ours: nn.Module, ref: nn.Module):
    ref_params = dict(ref.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert ours_params.keys() == ref_params.keys()
    for name, p in ours_params.items():
        assert p.grad is not None, name
        torch.testing.assert_close(p.grad, ref_params[name].grad, **TOL, msg=name)


def _copied(ours_cls, ref_cls, args, kwargs, device):
    ref = ref_cls(*args, **kwargs).to(device=device, dtype=DT)
    ours = ours_cls(*args, **kwargs).to(device=device, dtype=DT)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


# --- cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_cell_matches_torch(device, bias, with_state):
    ours, ref = _copied(LSTMCell, nn.LSTMCell, (3, 5), {"bias": bias}, device)
    x = _leaf((4, 3), device)
    xr = _twin(x)
    if with_state:
        h, c = _leaf((4, 5), device), _leaf((4, 5), device)
        hr, cr = _twin(h), _twin(c)
        out, out_ref = ours(x, (h, c)), ref(xr, (hr, cr))
    else:
        out, out_ref = ours(x), ref(xr)
    torch.testing.assert_close(out[0], out_ref[0], **TOL)
    torch.testing.assert_close(out[1], out_ref[1], **TOL)
    weights = [torch.randn_like(o) for o in out]
    _backward(out, weights)
    _backward(out_ref, weights)
    _assert_same_grads(ours, ref)
    torch.testing.assert_close(x.grad, xr.grad, **TOL)
    if with_state:
        torch.testing.assert_close(h.grad, hr.grad, **TOL)
        torch.testing.assert_close(c.grad, cr.grad, **TOL)


def test_lstm_cell_unbatched_matches_torch(device):
    ours, ref = _copied(LSTMCell, nn.LSTMCell, (3, 5), {}, device)
    x, h, c = (torch.randn(n, dtype=DT, device=device) for n in (3, 5, 5))
    for a, b in zip(ours(x, (h, c)), ref(x, (h, c)), strict=True):
        assert a.shape == (5,)
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
def test_gru_cell_matches_torch(device, bias, with_state):
    ours, ref = _copied(GRUCell, nn.GRUCell, (3, 5), {"bias": bias}, device)
    x = _leaf((4, 3), device)
    xr = _twin(x)
    if with_state:
        h = _leaf((4, 5), device)
        hr = _twin(h)
        out, out_ref = ours(x, h), ref(xr, hr)
    else:
        out, out_ref = ours(x), ref(xr)
    torch.testing.assert_close(out, out_ref, **TOL)
    w = torch.randn_like(out)
    _backward([out], [w])
    _backward([out_ref], [w])
    _assert_same_grads(ours, ref)
    torch.testing.assert_close(x.grad, xr.grad, **TOL)
    if with_state:
        torch.testing.assert_close(h.grad, hr.grad, **TOL)


def test_cells_have_torch_parameter_names():
    for ours, ref in [(LSTMCell(3, 5), nn.LSTMCell(3, 5)), (GRUCell(3, 5), nn.GRUCell(3, 5))]:
        assert {k: v.shape for k, v in ours.state_dict().items()} == {
            k: v.shape for k, v in ref.state_dict().items()
        }
        ref.load_state_dict(ours.state_dict())  # strict, both directions


# --- multi-layer LSTM -------------------------------------------------------------------------


def _run_lstm_pair(device, num_layers, with_state, batch_first, lengths=None):
    B, T, I, H = 4, 6, 3, 5
    ours, ref = _copied(LSTM, nn.LSTM, (I, H, num_layers), {"batch_first": batch_first}, device)
    x = _leaf((B, T, I) if batch_first else (T, B, I), device)
    xr = _twin(x)
    state = state_ref = None
    if with_state:
        state = (_leaf((num_layers, B, H), device), _leaf((num_layers, B, H), device))
        state_ref = (_twin(state[0]), _twin(state[1]))
    if lengths is None:
        out, (h_n, c_n) = ours(x, state)
        out_ref, (h_ref, c_ref) = ref(xr, state_ref)
    else:
        out, (h_n, c_n) = ours(x, state, lengths=lengths)
        packed = pack_padded_sequence(xr, lengths, batch_first=batch_first, enforce_sorted=False)
        packed_out, (h_ref, c_ref) = ref(packed, state_ref)
        out_ref, _ = pad_packed_sequence(packed_out, batch_first=batch_first, total_length=T)
    torch.testing.assert_close(out, out_ref, **TOL)
    torch.testing.assert_close(h_n, h_ref, **TOL)
    torch.testing.assert_close(c_n, c_ref, **TOL)
    weights = [torch.randn_like(t) for t in (out, h_n, c_n)]
    _backward([out, h_n, c_n], weights)
    _backward([out_ref, h_ref, c_ref], weights)
    _assert_same_grads(ours, ref)
    torch.testing.assert_close(x.grad, xr.grad, **TOL)
    if with_state:
        torch.testing.assert_close(state[0].grad, state_ref[0].grad, **TOL)
        torch.testing.assert_close(state[1].grad, state_ref[1].grad, **TOL)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_matches_torch(device, num_layers, with_state, batch_first):
    _run_lstm_pair(device, num_layers, with_state, batch_first)


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_padded_matches_packed_torch(device, num_layers, with_state):
    # Unsorted lengths, one full-length and one of length 1.
    _run_lstm_pair(device, num_layers, with_state, True, lengths=torch.tensor([3, 6, 1, 4]))


def test_lstm_padded_matches_packed_torch_time_first():
    _run_lstm_pair(torch.device("cpu"), 2, True, False, lengths=[2, 6, 5, 1])


def test_padding_does_not_change_real_tokens(device):
    lstm = LSTM(3, 5, num_layers=2).to(device=device, dtype=DT)
    lengths = torch.tensor([4, 2, 6], device=device)
    x = torch.randn(3, 6, 3, dtype=DT, device=device)
    pad = torch.arange(6, device=device)[None, :] >= lengths[:, None]  # (B, T) True = padding
    x_other = torch.where(pad[..., None], 1e3 * torch.randn_like(x), x)
    out, (h_n, c_n) = lstm(x, lengths=lengths)
    out2, (h2, c2) = lstm(x_other, lengths=lengths)
    torch.testing.assert_close(out, out2, rtol=0, atol=0)
    torch.testing.assert_close(h_n, h2, rtol=0, atol=0)
    assert (out[pad] == 0).all()
    # Each row equals that sequence run alone without padding.
    for b, n in enumerate(lengths.tolist()):
        alone, (h_b, c_b) = lstm(x[b : b + 1, :n])
        torch.testing.assert_close(out[b, :n], alone[0], **TOL)
        torch.testing.assert_close(h_n[:, b], h_b[:, 0], **TOL)
        torch.testing.assert_close(c_n[:, b], c_b[:, 0], **TOL)


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_state_dict_is_torch_compatible(bias):
    ours, ref = LSTM(3, 5, 2, bias=bias), nn.LSTM(3, 5, 2, bias=bias, batch_first=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ref.load_state_dict(ours.state_dict())  # strict copy in the other direction too
    x = torch.randn(2, 4, 3)
    torch.testing.assert_close(ours(x)[0], ref(x)[0])


def test_lstm_dropout_only_between_layers_in_training():
    lstm = LSTM(3, 5, num_layers=2, dropout=0.5, batch_first=True).double()
    ref = nn.LSTM(3, 5, num_layers=2, dropout=0.5, batch_first=True).double()
    ref.load_state_dict(lstm.state_dict())
    x = torch.randn(2, 4, 3, dtype=DT)
    lstm.eval()
    ref.eval()
    torch.testing.assert_close(lstm(x)[0], ref(x)[0], **TOL)
    lstm.train()
    assert not torch.allclose(lstm(x)[0], ref(x)[0])
    single = LSTM(3, 5, num_layers=1, dropout=0.5).double().train()
    torch.testing.assert_close(single(x)[0], single.eval()(x)[0], rtol=0, atol=0)


# --- bad input --------------------------------------------------------------------------------


def test_lstm_bad_input_raises():
    lstm = LSTM(3, 5, num_layers=2)
    x = torch.randn(4, 6, 3)
    with pytest.raises(ValueError, match=r"input_size=3"):
        lstm(torch.randn(4, 6, 2))
    with pytest.raises(ValueError, match=r"x must be 3-D"):
        lstm(torch.randn(6, 3))
    with pytest.raises(ValueError, match=r"at least one time step"):
        lstm(torch.randn(4, 0, 3))
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor"):
        lstm([[1.0, 2.0, 3.0]])
    good = torch.zeros(2, 4, 5)
    with pytest.raises(ValueError, match=r"state\[0\] \(h0\) must have shape \(2, 4, 5\)"):
        lstm(x, (torch.zeros(1, 4, 5), good))
    with pytest.raises(ValueError, match=r"state\[1\] \(c0\) must have shape \(2, 4, 5\)"):
        lstm(x, (good, torch.zeros(2, 3, 5)))
    with pytest.raises(ValueError, match=r"state\[0\] \(h0\)"):
        lstm(x, (torch.zeros(2, 4, 4), good))
    with pytest.raises(TypeError, match=r"state must be a tuple \(h0, c0\)"):
        lstm(x, good)
    with pytest.raises(TypeError, match=r"state must be a tuple \(h0, c0\) .* got None inside"):
        lstm(x, (good, None))


@pytest.mark.parametrize(
    "lengths, match",
    [
        ([6, 7, 1, 2], r"lengths must be in \[1, T\] = \[1, 6\].*max 7"),
        ([6, 0, 1, 2], r"lengths must be in \[1, T\].*min 0"),
        ([6, -1, 1, 2], r"lengths must be in \[1, T\].*min -1"),
        ([6, 2, 1], r"lengths must have shape \(B,\) = \(4,\)"),
        (torch.ones(4, 1, dtype=torch.long), r"lengths must have shape \(B,\)"),
    ],
)
def test_lstm_bad_lengths_raise(lengths, match):
    with pytest.raises(ValueError, match=match):
        LSTM(3, 5)(torch.randn(4, 6, 3), lengths=lengths)


def test_lstm_non_integer_lengths_raise():
    x = torch.randn(4, 6, 3)
    with pytest.raises(TypeError, match=r"lengths must hold integers"):
        LSTM(3, 5)(x, lengths=torch.tensor([1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(TypeError, match=r"lengths must be a 1-D int tensor"):
        LSTM(3, 5)(x, lengths=4)


def test_cell_bad_input_raises():
    cell, gru = LSTMCell(3, 5), GRUCell(3, 5)
    with pytest.raises(ValueError, match=r"input_size=3"):
        cell(torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"input_size=3"):
        gru(torch.randn(4, 4))
    with pytest.raises(ValueError, match=r"x must be 2-D"):
        cell(torch.randn(2, 4, 3))
    with pytest.raises(ValueError, match=r"state\[0\] \(h\) must have shape \(4, 5\)"):
        cell(torch.randn(4, 3), (torch.zeros(4, 6), torch.zeros(4, 5)))
    with pytest.raises(ValueError, match=r"state\[1\] \(c\) must have shape \(4, 5\)"):
        cell(torch.randn(4, 3), (torch.zeros(4, 5), torch.zeros(3, 5)))
    with pytest.raises(TypeError, match=r"state must be a tuple \(h, c\)"):
        cell(torch.randn(4, 3), torch.zeros(4, 5))
    with pytest.raises(ValueError, match=r"h must have shape \(4, 5\)"):
        gru(torch.randn(4, 3), torch.zeros(5, 5))


def test_constructor_bad_args_raise():
    with pytest.raises(ValueError, match=r"hidden_size must be a positive int, got 0"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match=r"num_layers must be a positive int"):
        LSTM(3, 5, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), got 1.0"):
        LSTM(3, 5, dropout=1.0)
    with pytest.raises(TypeError, match=r"dropout must be a number, got str"):
        LSTM(3, 5, dropout="0.1")
    with pytest.raises(TypeError, match=r"input_size must be an int, got str"):
        LSTMCell("3", 5)
    with pytest.raises(ValueError, match=r"input_size must be a positive int"):
        GRUCell(-1, 5)


# --- models -----------------------------------------------------------------------------------


def _classifier(device):
    return LSTMClassifier(11, 4, 6, 3, num_layers=2, pad_id=0).to(device=device, dtype=DT)


def test_classifier_uses_last_real_token(device):
    model = _classifier(device).eval()
    ids = torch.tensor([[3, 4, 5, 0, 0], [7, 8, 9, 10, 2], [6, 0, 0, 0, 0]], device=device)
    lengths = torch.tensor([3, 5, 1], device=device)
    logits = model(ids, lengths)
    assert logits.shape == (3, 3)
    for b, n in enumerate(lengths.tolist()):
        alone = model(ids[b : b + 1, :n])  # no padding, no lengths
        torch.testing.assert_close(logits[b : b + 1], alone, **TOL)
    # More padding changes nothing.
    wider = torch.cat([ids, torch.zeros(3, 4, dtype=ids.dtype, device=device)], dim=1)
    torch.testing.assert_close(model(wider, lengths), logits, **TOL)


def test_classifier_can_overfit_a_tiny_batch():
    torch.manual_seed(0)
    model = LSTMClassifier(9, 8, 16, 2)
    ids = torch.randint(1, 9, (8, 5))
    lengths = torch.tensor([5, 3, 4, 2, 5, 1, 3, 4])
    labels = torch.tensor([0, 1, 0, 1, 1, 0, 1, 0])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        loss = F.cross_entropy(model(ids, lengths), labels)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert (model(ids, lengths).argmax(-1) == labels).all()


def test_classifier_bad_args_raise():
    model = LSTMClassifier(11, 4, 6, 3)
    with pytest.raises(ValueError, match=r"ids must have 2 dimensions, got shape \(3,\)"):
        model(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match=r"ids must be an integer tensor, got dtype torch.float32"):
        model(torch.rand(2, 3))
    with pytest.raises(ValueError, match=r"ids must hold token ids in \[0, 11\), got values in "
                                         r"\[-1, 2\]"):
        model(torch.tensor([[1, 2], [-1, 0]]))
    with pytest.raises(TypeError, match=r"pad_id must be an int, got float"):
        LSTMClassifier(11, 4, 6, 3, pad_id=0.0)
    with pytest.raises(ValueError, match=r"lengths must be in \[1, T\]"):
        model(torch.ones(2, 3, dtype=torch.long), torch.tensor([3, 4]))
    with pytest.raises(ValueError, match=r"pad_id must be in \[0, vocab_size\)"):
        LSTMClassifier(11, 4, 6, 3, pad_id=11)
    with pytest.raises(ValueError, match=r"n_classes must be a positive int"):
        LSTMClassifier(11, 4, 6, 0)


def test_lm_forward_rejects_ids_outside_the_vocabulary():
    model = LSTMLanguageModel(vocab_size=5, embed_dim=4, hidden_size=6)
    with pytest.raises(ValueError, match=r"ids must hold token ids in \[0, 5\), got values in "
                                         r"\[0, 5\]"):
        model(torch.tensor([[0, 5]]))


def _lm(device):
    return LSTMLanguageModel(13, 6, 8, num_layers=2).to(device=device, dtype=DT)


def test_lm_shapes_and_state_carry(device):
    model = _lm(device)
    ids = torch.randint(0, 13, (3, 7), device=device)
    logits, (h, c) = model(ids)
    assert logits.shape == (3, 7, 13)
    assert h.shape == c.shape == (2, 3, 8)
    # Reading the text in two chunks with the state carried equals reading it at once.
    first, state = model(ids[:, :4])
    second, state2 = model(ids[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits, **TOL)
    torch.testing.assert_close(state2[0], h, **TOL)
    torch.testing.assert_close(state2[1], c, **TOL)


@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
def test_lm_sample_equals_recomputing_from_scratch(device, temperature):
    model = _lm(device)
    prompt = torch.randint(0, 13, (2, 3), device=device)
    out = model.sample(prompt, 12, temperature=temperature,
                       generator=torch.Generator(device).manual_seed(123))
    assert out.shape == (2, 15)
    assert torch.equal(out[:, :3], prompt)

    g = torch.Generator(device).manual_seed(123)
    seq = prompt
    with torch.no_grad():
        for _ in range(12):
            logits, _ = model(seq)  # the whole prefix again, no state
            if temperature == 0:  # greedy, as everywhere in the package
                nxt = logits[:, -1].argmax(dim=-1, keepdim=True)
            else:
                probs = torch.softmax(logits[:, -1] / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=g)
            seq = torch.cat([seq, nxt], dim=1)
    assert torch.equal(out, seq)


def old_lm_sample(model, prompt_ids, n_new, temperature=1.0, generator=None):
    """``LSTMLanguageModel.sample`` before it called ``lessons_pkg.decoding.sample``."""
    ids = prompt_ids[None] if prompt_ids.dim() == 1 else prompt_ids
    model.eval()
    with torch.no_grad():
        logits, state = model(ids)
        new_tokens = []
        for step in range(n_new):
            probs = torch.softmax(logits[:, -1] / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)
            new_tokens.append(token)
            if step < n_new - 1:
                logits, state = model(token, state)
    out = torch.cat([ids, *new_tokens], dim=1)
    return out[0] if prompt_ids.dim() == 1 else out


@pytest.mark.parametrize("temperature", [0.5, 1.0, 1.5])
def test_lm_sample_draws_what_the_old_loop_drew(temperature):
    """The pages store text sampled with fixed generators: same tokens as before, bit for bit
    (one and sixteen prompts, flat and peaky distributions)."""
    model = LSTMLanguageModel(34, 16, 32, num_layers=2)
    for sharp in (1.0, 30.0):
        with torch.no_grad():
            model.head.weight.mul_(sharp)
        for prompt in (torch.tensor([3, 1, 4]), torch.randint(0, 34, (16, 4))):
            for seed in range(3):
                new = model.sample(prompt, 30, temperature=temperature,
                                   generator=torch.Generator().manual_seed(seed))
                old = old_lm_sample(model, prompt, 30, temperature,
                                    torch.Generator().manual_seed(seed))
                assert torch.equal(new, old)


def test_lm_sample_unbatched_restores_mode_and_is_seeded():
    model = _lm(torch.device("cpu")).train()
    prompt = torch.tensor([1, 2])
    a = model.sample(prompt, 5, generator=torch.Generator().manual_seed(0))
    b = model.sample(prompt, 5, generator=torch.Generator().manual_seed(0))
    assert a.shape == (7,) and torch.equal(a, b)
    assert model.training
    assert torch.equal(model.sample(prompt, 0), prompt)


def test_lm_bad_args_raise():
    model = _lm(torch.device("cpu"))
    prompt = torch.tensor([[1, 2]])
    with pytest.raises(ValueError, match=r"max_new_tokens must be an int >= 0, got -1"):
        model.sample(prompt, -1)
    with pytest.raises(ValueError, match=r"temperature must be a number >= 0, got -1"):
        model.sample(prompt, 3, temperature=-1)
    with pytest.raises(ValueError, match=r"top_p must be a number in \(0, 1\]"):
        model.sample(prompt, 3, top_p=2.0)
    with pytest.raises(TypeError, match="positional"):
        model.sample(prompt, 3, 1.0)
    with pytest.raises(ValueError, match=r"prompt_ids must hold at least one token"):
        model.sample(torch.zeros(1, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="prompt_ids must have 1 or 2 dimensions"):
        model.sample(torch.zeros(1, 1, 2, dtype=torch.long), 3)
    with pytest.raises(TypeError, match="prompt_ids must be an integer tensor"):
        model.sample(torch.zeros(1, 2), 3)
    with pytest.raises(ValueError, match=r"prompt_ids must hold token ids in \[0, 13\)"):
        model.sample(torch.tensor([[1, 13]]), 3)
    with pytest.raises(ValueError, match=r"state\[0\] \(h0\) must have shape \(2, 1, 8\)"):
        model(prompt, (torch.zeros(1, 1, 8, dtype=DT), torch.zeros(2, 1, 8, dtype=DT)))
