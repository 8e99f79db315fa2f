"""Run .pfw models through libpfw from Python (cffi).

    with pyfw.runtime.Interpreter("model.pfw", threads=2) as it:
        (y,) = it.run({"x": x})
"""
from .interpreter import Interpreter, TensorInfo

__all__ = ["Interpreter", "TensorInfo"]
