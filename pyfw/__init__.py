"""pyfw: train in Python, ship one .pfw file, run it anywhere with libpfw."""
from __future__ import annotations

__version__ = "0.1.0"


class InvalidModelError(ValueError):
    """A model file (or graph) is malformed, inconsistent, or uses something the
    runtime does not support. The message names what was wrong and where."""


class UnsupportedError(InvalidModelError):
    """A valid model that uses an op, opset, attribute or dtype pyfw lacks."""


__all__ = ["InvalidModelError", "UnsupportedError", "__version__"]
