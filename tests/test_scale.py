import re
from pathlib import Path

import pytest

from lessons_pkg.scale import (
    A100_BF16_PEAK_FLOPS,
    KNOWN_MODELS,
    gpu_hours,
    implied_utilization,
    training_flops,
)

BIB = Path(__file__).resolve().parents[1] / "book" / "references.bib"


def test_six_nd_matches_every_reported_compute_figure():
    reported = [m for m in KNOWN_MODELS if m.reported_flops and m.tokens]
    assert len(reported) >= 3
    for m in reported:
        estimate = training_flops(m.params, m.tokens)
        assert estimate == pytest.approx(m.reported_flops, rel=0.05), m.name


def test_gpt3_arithmetic():
    assert training_flops(175e9, 300e9) == pytest.approx(3.15e23)


def test_gpu_hours_and_utilization_are_inverse():
    flops = training_flops(70e9, 2e12)
    hours = gpu_hours(flops, utilization=0.45)
    assert implied_utilization(flops, hours) == pytest.approx(0.45)
    assert hours == pytest.approx(flops / (A100_BF16_PEAK_FLOPS * 0.45) / 3600)


def test_every_source_is_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{(\w+),", BIB.read_text(encoding="utf-8")))
    for m in KNOWN_MODELS:
        assert m.source in keys, m.name


def test_models_are_in_chronological_order():
    years = [m.year for m in KNOWN_MODELS]
    assert years == sorted(years)


@pytest.mark.parametrize("call, match", [
    (lambda: training_flops(0, 1), "params must be a number > 0, got 0"),
    (lambda: training_flops(1, -5), "tokens must be a number > 0, got -5"),
    (lambda: training_flops(float("inf"), 1), "params must be a number > 0, got inf"),
    (lambda: gpu_hours(1e20, utilization=1.5), r"utilization must be a number in \(0, 1\]"),
    (lambda: implied_utilization(1e20, 0), "hours must be a number > 0"),
])
def test_bad_values(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_type():
    with pytest.raises(TypeError, match="params must be a number"):
        training_flops("7B", 1e12)
