"""Element types: one table mapping pyfw names, NumPy dtypes and the numbers used
by ONNX (TensorProto.DataType), schema/pfw.fbs and pfw.h (they are the same)."""
from __future__ import annotations

import numpy as np

# name -> (code, numpy dtype or None when NumPy has none)
_TABLE = {
    "float32": (1, np.float32),
    "uint8": (2, np.uint8),
    "int8": (3, np.int8),
    "uint16": (4, np.uint16),
    "int16": (5, np.int16),
    "int32": (6, np.int32),
    "int64": (7, np.int64),
    "string": (8, np.object_),
    "bool": (9, np.bool_),
    "float16": (10, np.float16),
    "float64": (11, np.float64),
    "uint32": (12, np.uint32),
    "uint64": (13, np.uint64),
    "bfloat16": (16, None),
}
_BY_CODE = {code: name for name, (code, _) in _TABLE.items()}

DTYPES = tuple(_TABLE)


def code(name: str) -> int:
    """The ONNX/pfw number of a dtype name."""
    try:
        return _TABLE[name][0]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; known: {', '.join(DTYPES)}") from None


def from_code(value: int) -> str:
    try:
        return _BY_CODE[int(value)]
    except KeyError:
        raise ValueError(f"unknown dtype code {value}") from None


def _bfloat16():
    """NumPy's bfloat16 from ml_dtypes (which onnx installs), or None without it."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)


def to_numpy(name: str) -> np.dtype:
    np_type = _TABLE[name][1] if name in _TABLE else None
    if np_type is None and name == "bfloat16":
        np_type = _bfloat16()
    if np_type is None:
        raise ValueError(f"dtype {name!r} has no NumPy equivalent"
                         + (" (install ml_dtypes for bfloat16)" if name == "bfloat16" else ""))
    return np.dtype(np_type)


def from_numpy(dtype) -> str:
    dt = np.dtype(dtype)
    for name, (_, np_type) in _TABLE.items():
        if np_type is not None and np.dtype(np_type) == dt:
            return name
    if dt.name == "bfloat16" and dt == _bfloat16():
        return "bfloat16"
    raise ValueError(f"NumPy dtype {dt} has no pyfw equivalent")


def itemsize(name: str) -> int:
    """Bytes per element (0 for string)."""
    if name == "bfloat16":
        return 2
    if name == "string":
        return 0
    return to_numpy(name).itemsize
