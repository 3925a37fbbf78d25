import itertools

import pytest
import torch

from lessons_pkg.decoding import (
    beam_search,
    greedy_decode,
    sample,
    sample_next,
    top_k_filter,
    top_p_filter,
)

EOS = 0


def toy_logits_fn(V: int, seed: int = 0):
    """A fixed scoring model: the logits of a prefix are a deterministic random function of the
    whole prefix (so beam search and brute force see the same model in any call order)."""

    def logits_of(prefix: tuple[int, ...]) -> torch.Tensor:
        key = seed + sum((t + 1) * 31**i for i, t in enumerate(prefix))
        return 2.0 * torch.randn(V, generator=torch.Generator().manual_seed(key),
                                 dtype=torch.float64)

    def step(prefix: torch.Tensor) -> torch.Tensor:
        return torch.stack([logits_of(tuple(row.tolist())) for row in prefix])

    return step


def brute_force(step, prefix, V, n_max, eos_id, alpha):
    """Score every complete continuation: ends in eos, or reaches n_max tokens."""
    results = []
    for n in range(1, n_max + 1):
        for seq in itertools.product(range(V), repeat=n):
            if eos_id is not None and eos_id in seq[:-1]:
                continue
            if n < n_max and (eos_id is None or seq[-1] != eos_id):
                continue
            log_prob = 0.0
            for i in range(n):
                ctx = torch.tensor([prefix + list(seq[:i])])
                log_prob += torch.log_softmax(step(ctx)[0], -1)[seq[i]].item()
            results.append((log_prob / n**alpha, prefix + list(seq)))
    return sorted(results, reverse=True)


# ---------------------------------------------------------------- filters


def test_top_k_keeps_the_k_largest():
    logits = torch.randn(4, 3, 10, dtype=torch.float64)
    kept = top_k_filter(logits, 3)
    assert torch.all(torch.isfinite(kept).sum(-1) == 3)
    expected = torch.topk(logits, 3, dim=-1).indices.sort(-1).values
    assert torch.equal(torch.isfinite(kept).nonzero()[:, -1].view(4, 3, 3), expected)
    torch.testing.assert_close(kept[torch.isfinite(kept)], logits[torch.isfinite(kept)])
    assert top_k_filter(logits, 10) is logits
    ties = torch.tensor([[1.0, 3.0, 2.0, 2.0, 0.0]])
    assert torch.isfinite(top_k_filter(ties, 2)).tolist() == [[False, True, True, True, False]]
    with pytest.raises(ValueError, match="k must be a positive int, got 0"):
        top_k_filter(logits, 0)
    for bad in (2.0, True):
        with pytest.raises(TypeError, match="k must be an int"):
            top_k_filter(logits, bad)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9, 0.999])
def test_top_p_keeps_the_minimal_nucleus(p):
    logits = 2 * torch.randn(64, 20, dtype=torch.float64)
    probs = torch.softmax(logits, -1)
    kept = torch.isfinite(top_p_filter(logits, p))
    for row_p, row_kept in zip(probs, kept, strict=True):
        mass = row_p[row_kept].sum()
        assert mass >= p  # enough mass
        assert mass - row_p[row_kept].min() < p  # minimal: dropping the smallest falls short
        if (~row_kept).any():  # the kept tokens are the most probable ones
            assert row_p[row_kept].min() >= row_p[~row_kept].max()
    filtered = top_p_filter(logits, p)
    torch.testing.assert_close(filtered[kept], logits[kept])


def test_top_p_edge_cases():
    logits = torch.tensor([[0.0, 5.0, 1.0]])
    assert torch.isfinite(top_p_filter(logits, 1e-6)).tolist() == [[False, True, False]]
    assert top_p_filter(logits, 1.0) is logits
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"p must be a number in \(0, 1\]"):
            top_p_filter(logits, bad)


# ---------------------------------------------------------------- sampling one token


def test_sample_next_follows_the_tempered_distribution():
    logits = torch.tensor([[1.0, 0.0, -1.0]]).expand(20000, 3)
    for temperature in (0.5, 2.0):
        g = torch.Generator().manual_seed(0)
        draws = sample_next(logits, temperature=temperature, generator=g)
        freq = torch.bincount(draws, minlength=3) / draws.numel()
        torch.testing.assert_close(freq, torch.softmax(logits[0] / temperature, -1),
                                   atol=0.015, rtol=0)
    # top-k 2 then top-p 0.6: of probabilities ∝ (e, 1) the nucleus keeps only the first.
    assert torch.all(sample_next(logits[:50], top_k=2, top_p=0.6) == 0)
    g = torch.Generator().manual_seed(1)
    draws = sample_next(logits, top_k=2, generator=g)
    assert set(draws.tolist()) == {0, 1}


def test_sample_next_greedy_and_reproducible():
    logits = torch.randn(8, 50)
    assert torch.equal(sample_next(logits, temperature=0), logits.argmax(-1))
    a = sample_next(logits, generator=torch.Generator().manual_seed(3))
    b = sample_next(logits, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):
        sample_next(logits, temperature=-1.0)
    with pytest.raises(ValueError, match="logits must have 2 dimensions"):
        sample_next(logits[0])
    with pytest.raises(TypeError, match="positional"):
        sample_next(logits, 1.0)  # the settings are keywords, the same everywhere


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"temperature": True}, TypeError, "temperature must be a number, got bool"),
        ({"temperature": float("nan")}, ValueError, "temperature must be a number >= 0"),
        ({"top_k": 0}, ValueError, "top_k must be a positive int, got 0"),
        ({"top_k": 2.0}, TypeError, "top_k must be an int, got float"),
        ({"top_p": 1.5}, ValueError, r"top_p must be a number in \(0, 1\], got 1.5"),
        ({"top_p": 0.0}, ValueError, r"top_p must be a number in \(0, 1\]"),
        ({"top_p": "0.9"}, TypeError, "top_p must be a number, got str"),
        ({"generator": 0}, TypeError, "generator must be a torch.Generator or None, got int"),
    ],
)
def test_sampling_settings_are_checked_and_named_as_passed(kwargs, error, message):
    logits = torch.randn(2, 5)
    with pytest.raises(error, match=message):
        sample_next(logits, **kwargs)
    with pytest.raises(error, match=message):  # before the first call of logits_fn
        sample(lambda p: pytest.fail("called"), torch.zeros(2, 1, dtype=torch.long), 3, **kwargs)
    with pytest.raises(TypeError, match="logits must be a floating-point tensor"):
        sample_next(torch.zeros(2, 5, dtype=torch.long))


def old_sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """``sample_next`` before the redesign, as it was (the filters are unchanged)."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


SETTINGS = [{"temperature": 0.5}, {"temperature": 1.0}, {"temperature": 1.5},
            {"temperature": 0.0}, {"top_k": 5}, {"top_p": 0.9},
            {"temperature": 0.7, "top_k": 5, "top_p": 0.9}]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("settings", SETTINGS)
def test_sample_next_draws_what_the_old_formula_drew(dtype, settings):
    """The stored pages sample with fixed generators: the same random numbers must be consumed
    in the same way, and the probabilities computed by the same operations."""
    for seed in range(5):
        logits = 3 * torch.randn(16, 34, dtype=dtype, generator=torch.Generator().manual_seed(seed))
        new = sample_next(logits, generator=torch.Generator().manual_seed(seed), **settings)
        old = old_sample_next(logits, generator=torch.Generator().manual_seed(seed), **settings)
        assert torch.equal(new, old)


def test_sample_is_the_old_loop():
    """``sample`` draws as the old loop did: one ``sample_next`` per step, on all rows."""
    logits_fn = toy_logits_fn(7, seed=2)
    prefix = torch.tensor([[1], [2], [3]])
    for seed in range(5):
        for settings in SETTINGS:
            g = torch.Generator().manual_seed(seed)
            tokens = prefix
            for _ in range(9):
                nxt = old_sample_next(logits_fn(tokens), generator=g, **settings)
                tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            new = sample(logits_fn, prefix, 9, generator=torch.Generator().manual_seed(seed),
                         **settings)
            assert torch.equal(new, tokens)


# ---------------------------------------------------------------- greedy and sampled sequences


def counting_step(V):
    """Next token = last + 1 (mod V), with certainty."""
    return lambda prefix: 10.0 * torch.nn.functional.one_hot((prefix[:, -1] + 1) % V, V).double()


def test_greedy_decode_follows_the_argmax_and_stops_at_eos():
    out = greedy_decode(counting_step(5), torch.tensor([[1], [3]]), 6)
    assert out.tolist() == [[1, 2, 3, 4, 0, 1, 2], [3, 4, 0, 1, 2, 3, 4]]
    out = greedy_decode(counting_step(5), torch.tensor([[1], [3]]), 6, eos_id=EOS)
    assert out.tolist() == [[1, 2, 3, 4, 0], [3, 4, 0, 0, 0]]  # finished rows repeat eos


def test_sample_is_reproducible_and_respects_eos():
    step = toy_logits_fn(6)
    prefix = torch.tensor([[1], [2], [3]])
    a = sample(step, prefix, 8, top_p=0.9, generator=torch.Generator().manual_seed(0))
    b = sample(step, prefix, 8, top_p=0.9, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    c = sample(step, prefix, 8, eos_id=EOS, generator=torch.Generator().manual_seed(0))
    finished = [row for row in c.tolist() if EOS in row[1:]]
    assert finished  # this seed ends some rows early
    for row in finished:
        assert all(t == EOS for t in row[row.index(EOS, 1) :])
    assert torch.equal(sample(step, prefix, 5, temperature=0), greedy_decode(step, prefix, 5))
    assert torch.equal(sample(step, prefix, 0), prefix)
    int32 = sample(step, prefix.int(), 3, generator=torch.Generator().manual_seed(0))
    assert int32.dtype == torch.int64  # the drawn ids are int64; cat promotes the prompt
    assert torch.equal(int32, sample(step, prefix, 3, generator=torch.Generator().manual_seed(0)))


def test_decode_errors():
    step = counting_step(5)
    with pytest.raises(ValueError, match="prefix must have 2 dimensions"):
        greedy_decode(step, torch.tensor([1, 2]), 3)
    with pytest.raises(ValueError, match=r"prefix must be \(B, L\) token ids with L >= 1"):
        greedy_decode(step, torch.zeros(1, 0, dtype=torch.long), 3)
    with pytest.raises(TypeError, match="prefix must be an integer tensor"):
        greedy_decode(step, torch.tensor([[1.0]]), 3)
    with pytest.raises(TypeError, match="prefix must be a torch.Tensor, got list"):
        greedy_decode(step, [[1]], 3)
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 0"):
        greedy_decode(step, torch.tensor([[1]]), -1)
    with pytest.raises(TypeError, match="max_new_tokens must be an int, got float"):
        greedy_decode(step, torch.tensor([[1]]), 2.0)
    with pytest.raises(ValueError, match="eos_id must be an int >= 0"):
        greedy_decode(step, torch.tensor([[1]]), 2, eos_id=-1)
    with pytest.raises(ValueError, match=r"logits_fn must return \(N, V\) = \(1, V\)"):
        greedy_decode(lambda p: torch.zeros(5), torch.tensor([[1]]), 3)
    with pytest.raises(TypeError, match="logits_fn must return a torch.Tensor, got list"):
        greedy_decode(lambda p: [0.0], torch.tensor([[1]]), 3)


# ---------------------------------------------------------------- beam search


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("eos_id", [EOS, None])
def test_wide_beam_equals_brute_force(alpha, eos_id):
    V, n_max, prefix = 4, 3, [2]
    step = toy_logits_fn(V, seed=7)
    expected = brute_force(step, prefix, V, n_max, eos_id, alpha)
    beams = beam_search(step, torch.tensor(prefix), V**n_max, n_max, eos_id=eos_id,
                        length_penalty=alpha)
    assert len(beams) == len(expected)  # every complete sequence was found...
    for hyp, (score, tokens) in zip(beams[:10], expected[:10], strict=True):  # ...and ranked
        assert hyp.tokens.tolist() == tokens
        assert hyp.score == pytest.approx(score, abs=1e-12)
        assert hyp.log_prob == pytest.approx(score * (len(tokens) - 1) ** alpha, abs=1e-12)


def test_beam_of_one_is_greedy():
    step = toy_logits_fn(5, seed=3)
    best = beam_search(step, torch.tensor([[1]]), 1, 6)[0]
    assert best.tokens.tolist() == greedy_decode(step, torch.tensor([[1]]), 6)[0].tolist()


def test_beam_finds_what_greedy_misses():
    # After prefix [1]: token 2 (p=0.6) then a flat next step; token 3 (p=0.4) then a sure one.
    table = {
        (1,): [0.0, 0.0, 0.6, 0.4],
        (1, 2): [0.25, 0.25, 0.25, 0.25],
        (1, 3): [0.97, 0.01, 0.01, 0.01],
    }

    def step(prefix):
        rows = [table.get(tuple(r.tolist()), [1.0, 0, 0, 0]) for r in prefix]
        return torch.tensor(rows, dtype=torch.float64).log()

    greedy = greedy_decode(step, torch.tensor([[1]]), 2, eos_id=EOS)[0].tolist()
    assert greedy[:2] == [1, 2]
    best = beam_search(step, torch.tensor([1]), 2, 2, eos_id=EOS)[0]
    assert best.tokens.tolist() == [1, 3, 0]
    assert best.log_prob == pytest.approx(float(torch.tensor(0.4 * 0.97).log()))


def test_beam_search_length_penalty_prefers_longer_outputs():
    # eos right away has p=0.5; a 4-token continuation has mean log-prob above log 0.5.
    def step(prefix):
        n = prefix.shape[1]
        row = [0.5, 0.5, 0.0, 0.0] if n == 1 else ([0.05, 0.95, 0, 0] if n < 4 else [1.0, 0, 0, 0])
        return torch.tensor([row] * prefix.shape[0], dtype=torch.float64).log()

    short = beam_search(step, torch.tensor([3]), 2, 6, eos_id=EOS, length_penalty=0.0)[0]
    long = beam_search(step, torch.tensor([3]), 2, 6, eos_id=EOS, length_penalty=1.0)[0]
    assert short.tokens.tolist() == [3, 0]
    assert long.tokens.tolist() == [3, 1, 1, 1, 0]


def test_beam_search_errors():
    step = toy_logits_fn(4)
    with pytest.raises(ValueError, match="decodes one sequence"):
        beam_search(step, torch.tensor([[1], [2]]), 2, 3)
    with pytest.raises(ValueError, match="prefix must have 1 or 2 dimensions"):
        beam_search(step, torch.tensor([[[1]]]), 2, 3)
    with pytest.raises(ValueError, match="beam_size must be a positive int, got 0"):
        beam_search(step, torch.tensor([1]), 0, 3)
    with pytest.raises(ValueError, match="max_new_tokens must be a positive int, got 0"):
        beam_search(step, torch.tensor([1]), 2, 0)
    with pytest.raises(ValueError, match="length_penalty must be a number >= 0"):
        beam_search(step, torch.tensor([1]), 2, 3, length_penalty=-1.0)
    with pytest.raises(ValueError, match=r"logits_fn must return \(N, V\)"):
        beam_search(lambda p: torch.zeros(4), torch.tensor([1]), 2, 3)
