"""pyfw: train in Python, ship one .pfw file, run it anywhere with libpfw."""
from __future__ import annotations

__version__ = "0.1.0"


class InvalidModelError(ValueError):
    """A model file (or graph) is malformed, inconsistent, or uses something the
    runtime does not support. The message names what was wrong and where."""


class UnsupportedError(InvalidModelError):
    """A valid model that uses an op, opset, attribute or dtype pyfw lacks."""


class BackendError(RuntimeError):
    """A requested backend cannot run here: no OpenCL library or device, or
    the device failed. The message names what was missing."""


__all__ = ["BackendError", "InvalidModelError", "UnsupportedError", "__version__"]

_LAZY = {
    "Tensor": "autograd.tensor", "tensor": "autograd.tensor", "no_grad": "autograd.tensor", "manual_seed": "autograd.tensor",
    "zeros": "autograd.tensor", "ones": "autograd.tensor", "full": "autograd.tensor", "randn": "autograd.tensor",
    "rand": "autograd.tensor", "arange": "autograd.tensor", "zeros_like": "autograd.tensor", "ones_like": "autograd.tensor",
    "randn_like": "autograd.tensor", "cat": "autograd.tensor", "stack": "autograd.tensor",
    "full_like": "autograd.tensor", "rand_like": "autograd.tensor", "where": "autograd.tensor",
    "nn": None, "onnx": None, "optim": None, "data": None, "export": "autograd.export",
    "save": "serialization", "load": "serialization", "Model": "model", "callbacks": None,
}


def __getattr__(name):
    """Training names load on first use, so `import pyfw` stays cheap."""
    import importlib
    if name in _LAZY and _LAZY[name] is None:
        return importlib.import_module(f"pyfw.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(f"pyfw.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'pyfw' has no attribute {name!r}")
