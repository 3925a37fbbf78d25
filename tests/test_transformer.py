import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessons_pkg.attention import causal_mask
from lessons_pkg.decoding import beam_search, greedy_decode
from lessons_pkg.gpt import lm_loss
from lessons_pkg.transformer import (
    EncoderOnlyTransformer,
    PositionwiseFFN,
    Seq2SeqTransformer,
    TransformerConfig,
    seq2seq_loss,
    seq2seq_param_count,
)

PAD = 0


def tiny_config(**overrides) -> TransformerConfig:
    settings = dict(src_vocab_size=11, tgt_vocab_size=13, d_model=16, n_heads=4,
                    n_encoder_layers=2, n_decoder_layers=2, d_ff=24, dropout=0.0, context_length=16,
                    pad_id=PAD)
    settings.update(overrides)
    return TransformerConfig(**settings)


def padded_batch(device):
    src = torch.randint(1, 11, (3, 7), device=device)
    src[0, 5:] = PAD
    src[1, 3:] = PAD
    tgt = torch.randint(1, 13, (3, 6), device=device)
    tgt[2, 4:] = PAD
    return src, tgt



def torch_reference(config: TransformerConfig) -> nn.Transformer:
    with warnings.catch_warnings():  # nn.TransformerEncoder warns about nested tensors
        warnings.simplefilter("ignore")
        return nn.Transformer(
            config.d_model, config.n_heads, config.n_encoder_layers, config.n_decoder_layers,
            config.d_ff, config.dropout, activation=config.activation,
            layer_norm_eps=config.layer_norm_eps, batch_first=True,
            norm_first=config.norm_first,
        )


@pytest.mark.parametrize(
    ("norm_first", "activation", "use_sdpa"),
    [(False, "relu", False), (True, "relu", False), (False, "gelu", True), (True, "gelu", True)],
)
def test_stacks_match_nn_transformer(device, norm_first, activation, use_sdpa):
    config = tiny_config(norm_first=norm_first, activation=activation, use_sdpa=use_sdpa,
                         n_decoder_layers=3)
    ref = torch_reference(config).to(device, torch.float64)
    model = Seq2SeqTransformer(config).to(device, torch.float64).copy_from_torch(ref)
    src, tgt = padded_batch(device)
    x_src, x_tgt = model.embed_src(src), model.embed_tgt(tgt)
    T = tgt.shape[1]
    # nn.Transformer's masks mean True = NOT allowed; train mode keeps it off its fast path.
    ref.train()
    expected = ref(
        x_src, x_tgt, tgt_mask=~causal_mask(T, device), src_key_padding_mask=src == PAD,
        tgt_key_padding_mask=tgt == PAD, memory_key_padding_mask=src == PAD,
    )
    memory, _ = model.encoder(x_src, src != PAD)
    hidden, _, _ = model.decoder(x_tgt, memory, tgt != PAD, src != PAD)
    torch.testing.assert_close(hidden, expected, atol=1e-10, rtol=1e-10)
    # forward() derives the same padding masks from pad_id.
    torch.testing.assert_close(model(src, tgt), model.generator(hidden), atol=1e-12, rtol=0)


def test_float32_matches_nn_transformer(device):
    config = tiny_config()
    ref = torch_reference(config).to(device)
    model = Seq2SeqTransformer(config).to(device).copy_from_torch(ref)
    src, tgt = padded_batch(device)
    x_src, x_tgt = model.embed_src(src), model.embed_tgt(tgt)
    expected = ref(x_src, x_tgt, tgt_mask=~causal_mask(tgt.shape[1], device),
                   src_key_padding_mask=src == PAD, memory_key_padding_mask=src == PAD)
    memory, _ = model.encoder(x_src, src != PAD)
    hidden, _, _ = model.decoder(x_tgt, memory, None, src != PAD)
    torch.testing.assert_close(hidden, expected, atol=1e-5, rtol=1e-5)


def test_embeddings_are_scaled_and_positioned():
    model = Seq2SeqTransformer(tiny_config()).double()
    src = torch.tensor([[3, 4, 5]])
    expected = model.src_embed(src) * 16**0.5 + model.positions.pe[:3]
    torch.testing.assert_close(model.embed_src(src), expected)


@pytest.mark.parametrize("norm_first", [False, True])
def test_extra_padding_changes_nothing(device, norm_first):
    model = Seq2SeqTransformer(tiny_config(norm_first=norm_first)).to(device, torch.float64)
    src, tgt = padded_batch(device)
    logits = model(src, tgt)
    pad_src = torch.cat([src, torch.full((3, 4), PAD, device=device)], dim=1)
    pad_tgt = torch.cat([tgt, torch.full((3, 2), PAD, device=device)], dim=1)
    torch.testing.assert_close(model(pad_src, pad_tgt)[:, : tgt.shape[1]], logits,
                               atol=1e-12, rtol=0)
    # The check has teeth: without padding masks the extra source tokens do change the output.
    no_mask = Seq2SeqTransformer(tiny_config(norm_first=norm_first, pad_id=None))
    no_mask = no_mask.to(device, torch.float64)
    no_mask.load_state_dict(model.state_dict())
    assert not torch.allclose(no_mask(pad_src, tgt), no_mask(src, tgt))


def test_attention_maps():
    model = Seq2SeqTransformer(tiny_config()).double()
    src, tgt = padded_batch("cpu")
    maps = model.attention_maps(src, tgt)
    assert [w.shape for w in maps["encoder"]] == [(3, 4, 7, 7)] * 2
    assert [w.shape for w in maps["decoder_self"]] == [(3, 4, 6, 6)] * 2
    assert [w.shape for w in maps["cross"]] == [(3, 4, 6, 7)] * 2
    for w in maps["cross"]:
        torch.testing.assert_close(w.sum(-1), torch.ones(3, 4, 6, dtype=torch.float64))
        assert torch.all(w[1, :, :, 3:] == 0)  # padded source positions get no attention
    for w in maps["decoder_self"]:
        assert torch.all(w.triu(1) == 0)  # causal


@pytest.mark.parametrize("tie", [False, True])
@pytest.mark.parametrize("layers", [(1, 1), (2, 3)])
def test_param_count_formula(tie, layers):
    config = tiny_config(tie_embeddings=tie, n_encoder_layers=layers[0],
                         n_decoder_layers=layers[1], tgt_vocab_size=11)
    model = Seq2SeqTransformer(config)
    assert seq2seq_param_count(config) == sum(p.numel() for p in model.parameters())
    if tie:
        assert model.generator.weight is model.tgt_embed.weight


def test_seq2seq_loss_skips_padding():
    logits = torch.randn(2, 4, 13, dtype=torch.float64)
    targets = torch.tensor([[3, 4, 5, PAD], [6, PAD, PAD, PAD]])
    keep = targets != PAD
    expected = -torch.log_softmax(logits, -1)[keep].gather(-1, targets[keep][:, None]).mean()
    torch.testing.assert_close(seq2seq_loss(logits, targets, pad_id=PAD), expected)
    # a thin use of lm_loss, bit for bit the fused op it computed before (the page trains with it)
    z = torch.randn(3, 4, 13)
    old = F.cross_entropy(z.flatten(0, 1), targets[:1].expand(3, -1).flatten(), ignore_index=PAD)
    assert torch.equal(seq2seq_loss(z, targets[:1].expand(3, -1), pad_id=PAD), old)
    assert torch.equal(seq2seq_loss(z, targets[:1].expand(3, -1).clamp(min=1)),
                       lm_loss(z, targets[:1].expand(3, -1).clamp(min=1)))
    with pytest.raises(ValueError, match=r"logits must be \(B, T, V\)"):
        seq2seq_loss(logits, targets[:, :3])


def test_overfits_reversal_and_decodes_it():
    torch.manual_seed(0)
    BOS, EOS = 1, 2
    config = tiny_config(d_model=32, d_ff=64, n_encoder_layers=1, n_decoder_layers=1,
                         src_vocab_size=10, tgt_vocab_size=10, n_heads=2)
    model = Seq2SeqTransformer(config)
    seqs = [[3, 4, 5, 6, 7], [8, 3, 9], [5, 5, 4, 9], [7, 6]]
    src = torch.tensor([s + [PAD] * (5 - len(s)) for s in seqs])
    out = [s[::-1] + [EOS] for s in seqs]
    tgt = torch.tensor([o + [PAD] * (6 - len(o)) for o in out])
    tgt_in = torch.cat([torch.full((4, 1), BOS), tgt[:, :-1]], dim=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = seq2seq_loss(model(src, tgt_in), tgt, pad_id=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    model.eval()
    with torch.no_grad():
        decoded = greedy_decode(model.logits_fn(src), torch.full((4, 1), BOS), 8, eos_id=EOS)
        for i, o in enumerate(out):
            assert decoded[i, 1 : len(o) + 1].tolist() == o
            best = beam_search(model.logits_fn(src[i : i + 1]), torch.tensor([BOS]), 3, 8, EOS)
            assert best[0].tokens[1:].tolist() == o


def test_step_fn_batch_mismatch():
    model = Seq2SeqTransformer(tiny_config())
    step = model.logits_fn(torch.randint(1, 11, (2, 4)))
    assert step(torch.ones(2, 3, dtype=torch.long)).shape == (2, 13)
    with pytest.raises(ValueError, match=r"prefix batch \(3\) must equal the source batch \(2\)"):
        step(torch.ones(3, 1, dtype=torch.long))


def test_input_errors():
    model = Seq2SeqTransformer(tiny_config())
    with pytest.raises(ValueError, match=r"src has length 17 > context_length \(16\)"):
        model(torch.ones(1, 17, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="tgt_in must be an integer tensor"):
        model(torch.ones(1, 3, dtype=torch.long), torch.ones(1, 2))
    with pytest.raises(ValueError, match=r"src must have 2 dimensions, got shape \(3,\)"):
        model(torch.ones(3, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tgt_in must hold token ids in \[0, 13\), got values "
                                         r"in \[1, 13\]"):
        model(torch.ones(1, 3, dtype=torch.long), torch.tensor([[1, 13]]))
    with pytest.raises(TypeError, match="src must be an int64 or int32 tensor"):
        model(torch.ones(1, 3, dtype=torch.uint8), torch.ones(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="no key to attend to"):  # an all-padding source
        model(torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="3 encoder and 2 decoder layers"):
        model.copy_from_torch(torch_reference(tiny_config(n_encoder_layers=3)))
    with pytest.raises(ValueError, match="activation must be one of"):
        PositionwiseFFN(4, 8, activation="tanh")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"d_model": 18}, r"d_model \(18\) must be divisible by n_heads \(4\)"),
        ({"d_model": 15, "n_heads": 3}, "even"),
        ({"dropout": 1.0}, "dropout"),
        ({"pad_id": 11}, "pad_id"),
        ({"activation": "tanh"}, "activation"),
        ({"layer_norm_eps": 0.0}, "layer_norm_eps"),
        ({"n_encoder_layers": 0}, "n_encoder_layers"),
    ],
)
def test_config_validation(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"d_ff": 2.5}, "d_ff must be an int, got float"),
        ({"src_vocab_size": True}, "src_vocab_size must be an int, got bool"),
        ({"pad_id": 1.0}, "pad_id must be an int, got float"),
        ({"dropout": "0.1"}, "dropout must be a number, got str"),
    ],
)
def test_config_type_errors(overrides, message):
    with pytest.raises(TypeError, match=message):
        tiny_config(**overrides)


def torch_encoder(config: TransformerConfig) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        config.d_model, config.n_heads, config.d_ff, config.dropout,
        activation=config.activation, layer_norm_eps=config.layer_norm_eps, batch_first=True,
        norm_first=config.norm_first,
    )
    with warnings.catch_warnings():  # nn.TransformerEncoder warns about nested tensors
        warnings.simplefilter("ignore")
        return nn.TransformerEncoder(
            layer, config.n_encoder_layers,
            norm=nn.LayerNorm(config.d_model, eps=config.layer_norm_eps),
        )


@pytest.mark.parametrize(("norm_first", "use_sdpa"), [(False, False), (True, False), (True, True)])
def test_encoder_only_matches_torch_reference(device, norm_first, use_sdpa):
    config = tiny_config(norm_first=norm_first, use_sdpa=use_sdpa, n_encoder_layers=3)
    ref = torch_encoder(config).to(device, torch.float64).train()  # train(): no fast path
    model = EncoderOnlyTransformer(config, n_classes=3).to(device, torch.float64)
    model.copy_from_torch(ref)
    ids, _ = padded_batch(device)
    pad = ids == PAD
    # The reference: the same embedding tables and heads around nn.TransformerEncoder, whose
    # padding mask means True = ignore, and mean pooling written out over the real tokens.
    x = model.embed(ids) + model.positions.embedding.weight[: ids.shape[1]]
    h = ref(x, src_key_padding_mask=pad)
    torch.testing.assert_close(model(ids)[~pad], model.mlm_head(h)[~pad], atol=1e-10, rtol=1e-10)
    pooled = torch.stack([h[b][~pad[b]].mean(dim=0) for b in range(ids.shape[0])])
    torch.testing.assert_close(model.classify(ids), model.cls_head(pooled), atol=1e-10,
                               rtol=1e-10)
    assert model.classify(ids).shape == (3, 3)


def test_encoder_only_extra_padding_changes_nothing(device):
    model = EncoderOnlyTransformer(tiny_config(norm_first=True)).to(device, torch.float64)
    ids, _ = padded_batch(device)
    padded = torch.cat([ids, torch.full((3, 5), PAD, device=device)], dim=1)
    torch.testing.assert_close(model.classify(padded), model.classify(ids), atol=1e-12, rtol=0)
    real = ids != PAD
    torch.testing.assert_close(model(padded)[:, : ids.shape[1]][real], model(ids)[real],
                               atol=1e-12, rtol=0)
    # Without a pad id the padding is an ordinary token and changes the class logits.
    no_pad = EncoderOnlyTransformer(tiny_config(norm_first=True, pad_id=None))
    no_pad = no_pad.to(device, torch.float64)
    no_pad.load_state_dict(model.state_dict())
    assert not torch.allclose(no_pad.classify(padded), no_pad.classify(ids))


def test_encoder_only_input_errors():
    config = tiny_config()
    with pytest.raises(ValueError, match="n_classes must be an int >= 2, got 1"):
        EncoderOnlyTransformer(config, n_classes=1)
    model = EncoderOnlyTransformer(config)
    with pytest.raises(ValueError, match=r"ids has length 17 > context_length \(16\)"):
        model(torch.ones(1, 17, dtype=torch.long))
    with pytest.raises(TypeError, match="ids must be an integer tensor"):
        model.classify(torch.ones(1, 3))
    with pytest.raises(TypeError, match="ids must be a torch.Tensor, got list"):
        model([[1, 2]])
    with pytest.raises(ValueError, match=r"ids must hold token ids in \[0, 11\)"):
        model(torch.tensor([[1, 11]]))
    with pytest.raises(TypeError, match="n_classes must be an int, got float"):
        EncoderOnlyTransformer(config, n_classes=2.0)
    with pytest.raises(ValueError, match="no key to attend to"):  # an all-padding row
        model.classify(torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="other has 3 encoder layers; expected 2"):
        model.copy_from_torch(torch_encoder(tiny_config(n_encoder_layers=3)))
    without_norm = torch_encoder(config)
    without_norm.norm = None
    with pytest.raises(ValueError, match="other must have a final norm"):
        model.copy_from_torch(without_norm)
