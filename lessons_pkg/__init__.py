"""lessons_pkg: the small, tested PyTorch package behind the course on large AI models.

Every module is written from the formulas taught in the book and checked against a PyTorch
reference in ``tests/``. Importing the package has no side effects and touches no network.
Modules, one concept each: ``autograd`` (scalar engine), ``backprop`` (hand-derived MLP),
``losses``, ``optim``, ``training``, ``checkpoint``, ``attention``, ``transformer``,
``decoding``, ``gpt``, ``lstm``, ``cnn``, ``gan``, ``vae``, ``judge``, ``scale``, ``device`` and
the ``data`` package.
"""

__version__ = "0.1.0"

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
