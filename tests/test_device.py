import os
import random
import re
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import lessons_pkg.device as device_module
from lessons_pkg.device import (
    REPRODUCIBLE_CPU_ENV,
    cpu_can_reproduce,
    describe_device,
    describe_numerics,
    get_device,
    model_device,
    set_seed,
    to_device,
)


def test_cpu_is_always_available():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_picks_an_available_device():
    device = get_device("auto")
    expected = "cuda" if torch.cuda.is_available() else device.type
    assert device.type == expected
    torch.zeros(1, device=device)  # usable
    assert device.type in describe_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_missing_cuda_says_why():
    with pytest.raises(ValueError, match="torch.cuda.is_available"):
        get_device("cuda")


def test_missing_mps_says_why():
    if torch.backends.mps.is_available():
        pytest.skip("MPS is present")
    with pytest.raises(ValueError, match="mps"):
        get_device("mps")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cpu:0", ""])
def test_unknown_name(bad):
    with pytest.raises(ValueError, match="name must be one of"):
        get_device(bad)


def test_wrong_type():
    with pytest.raises(TypeError, match="name must be a str"):
        get_device(0)


def _fake_hardware(monkeypatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(device_module, "_mps_available", lambda: mps)


@pytest.mark.parametrize("cuda, mps, dtype, expected", [
    (True, True, None, "cuda"), (True, True, torch.float64, "cuda"),
    (False, True, None, "mps"), (False, True, torch.float32, "mps"),
    (False, True, torch.float64, "cpu"), (False, True, torch.complex128, "cpu"),
    (False, False, None, "cpu"), (False, False, torch.float64, "cpu"),
])
def test_auto_passes_over_mps_for_float64(monkeypatch, cuda, mps, dtype, expected):
    _fake_hardware(monkeypatch, cuda=cuda, mps=mps)
    assert get_device("auto", dtype=dtype).type == expected


def test_mps_with_float64_says_why(monkeypatch):
    _fake_hardware(monkeypatch, cuda=False, mps=True)
    assert get_device("mps", dtype=torch.float32).type == "mps"
    with pytest.raises(ValueError, match="dtype torch.float64 is not supported on 'mps'"):
        get_device("mps", dtype=torch.float64)


def test_dtype_must_be_a_torch_dtype():
    with pytest.raises(TypeError, match="dtype must be a torch.dtype or None, got str"):
        get_device("cpu", dtype="float64")


# Every page's own device selection, run against fake hardware. A page that puts float64 tensors
# or modules on `device` (a `.to(device, <float64>)`, a `dtype=<float64>, device=device`, or
# float64 as the default dtype) must not be handed Apple's MPS, which has no float64.
PAGES = sorted((Path(__file__).resolve().parents[1] / "book").rglob("*.md"))
DEVICE_LINE = re.compile(r"^device = (get_device\(.*?\))", re.M)


def _float64_on_device(code: str) -> bool:
    aliases = ["torch.float64", "torch.double"] + re.findall(r"^(\w+) = torch\.float64", code, re.M)
    f64 = "|".join(re.escape(a) for a in aliases)
    patterns = [rf"\.to\(device, ({f64})\)", rf"dtype=({f64}).*device=device",
                rf"device=device.*dtype=({f64})", rf"dtype=({f64}).*\)\.to\(device\)",
                r"set_default_dtype\(torch\.float64\)"]
    return any(re.search(p, code) for p in patterns)


def _page_code(page: Path) -> str:
    blocks = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", page.read_text(encoding="utf-8"),
                        re.M | re.S)
    return "\n".join(blocks)


@pytest.mark.parametrize("page", [p for p in PAGES if DEVICE_LINE.search(_page_code(p))],
                         ids=lambda p: p.stem)
def test_every_pages_device_selection_on_fake_hardware(monkeypatch, page):
    code = _page_code(page)
    call = DEVICE_LINE.search(code).group(1)
    namespace = {"get_device": get_device, "torch": torch}

    def select(cuda, mps):
        _fake_hardware(monkeypatch, cuda=cuda, mps=mps)
        return eval(call, namespace).type

    assert select(cuda=True, mps=False) == "cuda"  # Colab with a GPU
    assert select(cuda=False, mps=False) == "cpu"  # CI, a laptop without a GPU
    on_apple = select(cuda=False, mps=True)
    if _float64_on_device(code):
        assert on_apple == "cpu", f"{page.name} puts float64 on {call}, which picks {on_apple}"
    else:
        assert on_apple == "mps", f"{page.name} needs no float64 but {call} passes over MPS"


def test_the_float64_detector_finds_the_pages_that_need_it():
    needing = {p.stem for p in PAGES if _float64_on_device(_page_code(p))}
    assert {"attention", "backprop", "gan", "lstm", "transformer", "vae"} <= needing
    assert not _float64_on_device("x = torch.zeros(3, dtype=torch.float64)\ny = x.to(device)")


def test_set_seed_repeats_every_generator():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    set_seed(123)
    first = draw()
    set_seed(123)
    assert draw() == first
    set_seed(124)
    assert draw() != first


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                      ("1", TypeError), (True, TypeError)])
def test_set_seed_rejects_bad_seed(bad, exc):
    with pytest.raises(exc, match="seed must"):
        set_seed(bad)


# The reproducible CPU mode ------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import notebooks as nbtool  # noqa: E402  (the generator of every page's setup cell)


def _fresh_python(code: str, env: dict[str, str]) -> str:
    """Run ``code`` in a new interpreter (torch not yet imported) with exactly ``env`` added."""
    clean = {k: v for k, v in os.environ.items() if k not in REPRODUCIBLE_CPU_ENV}
    clean.pop("LESSONS_PKG_NATIVE", None)
    done = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


REPORT = ("import torch\nfrom lessons_pkg.device import reproducible_mode_problems\n"
          "print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads(), "
          "reproducible_mode_problems())")


@pytest.mark.skipif(not cpu_can_reproduce(), reason="the mode needs an x86-64 CPU with AVX2")
def test_every_pages_setup_cell_turns_the_mode_on():
    """The setup cell, run first in a fresh interpreter as in a kernel, puts torch in the mode."""
    assert _fresh_python(nbtool.setup_cell_source() + "\n" + REPORT, {}) == "AVX2 2 []"


@pytest.mark.skipif(not cpu_can_reproduce(), reason="the mode needs an x86-64 CPU with AVX2")
def test_without_the_mode_its_absence_is_reported():
    out = _fresh_python(REPORT, {})
    assert "not as the mode sets them" in out, out


def test_native_switch_keeps_torchs_defaults():
    code = nbtool.setup_cell_source() + "\nimport os\nprint(os.environ.get('MKL_CBWR'))"
    assert _fresh_python(code, {"LESSONS_PKG_NATIVE": "1"}) == "None"


def test_describe_numerics_names_the_device_and_the_mode(monkeypatch):
    for key, value in REPRODUCIBLE_CPU_ENV.items():
        monkeypatch.setenv(key, value)
    line = describe_numerics(torch.device("cpu"))
    assert line.startswith("cpu (") and "reproducible CPU mode" in line
    monkeypatch.delenv("MKL_CBWR")
    assert "MKL_CBWR not as the mode sets it" in describe_numerics(torch.device("cpu"))
    assert "may differ from the book's" in describe_numerics(torch.device("meta"))


def test_command_line_prints_and_applies_the_mode():
    env_lines = subprocess.run([sys.executable, "-m", "lessons_pkg", "env"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.splitlines()
    assert env_lines == [f"export {k}={v}" for k, v in REPRODUCIBLE_CPU_ENV.items()]
    shown = subprocess.run([sys.executable, "-m", "lessons_pkg", "run", sys.executable, "-c",
                            "import os; print(os.environ['MKL_CBWR'])"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert shown == REPRODUCIBLE_CPU_ENV["MKL_CBWR"]
    bad = subprocess.run([sys.executable, "-m", "lessons_pkg", "nonsense"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" not in bad.stdout and "run CMD" in bad.stderr


def test_to_device_recurses_and_keeps_types(device):
    Pair = namedtuple("Pair", "x label")
    batch = {"a": [torch.ones(2), ("text", torch.zeros(1))], "b": Pair(torch.ones(3), 7)}
    moved = to_device(batch, device)
    assert moved["a"][0].device.type == device.type
    assert isinstance(moved["a"], list) and isinstance(moved["a"][1], tuple)
    assert moved["a"][1][0] == "text" and moved["a"][1][1].device.type == device.type
    assert isinstance(moved["b"], Pair) and moved["b"].label == 7
    assert moved["b"].x.device.type == device.type
    assert to_device(batch, None) is batch


def test_model_device_is_where_the_first_parameter_or_buffer_is():
    assert model_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(nn.BatchNorm1d(2, affine=False)) == torch.device("cpu")  # buffers only
    assert model_device(nn.ReLU()) == torch.device("cpu")  # no tensors at all
