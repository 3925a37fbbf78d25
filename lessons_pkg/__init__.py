"""lessons_pkg: the small, tested PyTorch package behind the course on large AI models.

Every module is written from the formulas taught in the book and checked against a PyTorch
reference in ``tests/``. Importing the package has no side effects and touches no network.
"""

__version__ = "0.1.0"

from lessons_pkg.device import describe_device, get_device, set_seed

__all__ = ["__version__", "describe_device", "get_device", "set_seed"]
