import warnings

import pytest
import torch
import torch.nn.functional as F
from references import ReferenceGPT

from lessons_pkg.decoding import greedy_decode, sample, top_k_filter, top_p_filter
from lessons_pkg.gpt import GPT, GPTConfig, gpt_param_count, lm_batch_loss, lm_loss
from lessons_pkg.losses import cross_entropy

V = 13


def tiny_config(**overrides) -> GPTConfig:
    settings = dict(vocab_size=V, context_length=12, d_model=16, n_heads=2, n_layers=2)
    settings.update(overrides)
    return GPTConfig(**settings)



@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    ("use_sdpa", "bias", "tie"), [(True, True, True), (False, True, False), (True, False, False),
                                  (False, False, True)]
)
def test_matches_gpt_built_from_nn_layers(device, dtype, use_sdpa, bias, tie):
    config = tiny_config(use_sdpa=use_sdpa, bias=bias, tie_weights=tie)
    model = GPT(config).to(device, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ReferenceGPT(config).to(device, dtype).copy_from(model)
    idx = torch.randint(0, V, (3, 12), device=device)
    tol = {"atol": 1e-12, "rtol": 1e-12} if dtype == torch.float64 else {"atol": 1e-5, "rtol": 1e-5}
    torch.testing.assert_close(model(idx), ref(idx), **tol)


def test_changing_a_token_leaves_earlier_logits_unchanged(device):
    model = GPT(tiny_config(use_sdpa=False)).to(device, torch.float64)
    idx = torch.randint(0, V, (2, 12), device=device)
    t = 7
    changed = idx.clone()
    changed[:, t] = (idx[:, t] + 1) % V
    a, b = model(idx), model(changed)
    torch.testing.assert_close(a[:, :t], b[:, :t], atol=0, rtol=0)  # bit-for-bit
    assert (a[:, t:] - b[:, t:]).abs().amax(dim=-1).min() > 0  # every later position noticed


@pytest.mark.parametrize("use_sdpa", [True, False])
def test_kv_cache_forward_equals_full_forward(device, use_sdpa):
    model = GPT(tiny_config(use_sdpa=use_sdpa)).to(device, torch.float64).eval()
    idx = torch.randint(0, V, (2, 12), device=device)
    cache = model.new_kv_cache()
    with torch.no_grad():
        full = model(idx)
        parts = [model(idx[:, :5], kv_cache=cache)]
        parts += [model(idx[:, t : t + 1], kv_cache=cache) for t in range(5, 10)]
        parts.append(model(idx[:, 10:], kv_cache=cache))
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    "settings",
    [{"temperature": 1.0}, {"temperature": 0.8, "top_k": 5}, {"top_p": 0.9},
     {"temperature": 0.0}],
)
def test_cached_generation_equals_recomputation(device, dtype, settings):
    model = GPT(tiny_config(dropout=0.1)).to(device, dtype)
    prompt = torch.randint(0, V, (2, 3), device=device)
    # 3 + 20 tokens pass context_length 12: the window slides and the cache is rebuilt.
    runs = [
        model.generate(prompt, 20, generator=torch.Generator(device).manual_seed(5),
                       use_cache=use_cache, **settings)
        for use_cache in (True, False)
    ]
    assert runs[0].shape == (2, 23)
    assert torch.equal(runs[0], runs[1])
    assert torch.equal(runs[0][:, :3], prompt)
    assert model.training  # generate restores the mode it found


@pytest.mark.parametrize("use_sdpa", [True, False])
def test_cached_step_logits(device, use_sdpa):
    """The lean per-token step gives the logits of a full recomputation (float64, tight), and
    the very bits of ``forward`` with the cache, which generation used before it (float32)."""
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, None)):
        model = GPT(tiny_config(use_sdpa=use_sdpa)).to(device, dtype).eval()
        seq = torch.randint(0, V, (3, 12), device=device)
        lean, full = model.new_kv_cache(), model.new_kv_cache()
        with torch.no_grad():
            model(seq[:, :2], kv_cache=lean)
            model(seq[:, :2], kv_cache=full)
            for t in range(2, 12):
                step = model._step(seq[:, t : t + 1], lean)  # (3, V)
                assert torch.equal(step, model(seq[:, t : t + 1], kv_cache=full)[:, -1])
                if tol:
                    torch.testing.assert_close(step, model(seq[:, : t + 1])[:, -1], atol=tol,
                                               rtol=tol)


def old_generate(model, idx, n, temperature=1.0, top_k=None, top_p=None, generator=None,
                 use_cache=True):
    """``GPT.generate`` before the redesign: its own loop, ``forward`` with the cache per token,
    and the sampling formula inline."""
    C = model.config.context_length
    model.eval()
    cache = None
    with torch.no_grad():
        for _ in range(n):
            L = idx.shape[1]
            if not use_cache:
                logits = model(idx[:, -C:])[:, -1]
            elif cache is None or L > C:
                cache = model.new_kv_cache()
                logits = model(idx[:, -C:], kv_cache=cache)[:, -1]
            else:
                logits = model(idx[:, -1:], kv_cache=cache)[:, -1]
            if temperature == 0:
                nxt = logits.argmax(dim=-1)
            else:
                logits = logits / temperature
                if top_k is not None:
                    logits = top_k_filter(logits, top_k)
                if top_p is not None:
                    logits = top_p_filter(logits, top_p)
                nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]
            idx = torch.cat([idx, nxt[:, None]], dim=1)
    return idx


@pytest.mark.parametrize("use_sdpa", [True, False])
@pytest.mark.parametrize(
    "settings",
    [{"temperature": 0.5}, {"temperature": 1.0}, {"temperature": 1.5}, {"temperature": 0.0},
     {"top_k": 5}, {"top_p": 0.9}, {"temperature": 0.7, "top_k": 5, "top_p": 0.9}],
)
def test_generate_draws_what_the_old_loop_drew(use_sdpa, settings):
    """The pages store text sampled with fixed generators (prompt 4, 160 tokens past a context
    of 12 here, as 4 + 160 tokens pass 64 there): the new path must give the same tokens."""
    torch.manual_seed(1)
    model = GPT(tiny_config(vocab_size=34, use_sdpa=use_sdpa))
    with torch.no_grad():
        model.tok_emb.weight.mul_(25.0)  # peaky distributions, so the draws are not near-uniform
    prompt = torch.randint(0, 34, (3, 4))
    for seed in range(3):
        for use_cache in (True, False):
            new = model.generate(prompt, 40, generator=torch.Generator().manual_seed(seed),
                                 use_cache=use_cache, **settings)
            old = old_generate(model, prompt, 40, generator=torch.Generator().manual_seed(seed),
                               use_cache=use_cache, **settings)
            assert torch.equal(new, old)


def test_generate_without_cache_is_decoding_sample():
    model = GPT(tiny_config()).double().eval()
    prompt = torch.randint(0, V, (2, 4))
    ours = model.generate(prompt, 10, top_k=4, generator=torch.Generator().manual_seed(0),
                          use_cache=False)
    with torch.no_grad():
        theirs = sample(model.logits_fn(), prompt, 10, top_k=4,
                        generator=torch.Generator().manual_seed(0))
        greedy = greedy_decode(model.logits_fn(), prompt, 10)
    assert torch.equal(ours, theirs)
    assert torch.equal(model.generate(prompt, 10, temperature=0.0), greedy)


def test_length_errors():
    model = GPT(tiny_config())
    with pytest.raises(ValueError, match=r"sequence length 13 .* exceeds context_length \(12\)"):
        model(torch.zeros(1, 13, dtype=torch.long))
    cache = model.new_kv_cache()
    with torch.no_grad():
        model(torch.zeros(1, 10, dtype=torch.long), kv_cache=cache)
        with pytest.raises(ValueError, match="after 10 cached positions"):
            model(torch.zeros(1, 3, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match=r"prompt length 13 exceeds context_length \(12\)"):
        model.generate(torch.zeros(1, 13, dtype=torch.long), 1)


def test_input_errors():
    model = GPT(tiny_config())
    ids = torch.zeros(1, 3, dtype=torch.long)
    with pytest.raises(TypeError, match="idx must be an integer tensor"):
        model(torch.zeros(1, 3))
    with pytest.raises(TypeError, match="idx must hold int64 or int32 token ids"):
        model(torch.zeros(1, 3, dtype=torch.int16))
    with pytest.raises(ValueError, match="idx must have 2 dimensions"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"idx must be \(B, T\) with T >= 1"):
        model(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"one KVCache per block \(2\)"):
        model(ids, kv_cache=model.new_kv_cache()[:1])
    with pytest.raises(TypeError, match="kv_cache must be a list of KVCache"):
        model(ids, kv_cache=model.new_kv_cache()[0])
    with pytest.raises(ValueError, match=r"idx must be \(B, T\) with T >= 1"):
        model.generate(torch.zeros(1, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 0"):
        model.generate(ids, -1)
    with pytest.raises(ValueError, match="configs differ"):
        ReferenceGPT(tiny_config(n_layers=1)).copy_from(model)


@pytest.mark.parametrize("bad", [V, -1, 100])
def test_ids_outside_the_vocabulary_are_a_value_error(bad):
    model = GPT(tiny_config())
    ids = torch.tensor([[1, bad, 2]])
    message = rf"idx must hold token ids in \[0, {V}\), got values in \[{min(bad, 1)}, "
    with pytest.raises(ValueError, match=message):
        model(ids)  # not an IndexError from inside the embedding
    with pytest.raises(ValueError, match=message):
        model.generate(ids, 2)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"temperature": -0.5}, ValueError, "temperature must be a number >= 0"),
        ({"top_k": 0}, ValueError, "top_k must be a positive int"),
        ({"top_p": 1.5}, ValueError, r"top_p must be a number in \(0, 1\], got 1.5"),
        ({"generator": 5}, TypeError, "generator must be a torch.Generator or None"),
        ({"use_cache": 1}, TypeError, "use_cache must be a bool"),
    ],
)
def test_generate_names_the_bad_setting(kwargs, error, message):
    with pytest.raises(error, match=message):
        GPT(tiny_config()).generate(torch.zeros(1, 2, dtype=torch.long), 3, **kwargs)


def test_generate_takes_the_sampling_settings_as_keywords():
    with pytest.raises(TypeError, match="positional"):
        GPT(tiny_config()).generate(torch.zeros(1, 2, dtype=torch.long), 3, 1.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"d_model": 15}, r"d_model \(15\) must be divisible by n_heads \(2\)"),
        ({"dropout": -0.1}, "dropout"),
        ({"context_length": 0}, "context_length"),
        ({"vocab_size": 3.0}, "vocab_size"),
        ({"layer_norm_eps": 0}, "layer_norm_eps"),
        ({"d_ff": 0}, "d_ff"),
    ],
)
def test_config_validation(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**overrides)


def test_config_default_d_ff():
    assert tiny_config().d_ff == 64


def test_weight_tying_shares_storage():
    tied = GPT(tiny_config())
    assert tied.lm_head.weight is tied.tok_emb.weight
    assert tied.lm_head.weight.data_ptr() == tied.tok_emb.weight.data_ptr()
    lm_loss(tied(torch.randint(0, V, (2, 5))), torch.randint(0, V, (2, 5))).backward()
    # One gradient collects both uses: the embedding rows of unused tokens get the head's part.
    assert tied.tok_emb.weight.grad.abs().sum(dim=1).gt(0).all()
    untied = GPT(tiny_config(tie_weights=False))
    assert untied.lm_head.weight.data_ptr() != untied.tok_emb.weight.data_ptr()
    reloaded = GPT(tiny_config())
    reloaded.load_state_dict(tied.state_dict())
    assert reloaded.lm_head.weight is reloaded.tok_emb.weight
    torch.testing.assert_close(reloaded.lm_head.weight, tied.tok_emb.weight)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"tie_weights": False}, {"bias": False}, {"bias": False, "tie_weights": False},
     {"d_ff": 40, "n_layers": 3}],
)
def test_param_count_formula(overrides):
    config = tiny_config(**overrides)
    assert gpt_param_count(config) == sum(p.numel() for p in GPT(config).parameters())


def test_lm_loss():
    logits = torch.randn(2, 5, V, dtype=torch.float64)
    targets = torch.randint(0, V, (2, 5))
    expected = -torch.log_softmax(logits, -1).gather(-1, targets[..., None]).mean()
    torch.testing.assert_close(lm_loss(logits, targets), expected)
    # the course's from-scratch cross-entropy computes the same loss...
    torch.testing.assert_close(lm_loss(logits, targets), cross_entropy(logits, targets))
    padded = targets.clone()
    padded[1, 3:] = -100
    torch.testing.assert_close(lm_loss(logits, padded),
                               cross_entropy(logits, padded, ignore_index=-100))
    # ...and lm_loss is torch's fused op, bit for bit: the pages train with it and print losses.
    z = torch.randn(4, 7, V)
    y = torch.randint(0, V, (4, 7))
    assert torch.equal(lm_loss(z, y), F.cross_entropy(z.flatten(0, 1), y.flatten()))
    with pytest.raises(ValueError, match=r"logits must be \(B, T, V\)"):
        lm_loss(logits, targets[:, :4])
    with pytest.raises(ValueError, match="logits must have 3 dimensions"):
        lm_loss(logits[0], targets[0])
    with pytest.raises(TypeError, match="targets must be an integer tensor"):
        lm_loss(logits, targets.double())
    with pytest.raises(ValueError, match=rf"targets must be token ids in \[0, {V}\) or "
                                         r"ignore_index \(-100\), got 13"):
        lm_loss(logits, torch.full((2, 5), V))


def test_tiny_batch_overfits():
    torch.manual_seed(0)
    model = GPT(tiny_config(d_model=32, context_length=16))
    data = torch.randint(0, V, (4, 17))
    batch = (data[:, :-1], data[:, 1:])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    start = lm_batch_loss(model, batch).item()
    for _ in range(150):
        loss = lm_batch_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert start > 2.0  # about log V
    assert loss.item() < 0.05
    assert F.cross_entropy(model(batch[0]).flatten(0, 1), batch[1].flatten()).item() < 0.05
