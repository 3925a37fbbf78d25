"""The scale of large models: published figures and the compute arithmetic C ≈ 6·N·D.

Chapter: Background › What is a large model. Papers: Kaplan et al. (2020), §2.1 (the 6·N·D
estimate of training FLOPs); each model's own paper for its figures (``source`` below).

Training a dense Transformer costs about 2·N FLOPs per token for the forward pass (one multiply
and one add per weight) and about twice that for the backward pass, so C ≈ 6·N·D for N parameters
and D training tokens. Attention adds a term that is small while the context is short compared
with the model width; the estimate ignores it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lessons_pkg._checks import check_number

SECONDS_PER_HOUR = 3600.0
# Dense bf16 peak of one NVIDIA A100 (the GPU most of the models below were trained on).
A100_BF16_PEAK_FLOPS = 312e12


@dataclass(frozen=True)
class ModelScale:
    """Published scale of one model. ``None`` marks a figure its authors did not publish."""

    name: str
    year: int
    params: float
    tokens: float | None
    reported_flops: float | None
    source: str  # BibTeX key in book/references.bib
    note: str = ""


# Every number is the one stated in the ``source`` paper; nothing here is estimated.
KNOWN_MODELS: tuple[ModelScale, ...] = (
    ModelScale("AlexNet", 2012, 60e6, None, None, "krizhevsky2012", "1.2 M ImageNet images"),
    ModelScale("Transformer (big)", 2017, 213e6, None, None, "vaswani2017", "WMT'14 translation"),
    ModelScale("BERT-large", 2019, 340e6, 128e9, None, "devlin2019",
               "1 M steps of 128,000 tokens"),
    ModelScale("GPT-2", 2019, 1.5e9, None, None, "radford2019", "40 GB of web text"),
    ModelScale("T5-11B", 2020, 11e9, 1e12, None, "raffel2020", "about 1 T tokens of C4"),
    ModelScale("GPT-3", 2020, 175e9, 300e9, 3.14e23, "brown2020"),
    ModelScale("Chinchilla", 2022, 70e9, 1.4e12, 5.76e23, "hoffmann2022"),
    ModelScale("PaLM", 2022, 540e9, 780e9, None, "chowdhery2022"),
    ModelScale("LLaMA-65B", 2023, 65e9, 1.4e12, None, "touvron2023"),
    ModelScale("Llama 2 70B", 2023, 70e9, 2e12, None, "touvron2023llama2",
               "1,720,320 A100 GPU-hours"),
    ModelScale("Llama 3.1 405B", 2024, 405e9, 15.6e12, 3.8e25, "dubey2024"),
)


def training_flops(params: float, tokens: float) -> float:
    """Training compute C ≈ 6·N·D in FLOPs for ``params`` = N weights and ``tokens`` = D."""
    n = check_number("params", params, low=0.0, low_open=True)
    d = check_number("tokens", tokens, low=0.0, low_open=True)
    return 6.0 * n * d


def gpu_hours(flops: float, peak_flops: float = A100_BF16_PEAK_FLOPS,
              utilization: float = 0.4) -> float:
    """GPU-hours to perform ``flops`` on GPUs of ``peak_flops`` run at ``utilization`` of peak."""
    check_number("flops", flops, low=0.0, low_open=True)
    check_number("peak_flops", peak_flops, low=0.0, low_open=True)
    check_number("utilization", utilization, low=0.0, high=1.0, low_open=True)
    return flops / (peak_flops * utilization) / SECONDS_PER_HOUR


def implied_utilization(flops: float, hours: float,
                        peak_flops: float = A100_BF16_PEAK_FLOPS) -> float:
    """The fraction of peak at which ``hours`` GPU-hours deliver ``flops`` (gpu_hours inverted)."""
    c = check_number("flops", flops, low=0.0, low_open=True)
    h = check_number("hours", hours, low=0.0, low_open=True)
    peak = check_number("peak_flops", peak_flops, low=0.0, low_open=True)
    return c / (h * SECONDS_PER_HOUR * peak)
