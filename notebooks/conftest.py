"""How nbval checks the notebooks on this machine.

Every page's setup cell turns on the reproducible CPU mode (``lessons_pkg.device``), in which an
x86-64 CPU with AVX2 prints the book's digits exactly: there nbval compares every cell's output.

Other hardware (an ARM laptop, a GPU that the pages pick with ``get_device("auto")``) cannot
match float32 training bit for bit. There, cells tagged ``hardware-dependent`` are still run,
and the page's own ``assert`` statements about their results still hold them to the page's
claims, but their printed digits are not compared. ``LESSONS_PKG_NATIVE=1`` (torch's own
kernels, faster on many cores) is treated the same way. Everything else is compared exactly.
"""

from __future__ import annotations

import os

from lessons_pkg.device import cpu_can_reproduce, get_device

HARDWARE_TAG = "hardware-dependent"

# Progress bars are for readers; the stored outputs have none, so nbval compares none. The kernel
# nbval starts inherits this (the Makefile sets it too; this covers a bare `pytest --nbval`).
os.environ.setdefault("TQDM_DISABLE", "1")


def why_not_exact() -> str | None:
    """Why this machine cannot reproduce the stored digits, or None when it can."""
    if os.environ.get("LESSONS_PKG_NATIVE") == "1":
        return "LESSONS_PKG_NATIVE=1 keeps torch's own CPU kernels"
    if not cpu_can_reproduce():
        return "this CPU is not an x86-64 CPU with AVX2"
    device = get_device("auto")
    if device.type != "cpu":
        return f"the pages compute on {device.type}, and the stored outputs come from a CPU"
    return None


def pytest_report_header(config):
    reason = why_not_exact()
    if reason is None:
        return ("notebooks: reproducible CPU mode; every output is compared exactly, "
                f"including cells tagged {HARDWARE_TAG!r}")
    return (f"notebooks: {reason}; cells tagged {HARDWARE_TAG!r} are run and their assertions "
            "checked, but their printed digits are not compared")


def pytest_collection_modifyitems(config, items):
    if why_not_exact() is None:
        return
    loose = 0
    for item in items:
        cell = getattr(item, "cell", None)  # nbval's items carry their notebook cell
        if cell is not None and HARDWARE_TAG in cell.metadata.get("tags", []):
            item.options["check"] = False
            loose += 1
    config._hardware_dependent_cells = loose


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    loose = getattr(config, "_hardware_dependent_cells", None)
    if loose is not None:
        terminalreporter.write_line(
            f"notebooks: {loose} {HARDWARE_TAG} cells were run without comparing their outputs "
            f"({why_not_exact()})")
