"""ONNX interop. `import_model` turns an ONNX model into a pyfw.ir.Graph;
`export_model` / `save_model` turn a Graph back into ONNX, and `export`
traces a pyfw.nn module straight to an ONNX file.

This is the only package of pyfw that imports `onnx` at module level; the rest
of pyfw imports it lazily so `import pyfw` works without onnx installed.
"""
from .exporter import export, export_model, save_model
from .importer import RULES, import_model

__all__ = ["RULES", "export", "export_model", "import_model", "save_model"]
