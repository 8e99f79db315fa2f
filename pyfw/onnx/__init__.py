"""ONNX interop. `import_model` turns an ONNX model into a pyfw.ir.Graph.

This is the only package of pyfw that imports `onnx` at module level; the rest
of pyfw imports it lazily so `import pyfw` works without onnx installed.
"""
from .importer import RULES, import_model

__all__ = ["RULES", "import_model"]
