"""lessons_pkg: the small, tested PyTorch package behind the course on large AI models.

Every module is written from the formulas taught in the book and checked against a PyTorch
reference in ``tests/``. Importing the package has no side effects and touches no network.
Modules, one concept each: ``autograd`` (scalar engine), ``backprop`` (hand-derived MLP),
``losses``, ``optim``, ``training``, ``checkpoint``, ``attention``, ``transformer``, ``decoding``,
``gpt``, ``encoder_heads``, ``tokenizer`` (byte-level BPE), ``lstm``, ``text_models``, ``cnn``,
``gan``, ``vae``, ``judge``, ``scale``, ``metrics``, ``device``, ``memory``, ``distributed``,
``train_ddp`` (the program ``torchrun`` launches) and the ``data`` package.

Names (one per concept, used by every module and page):

* ``d_model`` the width of a token's vector; ``n_heads``, ``n_layers``, ``d_ff`` for the
  Transformer family; ``vocab_size``; ``context_length`` the most positions a model reads (the
  size of a positional table or a KV cache). Positional encodings take ``(d_model,
  context_length)``, like every other module that takes ``d_model`` first.
* ``in_features`` / ``out_features`` the input / output width of a feed-forward network
  (``layer_sizes`` for all its widths); ``data_dim`` the width of one data point of a generative
  model; ``latent_dim`` the width of its latent code (GAN and VAE alike); ``hidden`` the width
  of a hidden layer.
* Modules that mirror a ``torch.nn`` class keep its argument names, so they can replace it:
  ``LSTM(input_size, hidden_size, num_layers)`` as ``nn.LSTM``; the recurrent models built on
  it name their word-vector width ``embed_dim`` and their state width ``hidden_size``.
* Randomness: a computation that draws random numbers takes ``generator=`` (a
  ``torch.Generator``, or ``None`` for torch's global one; the pure-Python scalar engine takes a
  ``random.Random`` under the same name). ``seed=`` names a data set (the same seed gives the
  same data) or seeds a model's initial weights.
* Three kinds of step function, three names: ``train_step(model, batch) -> dict`` is what
  ``fit`` calls when a model updates itself (a GAN's two optimisers); ``logits_fn(prefix) ->
  logits`` is what decoding calls for the next token; ``gan_step`` is one GAN update.
* Generation everywhere takes ``max_new_tokens``, ``temperature`` (0 means greedy), ``top_k``,
  ``top_p`` and ``generator``.
* Argument errors: ``TypeError`` for a wrong type, ``ValueError`` for a wrong value, naming the
  argument as the caller passed it (``lessons_pkg._checks``).
"""

__version__ = "0.3.0.dev0"

from lessons_pkg.attention import MultiHeadAttention, scaled_dot_product_attention
from lessons_pkg.autograd import Value
from lessons_pkg.checkpoint import load_checkpoint, save_checkpoint
from lessons_pkg.device import describe_device, get_device, set_seed
from lessons_pkg.gan import GAN, gan_step
from lessons_pkg.gpt import GPT, GPTConfig
from lessons_pkg.losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss
from lessons_pkg.lstm import LSTM, GRUCell, LSTMCell
from lessons_pkg.optim import SGD, Adam, AdamW
from lessons_pkg.training import History, evaluate, fit
from lessons_pkg.transformer import EncoderOnlyTransformer, Seq2SeqTransformer, TransformerConfig
from lessons_pkg.vae import VAE, vae_loss

__all__ = [
    "Adam", "AdamW", "EncoderOnlyTransformer", "GAN", "GPT", "GPTConfig", "GRUCell", "History",
    "LSTM", "LSTMCell",
    "MultiHeadAttention", "SGD", "Seq2SeqTransformer", "TransformerConfig", "VAE", "Value",
    "__version__", "binary_cross_entropy_with_logits", "cross_entropy", "describe_device",
    "evaluate", "fit", "gan_step", "get_device", "load_checkpoint", "mse_loss",
    "save_checkpoint", "scaled_dot_product_attention", "set_seed", "vae_loss",
]
