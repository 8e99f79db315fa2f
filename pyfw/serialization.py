"""pyfw.save / pyfw.load: checkpoints without pickle.

A checkpoint is a NumPy .npz archive: every array is one member, and the member
"__pyfw__" holds JSON that describes the object tree (dicts, lists, tuples,
numbers, strings, None, arrays, Tensors) and names each array's member. Loading
uses allow_pickle=False and builds only those types, so a file cannot run code.
"""
from __future__ import annotations

import json
import os
import zipfile
from collections import OrderedDict

import numpy as np

from pyfw._io import atomic_open
from pyfw.autograd.tensor import Tensor

_FORMAT, _VERSION, _META = "pyfw.checkpoint", 1, "__pyfw__"
_KEY_TYPES = (str, int, float, bool, type(None))


class _Writer:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, a, where):
        if a.dtype.hasobject or a.dtype.kind not in "biufcSUM?m":
            raise ValueError(f"pyfw.save: {where} is an array of dtype {a.dtype}, which cannot "
                             f"be stored without pickle")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = a
        return name

    def node(self, obj, where):
        if obj is None or isinstance(obj, (bool, str)):
            return {"t": "value", "v": obj}
        if isinstance(obj, np.generic):  # before int/float: np.float64 is a float subclass
            return {"t": "scalar", "a": self.array(np.asarray(obj), where)}
        if isinstance(obj, int):
            return {"t": "int", "v": str(obj)}  # any size, exactly
        if isinstance(obj, float):
            return {"t": "float", "v": repr(obj)}  # repr round-trips, inf and nan included
        if isinstance(obj, Tensor):
            return {"t": "tensor", "a": self.array(obj.data, where),
                    "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"t": "array", "a": self.array(obj, where)}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, _KEY_TYPES):
                    raise ValueError(f"pyfw.save: {where} has a key of type {type(k).__name__}; "
                                     f"keys must be str, int, float, bool or None")
                items.append([self.node(k, where), self.node(v, f"{where}[{k!r}]")])
            return {"t": "odict" if isinstance(obj, OrderedDict) else "dict", "items": items}
        if isinstance(obj, (list, tuple)):
            return {"t": type(obj).__name__ if type(obj) in (list, tuple) else "list",
                    "items": [self.node(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        raise ValueError(f"pyfw.save: {where} is a {type(obj).__name__}; a checkpoint holds "
                         f"dicts, lists, tuples, numbers, strings, None, arrays and Tensors")


def save(obj, path) -> None:
    """Write `obj` to `path` atomically (temp file in the same directory, fsync, rename)."""
    w = _Writer()
    try:
        root = w.node(obj, "obj")
    except RecursionError:
        raise ValueError("pyfw.save: the object nests too deeply or contains itself") from None
    meta = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root})
    with atomic_open(path, "wb") as f:
        np.savez(f, allow_pickle=False, **{_META: np.frombuffer(meta.encode(), np.uint8)},
                 **w.arrays)


class _Reader:
    def __init__(self, npz, path):
        self.npz, self.path = npz, path

    def bad(self, msg):
        return ValueError(f"pyfw.load: {self.path} is not a valid pyfw checkpoint: {msg}")

    def array(self, node):
        name = node.get("a")
        if not isinstance(name, str) or name == _META or name not in self.npz.files:
            raise self.bad(f"array member {name!r} is missing")
        return self.npz[name]

    def node(self, n):
        if not isinstance(n, dict) or "t" not in n:
            raise self.bad(f"malformed structure entry {str(n)[:80]!r}")
        t = n["t"]
        try:
            if t == "value" and (n["v"] is None or isinstance(n["v"], (bool, str))):
                return n["v"]
            if t == "int":
                return int(n["v"])
            if t == "float":
                return float(n["v"])
            if t == "tensor":
                return Tensor(self.array(n), requires_grad=bool(n.get("requires_grad", False)))
            if t == "array":
                return self.array(n)
            if t == "scalar":
                return self.array(n)[()]
            if t in ("dict", "odict"):
                pairs = [(self.node(k), self.node(v)) for k, v in n["items"]]
                if any(not isinstance(k, _KEY_TYPES) for k, _ in pairs):
                    raise self.bad("a dict key is not a str, number or None")
                return OrderedDict(pairs) if t == "odict" else dict(pairs)
            if t in ("list", "tuple"):
                items = [self.node(v) for v in n["items"]]
                return tuple(items) if t == "tuple" else items
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, ValueError) and str(e).startswith("pyfw.load"):
                raise
            raise self.bad(f"malformed {t!r} entry ({type(e).__name__}: {e})") from e
        raise self.bad(f"unknown entry type {t!r}")


def load(path):
    """Read a checkpoint written by `pyfw.save`; arrays come back as NumPy arrays, Tensors as
    Tensors. A file that is not one (or is truncated or corrupt) raises ValueError."""
    path = os.fspath(path)
    with open(path, "rb"):  # a missing or unreadable file keeps its own OSError
        pass
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not an archive")
        with npz:
            r = _Reader(npz, path)
            if _META not in npz.files:
                raise r.bad(f"the archive has no {_META!r} member (not written by pyfw.save)")
            meta = json.loads(npz[_META].tobytes().decode())
            if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
                raise r.bad("the structure entry does not name the pyfw checkpoint format")
            if meta.get("version") != _VERSION:
                raise r.bad(f"format version {meta.get('version')!r}; this pyfw reads "
                            f"version {_VERSION}")
            return r.node(meta.get("root"))
    except ValueError as e:
        if str(e).startswith("pyfw.load"):
            raise
        raise ValueError(f"pyfw.load: {path} is not a valid pyfw checkpoint: {e}") from e
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, RecursionError) as e:
        raise ValueError(f"pyfw.load: {path} is not a valid pyfw checkpoint "
                         f"({type(e).__name__}: {e})") from e
