import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessons_pkg.attention import (
    KVCache,
    LearnedPositionalEncoding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    apply_rotary,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)

TOL = {torch.float64: {"atol": 1e-12, "rtol": 1e-12}, torch.float32: {"atol": 1e-5, "rtol": 1e-5}}


def random_mask(shape, device):
    """A random boolean mask with at least one True per row (entry (i, i mod S) forced on)."""
    mask = torch.rand(shape, device=device) < 0.5
    rows = torch.arange(shape[-2], device=device)
    mask[..., rows, rows % shape[-1]] = True
    return mask


# ---------------------------------------------------------------- scaled dot-product attention


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["none", "causal", "random", "broadcast"])
def test_sdpa_matches_torch(device, dtype, kind):
    B, H, T, S, Dk, Dv = 2, 3, 5, 7, 4, 6
    q = torch.randn(B, H, T, Dk, device=device, dtype=dtype)
    k = torch.randn(B, H, S, Dk, device=device, dtype=dtype)
    v = torch.randn(B, H, S, Dv, device=device, dtype=dtype)
    mask = {
        "none": None,
        "causal": causal_mask(T, device, key_length=S),
        "random": random_mask((B, H, T, S), device),
        "broadcast": random_mask((B, 1, 1, S), device),
    }[kind]
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    assert weights.shape == (B, H, T, S)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, H, T, device=device, dtype=dtype),
                               **TOL[dtype])
    if mask is not None:
        blocked = ~torch.broadcast_to(mask, weights.shape)
        assert torch.all(weights[blocked] == 0)  # exactly zero, not just small
        assert torch.all(weights[~blocked] > 0)


def test_sdpa_uses_per_head_key_width():
    # With d_k = 16 the scale is 1/4: scores of q = k = e_0 * 4 are 16 / 4 = 4 before softmax.
    q = torch.zeros(1, 1, 16, dtype=torch.float64)
    q[0, 0, 0] = 4.0
    k = torch.cat([q[0], torch.zeros(1, 16, dtype=torch.float64)])[None]  # (1, 2, 16)
    v = torch.eye(2, dtype=torch.float64)[None]
    _, w = scaled_dot_product_attention(q, k, v)
    expected = torch.softmax(torch.tensor([4.0, 0.0], dtype=torch.float64), 0)
    torch.testing.assert_close(w[0, 0], expected, atol=1e-15, rtol=0)


def test_sdpa_dropout_only_in_training():
    q, k, v = torch.randn(2, 4, 8), torch.randn(2, 6, 8), torch.randn(2, 6, 8)
    out_eval, _ = scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=False)
    plain, _ = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out_eval, plain)
    out_train, weights = scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=True)
    assert not torch.allclose(out_train, plain)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4))  # weights before dropout


def test_sdpa_empty_row_names_the_rows():
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 4)
    mask = torch.ones(2, 3, 5, dtype=torch.bool)
    mask[1, 2] = False
    with pytest.raises(ValueError, match=r"1 query row.*\(1, 2\)"):
        scaled_dot_product_attention(q, k, v, mask)


def test_sdpa_argument_errors():
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(q, k, v, torch.ones(3, 5))
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="d_k"):
        scaled_dot_product_attention(q, torch.randn(2, 5, 3), v)
    with pytest.raises(ValueError, match="same length S"):
        scaled_dot_product_attention(q, k, torch.randn(2, 4, 6))
    with pytest.raises(ValueError, match="at least 2 dims"):
        scaled_dot_product_attention(torch.randn(4), k, v)
    with pytest.raises(ValueError, match="dropout_p"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    with pytest.raises(TypeError, match="k must be a torch.Tensor, got list"):
        scaled_dot_product_attention(q, [[1.0]], v)


# ---------------------------------------------------------------- masks


def test_causal_mask():
    torch.testing.assert_close(causal_mask(4), torch.ones(4, 4, dtype=torch.bool).tril())
    # Queries are the last 2 of 5 positions: query 0 sees keys 0..3, query 1 sees all.
    expected = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    torch.testing.assert_close(causal_mask(2, key_length=5), expected)
    with pytest.raises(ValueError, match="key_length"):
        causal_mask(3, key_length=2)
    with pytest.raises(ValueError, match="T must be"):
        causal_mask(0)
    with pytest.raises(TypeError, match="key_length must be an int, got float"):
        causal_mask(2, key_length=5.0)


def test_padding_mask_from_lengths_and_pad_flags():
    expected = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.bool)
    torch.testing.assert_close(padding_mask(torch.tensor([3, 1]), max_len=4), expected)
    torch.testing.assert_close(padding_mask(torch.tensor([3, 1])), expected[:, :3])
    tokens = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0]])
    torch.testing.assert_close(padding_mask(tokens == 0), expected)


def test_padding_mask_errors():
    with pytest.raises(TypeError, match="integer tensor of lengths"):
        padding_mask(torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="1-D"):
        padding_mask(torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match=">= 0"):
        padding_mask(torch.tensor([-1, 2]))
    with pytest.raises(ValueError, match="max_len"):
        padding_mask(torch.tensor([5]), max_len=3)
    with pytest.raises(ValueError, match=r"\(B, S\)"):
        padding_mask(torch.tensor([True, False]))
    with pytest.raises(TypeError, match="lengths_or_pad must be a torch.Tensor, got list"):
        padding_mask([3, 1])


# ---------------------------------------------------------------- multi-head attention


def make_pair(d_model, n_heads, dtype, device, bias=True, use_sdpa=False):
    ref = nn.MultiheadAttention(d_model, n_heads, bias=bias, batch_first=True)
    mine = MultiHeadAttention(d_model, n_heads, bias=bias, use_sdpa=use_sdpa).copy_from_torch(ref)
    return mine.to(device, dtype), ref.to(device, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_self_attention_matches_nn_multihead_attention(device, dtype, bias):
    B, T, D, H = 3, 6, 16, 4
    mine, ref = make_pair(D, H, dtype, device, bias)
    x = torch.randn(B, T, D, device=device, dtype=dtype)
    mask = causal_mask(T, device)
    key_mask = padding_mask(torch.tensor([6, 4, 1], device=device), max_len=T)
    out, w = mine(x, mask=mask, key_mask=key_mask)
    # nn.MultiheadAttention's masks mean True = NOT allowed: invert both.
    ref_out, ref_w = ref(x, x, x, attn_mask=~mask, key_padding_mask=~key_mask,
                         average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, **TOL[dtype])
    torch.testing.assert_close(w, ref_w, **TOL[dtype])
    _, w_avg = mine(x, is_causal=True, key_mask=key_mask, average_heads=True)
    _, ref_avg = ref(x, x, x, attn_mask=~mask, key_padding_mask=~key_mask)
    torch.testing.assert_close(w_avg, ref_avg, **TOL[dtype])
    assert torch.all(w.masked_select(~(mask & key_mask[:, None, None, :])) == 0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("same_kv", [True, False])
def test_mha_cross_attention_matches_nn_multihead_attention(device, dtype, same_kv):
    B, T, S, D, H = 2, 4, 7, 12, 3
    mine, ref = make_pair(D, H, dtype, device)
    query = torch.randn(B, T, D, device=device, dtype=dtype)
    key = torch.randn(B, S, D, device=device, dtype=dtype)
    value = key if same_kv else torch.randn(B, S, D, device=device, dtype=dtype)
    key_mask = padding_mask(torch.tensor([7, 3], device=device))
    out, w = mine(query, key, value, key_mask=key_mask)
    ref_out, ref_w = ref(query, key, value, key_padding_mask=~key_mask,
                         average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, **TOL[dtype])
    torch.testing.assert_close(w, ref_w, **TOL[dtype])
    assert w.shape == (B, H, T, S)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_mha_sdpa_fast_path_equals_formula(device, dtype):
    B, T, D, H = 2, 5, 16, 4
    slow = MultiHeadAttention(D, H).to(device, dtype)
    fast = MultiHeadAttention(D, H, use_sdpa=True).to(device, dtype)
    fast.load_state_dict(slow.state_dict())
    x = torch.randn(B, T, D, device=device, dtype=dtype)
    key_mask = padding_mask(torch.tensor([5, 2], device=device))
    head_mask = random_mask((B, H, T, T), device)
    head_mask[..., 0] = True  # the first key survives the causal and padding masks too
    for kwargs in ({}, {"is_causal": True}, {"key_mask": key_mask},
                   {"is_causal": True, "key_mask": key_mask, "mask": head_mask}):
        out_fast, w_fast = fast(x, **kwargs)
        out_slow, _ = slow(x, **kwargs)
        assert w_fast is None  # the fused kernel does not form the weights
        torch.testing.assert_close(out_fast, out_slow, **TOL[dtype])
    _, w = fast(x, need_weights=True)  # asking for weights runs the formula
    assert w.shape == (B, H, T, T)


@pytest.mark.parametrize("use_sdpa", [False, True])
@pytest.mark.parametrize("rotary", [False, True])
def test_mha_kv_cache_equals_full_causal_pass(device, use_sdpa, rotary):
    B, T, D, H = 2, 7, 16, 2
    mha = MultiHeadAttention(D, H, use_sdpa=use_sdpa, rotary=rotary).to(device, torch.float64)
    x = torch.randn(B, T, D, device=device, dtype=torch.float64)
    full, _ = mha(x, is_causal=True)
    cache = KVCache(context_length=T)
    with torch.no_grad():
        parts = [mha(x[:, :3], is_causal=True, kv_cache=cache)[0]]  # a 3-token prefill
        parts += [mha(x[:, t : t + 1], is_causal=True, kv_cache=cache)[0] for t in range(3, 5)]
        parts.append(mha(x[:, 5:], is_causal=True, kv_cache=cache)[0])  # 2 queries, 7 keys
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-12, rtol=1e-12)
    assert len(cache) == T


def test_mha_empty_rows_raise_on_both_paths():
    x = torch.randn(2, 3, 8)
    key_mask = torch.tensor([[True, True, True], [False, False, False]])
    for use_sdpa in (False, True):
        with pytest.raises(ValueError, match="no key to attend to"):
            MultiHeadAttention(8, 2, use_sdpa=use_sdpa)(x, key_mask=key_mask)


def test_mha_argument_errors():
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by n_heads \(4\)"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadAttention(8, 2, dropout=1.5)
    with pytest.raises(TypeError, match="n_heads must be an int, got float"):
        MultiHeadAttention(8, 2.0)
    with pytest.raises(ValueError, match="even head width"):
        MultiHeadAttention(6, 2, rotary=True)
    mha = MultiHeadAttention(8, 2)
    x, mem = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match="together"):
        mha(x, mem)
    with pytest.raises(ValueError, match=r"query must be \(B, T, 8\)"):
        mha(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match=r"key and value must be \(B, S, 8\)"):
        mha(x, mem, torch.randn(2, 4, 8))
    with pytest.raises(ValueError, match=r"mask\[:, None\]"):
        mha(x, mask=torch.ones(2, 3, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask must be a boolean"):
        mha(x, mask=torch.ones(3, 3))
    with pytest.raises(TypeError, match="key_mask must be a boolean tensor"):
        mha(x, key_mask=torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"key_mask must be \(B, S\)"):
        mha(x, mem, mem, key_mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="only supported for self-attention"):
        mha(x, mem, mem, kv_cache=KVCache(8))
    with pytest.raises(ValueError, match="rotary positions are only supported"):
        MultiHeadAttention(8, 2, rotary=True)(x, mem, mem)
    with pytest.raises(ValueError, match="num_heads=4"):
        mha.copy_from_torch(nn.MultiheadAttention(8, 4))
    with pytest.raises(ValueError, match="bias"):
        mha.copy_from_torch(nn.MultiheadAttention(8, 2, bias=False))
    with pytest.raises(ValueError, match="kdim/vdim"):
        mha.copy_from_torch(nn.MultiheadAttention(8, 2, kdim=4, vdim=4))


def test_kv_cache_errors():
    cache = KVCache(context_length=4)
    cache.append(torch.randn(1, 2, 3, 5), torch.randn(1, 2, 3, 5))
    with pytest.raises(ValueError, match="cannot take 2 more: context_length is 4"):
        cache.append(torch.randn(1, 2, 2, 5), torch.randn(1, 2, 2, 5))
    with pytest.raises(ValueError, match="does not fit"):
        cache.append(torch.randn(2, 2, 1, 5), torch.randn(2, 2, 1, 5))
    with pytest.raises(ValueError, match="must agree"):
        cache.append(torch.randn(1, 2, 1, 5), torch.randn(1, 2, 2, 5))
    cache.reset()
    assert len(cache) == 0
    with pytest.raises(ValueError, match="context_length must be"):
        KVCache(0)
    with pytest.raises(TypeError, match="context_length must be an int, got float"):
        KVCache(4.0)
    with pytest.raises(ValueError, match=r"k must have 4 dimensions"):
        KVCache(4).append(torch.randn(2, 3, 5), torch.randn(2, 3, 5))


# ---------------------------------------------------------------- positional encodings


def test_sinusoidal_encoding_follows_the_formula():
    D, L = 6, 9
    pe = SinusoidalPositionalEncoding(D, context_length=L)
    expected = torch.tensor(
        [[math.sin(p / 10000 ** (i / D)) if i % 2 == 0 else math.cos(p / 10000 ** ((i - 1) / D))
          for i in range(D)] for p in range(L)],
        dtype=torch.float64,
    )
    x = torch.zeros(2, L, D, dtype=torch.float64)
    torch.testing.assert_close(pe(x)[1], expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(pe(x[:, :3], offset=4)[0], expected[4:7], atol=1e-12, rtol=0)
    assert pe(torch.zeros(1, 2, D)).dtype == torch.float32
    with pytest.raises(ValueError, match=r"exceed context_length \(9\)"):
        pe(torch.zeros(1, 10, D))
    with pytest.raises(ValueError, match="even"):
        SinusoidalPositionalEncoding(5)


def test_learned_encoding_adds_one_vector_per_position():
    pe = LearnedPositionalEncoding(context_length=8, d_model=4)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(pe(x, offset=2), x + pe.embedding.weight[2:5])
    with pytest.raises(ValueError, match="exceed context_length"):
        pe(x, offset=6)
    with pytest.raises(ValueError, match="context_length must be a positive int, got 0"):
        LearnedPositionalEncoding(4, 0)
    with pytest.raises(TypeError, match="d_model must be an int, got float"):
        LearnedPositionalEncoding(4.0, 8)


def test_rotary_matches_complex_rotation_and_is_relative():
    T, Dh = 5, 8
    x = torch.randn(2, T, Dh, dtype=torch.float64)
    pos = torch.arange(T)
    rotated = apply_rotary(x, pos)
    # Reference: each pair is a complex number multiplied by e^{i·pos·θ_j}, θ_j = 10000^(-2j/Dh).
    theta = 10000.0 ** (-torch.arange(0, Dh, 2, dtype=torch.float64) / Dh)
    z = torch.view_as_complex(x.reshape(2, T, Dh // 2, 2).contiguous())
    expected = torch.view_as_real(z * torch.polar(torch.ones_like(theta), pos[:, None] * theta))
    torch.testing.assert_close(rotated, expected.reshape(2, T, Dh), atol=1e-12, rtol=0)
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-12, rtol=0)
    # q at m and k at n: the score depends only on m - n.
    q, k = torch.randn(1, Dh, dtype=torch.float64), torch.randn(1, Dh, dtype=torch.float64)
    def score(m, n):
        return (apply_rotary(q, torch.tensor([m])) * apply_rotary(k, torch.tensor([n]))).sum()
    torch.testing.assert_close(score(7, 3), score(4, 0), atol=1e-12, rtol=0)
    assert not torch.allclose(score(7, 3), score(3, 7))
    with pytest.raises(ValueError, match="even"):
        apply_rotary(torch.randn(3, 5), torch.arange(3))
    with pytest.raises(ValueError, match=r"positions must have shape \(3,\)"):
        apply_rotary(torch.randn(3, 4), torch.arange(4))
