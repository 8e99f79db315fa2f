"""The .pfw file format (schema/pfw.fbs): write a pyfw.ir.Graph to a file and
read it back. write -> read -> write is byte-identical."""
from .reader import load
from .writer import FORMAT_VERSION, save, to_bytes

__all__ = ["FORMAT_VERSION", "load", "save", "to_bytes"]
