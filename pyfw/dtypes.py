"""Element types: one table mapping pyfw names, NumPy dtypes and the numbers used
by ONNX (TensorProto.DataType), schema/pfw.fbs and pfw.h (they are the same).

NumPy has no bfloat16, float8, float4 or 4-/2-bit integers; ml_dtypes (which
onnx installs) does, and `to_numpy` returns its dtypes for them. Inside pyfw
(the IR, .pfw files, libpfw) those values are kept as their raw bit patterns
in `storage(name)`: bfloat16 as uint16, the others one element per byte, the
value in the low bits -- the same bytes as ml_dtypes' arrays, so feeding and
fetching is a plain copy."""
from __future__ import annotations

import numpy as np

# name -> (code, numpy dtype or the ml_dtypes name when NumPy has none)
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
    "bfloat16": (16, "bfloat16"),
    "float8e4m3fn": (17, "float8_e4m3fn"),
    "float8e4m3fnuz": (18, "float8_e4m3fnuz"),
    "float8e5m2": (19, "float8_e5m2"),
    "float8e5m2fnuz": (20, "float8_e5m2fnuz"),
    "uint4": (21, "uint4"),
    "int4": (22, "int4"),
    "float4e2m1": (23, "float4_e2m1fn"),
    "float8e8m0": (24, "float8_e8m0fnu"),
    "uint2": (25, "uint2"),
    "int2": (26, "int2"),
}
_BY_CODE = {code: name for name, (code, _) in _TABLE.items()}

DTYPES = tuple(_TABLE)
# The types NumPy lacks, kept as raw bits (see the module docstring).
RAW_BITS = tuple(name for name, (_, t) in _TABLE.items() if isinstance(t, str))
_BY_ML_NAME = {t: name for name, (_, t) in _TABLE.items() if isinstance(t, str)}


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


def _ml_dtype(attr: str):
    """ml_dtypes' NumPy dtype `attr`, or None without ml_dtypes."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    t = getattr(ml_dtypes, attr, None)
    return None if t is None else np.dtype(t)


def to_numpy(name: str) -> np.dtype:
    np_type = _TABLE[name][1] if name in _TABLE else None
    if isinstance(np_type, str):
        attr, np_type = np_type, _ml_dtype(np_type)
        if np_type is None:
            raise ValueError(f"dtype {name!r} needs ml_dtypes ({attr}); install ml_dtypes")
    if np_type is None:
        raise ValueError(f"dtype {name!r} has no NumPy equivalent")
    return np.dtype(np_type)


def from_numpy(dtype) -> str:
    dt = np.dtype(dtype)
    for name, (_, np_type) in _TABLE.items():
        if isinstance(np_type, str):
            if dt.name == np_type and dt == _ml_dtype(np_type):
                return name
        elif np.dtype(np_type) == dt:
            return name
    raise ValueError(f"NumPy dtype {dt} has no pyfw equivalent")


def storage(name: str) -> np.dtype:
    """The little-endian NumPy dtype pyfw keeps `name`'s values in."""
    if name == "bfloat16":
        return np.dtype("<u2")
    if name in RAW_BITS:
        return np.dtype("u1")
    return to_numpy(name).newbyteorder("<")


def to_storage(arr: np.ndarray) -> np.ndarray:
    """`arr` as pyfw keeps it: ml_dtypes arrays viewed as their raw bits."""
    name = _BY_ML_NAME.get(arr.dtype.name)
    if name is None or arr.dtype != _ml_dtype(arr.dtype.name):
        return arr
    return np.ascontiguousarray(arr).view(storage(name))


def itemsize(name: str) -> int:
    """Bytes per element (0 for string)."""
    if name == "string":
        return 0
    return storage(name).itemsize


def encode_strings(arr: np.ndarray) -> bytes:
    """A string tensor's buffer in .pfw (schema/pfw.fbs): one little-endian
    uint64 end offset per element, then the elements' bytes back to back.
    str elements are written as UTF-8 (surrogate escapes as the bytes they
    stand for), bytes ones as they are."""
    items = [v if isinstance(v, bytes) else str(v).encode("utf-8", "surrogateescape")
             for v in np.asarray(arr, dtype=object).reshape(-1)]
    ends = np.cumsum([len(b) for b in items], dtype=np.uint64) if items else np.zeros(0, np.uint64)
    return ends.astype("<u8").tobytes() + b"".join(items)


def decode_strings(raw, count: int) -> np.ndarray | None:
    """The `count` strings of an encode_strings buffer as a flat object array
    of str, or None when the buffer is not one."""
    raw = bytes(raw)
    if count * 8 > len(raw):
        return None
    ends = np.frombuffer(raw, "<u8", count).astype(np.int64) if count else np.zeros(0, np.int64)
    text = raw[8 * count:]
    if count and (np.any(np.diff(ends) < 0) or ends[0] < 0 or ends[-1] != len(text)) or (not count and text):
        return None
    starts = np.concatenate([[0], ends[:-1]]) if count else ends
    out = np.empty(count, dtype=object)
    for k in range(count):
        out[k] = text[starts[k]:ends[k]].decode("utf-8", "surrogateescape")
    return out
