"""pyfw.runtime.Interpreter: a thin layer over pfw.h. Every check that the C
runtime makes is reported with its own message; on top, feeds are checked here
so a wrong name, count, rank, shape or dtype says which input and what was
expected before anything reaches C."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .. import BackendError, InvalidModelError, UnsupportedError
from .. import dtypes as _dt

try:
    from .._libpfw import ffi, lib
except ImportError as e:  # pragma: no cover - only without a built extension
    raise ImportError("pyfw's C extension is not built; install pyfw with `pip install .`") from e


def _raise(status: int, context: str = "") -> None:
    msg = ffi.string(lib.pfw_last_error()).decode("utf-8", "replace")
    if context:
        msg = f"{context}: {msg}"
    if status == lib.PFW_ERR_INVALID_MODEL:
        raise InvalidModelError(msg)
    if status == lib.PFW_ERR_UNSUPPORTED:
        raise UnsupportedError(msg)
    if status == lib.PFW_ERR_OUT_OF_MEMORY:
        raise MemoryError(msg)
    if status == lib.PFW_ERR_IO:
        raise OSError(msg)
    if status == lib.PFW_ERR_BACKEND:
        raise BackendError(msg)
    if status in (lib.PFW_ERR_INVALID_ARGUMENT, lib.PFW_ERR_SHAPE, lib.PFW_ERR_NOT_FOUND):
        raise ValueError(msg)
    raise RuntimeError(f"{ffi.string(lib.pfw_status_name(status)).decode()}: {msg}")


def _check(status: int, context: str = "") -> None:
    if status != lib.PFW_OK:
        _raise(status, context)


@dataclass(frozen=True)
class TensorInfo:
    """An input or output as the model declares it. `shape` has None for each
    dynamic dimension. `kind` is "tensor", or "sequence" (a list of arrays,
    whose dtype and shape `dtype` and `shape` give); an `optional` value may
    be None."""
    name: str
    shape: tuple[int | None, ...] | None  # None: the model leaves the rank open (sequence elements)
    dtype: np.dtype
    kind: str = "tensor"
    optional: bool = False

    def describe(self) -> str:
        dims = "any shape" if self.shape is None else ", ".join("?" if d is None else str(d) for d in self.shape)
        if self.shape is not None and len(self.shape) == 1:
            dims += ","
        text = f"{self.dtype} ({dims})"
        if self.kind == "sequence":
            text = f"sequence of {text}"
        return f"optional {text}" if self.optional else text


def _info(t) -> TensorInfo:
    name = ffi.string(lib.pfw_tensor_name(t)).decode("utf-8", "replace")
    rank = lib.pfw_tensor_model_rank(t)
    dims = None if rank < 0 else tuple(None if (d := lib.pfw_tensor_model_dim(t, i)) < 0 else int(d)
                                       for i in range(rank))
    code = lib.pfw_tensor_dtype(t)
    try:
        dtype = _dt.to_numpy(_dt.from_code(code))
    except ValueError:
        raise UnsupportedError(f"tensor {name!r} has dtype code {code}, which NumPy cannot hold") from None
    kind = "sequence" if lib.pfw_tensor_kind(t) == lib.PFW_KIND_SEQUENCE else "tensor"
    return TensorInfo(name, dims, dtype, kind, bool(lib.pfw_tensor_is_optional(t)))


def _array(t, dtype) -> np.ndarray:
    """A copy of tensor t's current value (strings as str, decoded from UTF-8;
    bytes that are not UTF-8 come back as surrogate escapes)."""
    shape = tuple(lib.pfw_tensor_dim(t, k) for k in range(lib.pfw_tensor_rank(t)))
    if lib.pfw_tensor_dtype(t) == lib.PFW_STRING:
        return _strings(t, shape)
    out = np.empty(shape, dtype=dtype)
    _check(lib.pfw_tensor_copy_to_buffer(t, ffi.from_buffer(out), out.nbytes))
    return out


def _strings(t, shape) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    flat = out.reshape(-1)
    total = ffi.new("size_t*")
    _check(lib.pfw_tensor_strings_size(t, total))
    buf = bytearray(total[0])
    ends = np.empty(flat.size + 1, np.uint64)
    ends[0] = 0
    _check(lib.pfw_tensor_copy_strings(t, ffi.from_buffer(buf), len(buf),
                                       ffi.cast("uint64_t*", ffi.from_buffer(ends)) + 1, flat.size))
    bounds = ends.tolist()
    if buf.isascii():  # one decode; each string is a slice of it
        text = buf.decode("ascii")
        flat[:] = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    else:
        flat[:] = [buf[a:b].decode("utf-8", "surrogateescape") for a, b in zip(bounds, bounds[1:])]
    return out


def _set_strings(t, arr: np.ndarray) -> None:
    """Feeds a string input: str elements as UTF-8 (surrogate escapes back to
    their bytes), bytes as they are."""
    values = arr.reshape(-1).tolist()
    text = "".join(values) if all(type(v) is str for v in values) else None
    if text is not None and text.isascii():  # one encode, and sizes are lengths
        joined, sizes = text.encode("ascii"), np.fromiter(map(len, values), np.uintp, len(values))
    else:
        items = [v if isinstance(v, bytes) else str(v).encode("utf-8", "surrogateescape") for v in values]
        joined, sizes = b"".join(items), np.fromiter(map(len, items), np.uintp, len(items))
    base = ffi.from_buffer(joined or b"\0")
    starts = np.cumsum(sizes, dtype=np.uintp) - sizes + np.uintp(int(ffi.cast("uintptr_t", base)))
    _check(lib.pfw_tensor_set_strings(t, ffi.cast("const char* const*", ffi.from_buffer(starts)),
                                      ffi.cast("const size_t*", ffi.from_buffer(sizes)), len(values)))


class Interpreter:
    """Runs a .pfw model. `model` is a path or the file's bytes. `threads`
    sets the intra-op thread count (results do not depend on it). `backend`
    is "cpu", "opencl" (an OpenCL device; BackendError when there is none)
    or "auto" (OpenCL when a GPU is there, else the CPU, with a warning
    saying why). Nodes the device lacks run on the CPU; `backend`,
    `backend_info` and node_backends() say what runs where. `arena_limit`
    caps the bytes the plan may take (activation arena, input buffers and
    values computed while planning; None: physical memory): a model or input
    shape needing more raises UnsupportedError before anything is allocated.
    `loop_limit` caps how many Loop and Scan iterations one run may take, all
    such nodes and nested ones together (None: no cap), for models from
    untrusted sources. `seed` seeds the random ops that have no seed
    attribute (RandomNormal, RandomUniform, their -Like forms, Multinomial,
    Bernoulli, Dropout in training mode): each run draws new values, and
    an interpreter with the same seed repeats them. Use as a context
    manager, or call close()."""

    def __init__(self, model: str | os.PathLike | bytes | bytearray | memoryview, threads: int = 1,
                 backend: str = "cpu", arena_limit: int | None = None, loop_limit: int | None = None,
                 seed: int = 0):
        self._model = ffi.NULL
        self._it = ffi.NULL
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise ValueError(f"threads must be a positive int, got {threads!r}")
        if backend not in ("cpu", "opencl", "auto"):
            raise ValueError(f"backend must be 'cpu', 'opencl' or 'auto', got {backend!r}")
        if arena_limit is not None and (not isinstance(arena_limit, int) or isinstance(arena_limit, bool)
                                        or not 0 < arena_limit < 2**64):
            raise ValueError(f"arena_limit must be a positive int of bytes or None, got {arena_limit!r}")
        if loop_limit is not None and (not isinstance(loop_limit, int) or isinstance(loop_limit, bool)
                                       or not 0 < loop_limit < 2**63):
            raise ValueError(f"loop_limit must be a positive int of iterations or None, got {loop_limit!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
        out = ffi.new("pfw_model**")
        if isinstance(model, (bytes, bytearray, memoryview)):
            buf = ffi.from_buffer(model)
            _check(lib.pfw_model_load_buffer(buf, len(buf), out))
        else:
            path = os.fspath(model)
            if not os.path.exists(path):
                raise FileNotFoundError(f"no such model file: {path!r}")
            _check(lib.pfw_model_load_file(os.fsencode(path), out))
        self._model = out[0]
        opts = ffi.new("pfw_options**")
        try:
            _check(lib.pfw_options_create(opts))
            _check(lib.pfw_options_set_num_threads(opts[0], threads))
            _check(lib.pfw_options_set_backend(opts[0], backend.encode()))
            if arena_limit is not None:
                _check(lib.pfw_options_set_arena_limit(opts[0], arena_limit))
            if loop_limit is not None:
                _check(lib.pfw_options_set_loop_limit(opts[0], loop_limit))
            _check(lib.pfw_options_set_seed(opts[0], seed))
            it = ffi.new("pfw_interpreter**")
            _check(lib.pfw_interpreter_create(self._model, opts[0], it))
            self._it = it[0]
        except BaseException:
            self.close()
            raise
        finally:
            lib.pfw_options_free(opts[0])
        self._in = [self._tensor(lib.pfw_interpreter_get_input, i)
                    for i in range(lib.pfw_interpreter_input_count(self._it))]
        self._out = [self._tensor(lib.pfw_interpreter_get_output, i)
                     for i in range(lib.pfw_interpreter_output_count(self._it))]
        self.inputs = [_info(t) for t in self._in]
        self.outputs = [_info(t) for t in self._out]
        self.threads = threads
        self.requested_backend = backend
        if backend == "auto" and self.backend == "cpu" and "auto:" in self.backend_info:
            warnings.warn(f"pyfw: {self.backend_info}", RuntimeWarning, stacklevel=2)

    def _tensor(self, getter, i):
        out = ffi.new("pfw_tensor**")
        _check(getter(self._it, i, out))
        return out[0]

    # ---- lifecycle ------------------------------------------------------
    def close(self) -> None:
        """Frees the interpreter and the model. Safe to call twice."""
        if self._it != ffi.NULL:
            lib.pfw_interpreter_free(self._it)
            self._it = ffi.NULL
        if self._model != ffi.NULL:
            lib.pfw_model_free(self._model)
            self._model = ffi.NULL

    @property
    def closed(self) -> bool:
        return self._it == ffi.NULL

    def __enter__(self) -> "Interpreter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        if hasattr(self, "_it"):  # __init__ may have failed before setting it
            self.close()

    def metadata(self, key: str) -> str | None:
        self._check_open()
        value = ffi.new("const char**")
        if lib.pfw_model_get_metadata(self._model, key.encode(), value) != lib.PFW_OK:
            return None
        return ffi.string(value[0]).decode("utf-8", "replace")

    @property
    def arena_bytes(self) -> int:
        """Bytes of the activation arena under the current input shapes."""
        self._check_open()
        return int(lib.pfw_interpreter_arena_size(self._it))

    # ---- backend --------------------------------------------------------
    @property
    def backend(self) -> str:
        """The backend this interpreter runs on: "cpu" or "opencl"."""
        self._check_open()
        return ffi.string(lib.pfw_interpreter_backend(self._it)).decode()

    @property
    def backend_info(self) -> str:
        """The device and how many nodes run there; for "auto" on the CPU, why."""
        self._check_open()
        return ffi.string(lib.pfw_interpreter_backend_info(self._it)).decode("utf-8", "replace")

    def node_backends(self) -> list[str]:
        """Where each graph node runs, in graph order: "cpu", "opencl", or
        "plan" for a node computed while planning (all inputs constant)."""
        self._check_open()
        count = ffi.new("int32_t*")
        _check(lib.pfw_interpreter_profile_count(self._it, count))
        name = ffi.new("const char**")
        out = []
        for i in range(count[0]):
            _check(lib.pfw_interpreter_node_backend(self._it, i, name))
            out.append(ffi.string(name[0]).decode())
        return out

    # ---- profiling ------------------------------------------------------
    @property
    def profiling(self) -> bool:
        """Per-node timing of run(). Setting True resets the counters;
        False stops counting and keeps them for profile()."""
        return getattr(self, "_profiling", False)

    @profiling.setter
    def profiling(self, enable: bool) -> None:
        self._check_open()
        _check(lib.pfw_interpreter_set_profiling(self._it, 1 if enable else 0))
        self._profiling = bool(enable)

    def profile(self) -> list[dict]:
        """One dict per graph node, in graph order: op_type, name, calls and
        total_ms since profiling was last enabled. Nodes computed while
        planning (all inputs constant) have 0 calls."""
        self._check_open()
        count = ffi.new("int32_t*")
        _check(lib.pfw_interpreter_profile_count(self._it, count))
        op, name = ffi.new("const char**"), ffi.new("const char**")
        calls, ms = ffi.new("int64_t*"), ffi.new("double*")
        out = []
        for i in range(count[0]):
            _check(lib.pfw_interpreter_profile_entry(self._it, i, op, name, calls, ms))
            out.append({"op_type": ffi.string(op[0]).decode(), "name": ffi.string(name[0]).decode("utf-8", "replace"),
                        "calls": int(calls[0]), "total_ms": float(ms[0])})
        return out

    def profile_transfers(self) -> dict:
        """Host<->device copies made by run() while profiling (the OpenCL
        backend; zeros on the CPU): count, bytes and total_ms since profiling
        was last enabled. They are in no node's profile entry."""
        self._check_open()
        count, nbytes, ms = ffi.new("int64_t*"), ffi.new("int64_t*"), ffi.new("double*")
        _check(lib.pfw_interpreter_profile_transfers(self._it, count, nbytes, ms))
        return {"count": int(count[0]), "bytes": int(nbytes[0]), "total_ms": float(ms[0])}

    # ---- running --------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("this Interpreter is closed")

    def _order_feeds(self, feeds) -> list:
        names = [i.name for i in self.inputs]
        if isinstance(feeds, Mapping):
            unknown = [k for k in feeds if k not in names]
            if unknown:
                raise ValueError(f"unknown input {unknown[0]!r}; the model's inputs are: {', '.join(names)}")
            missing = [i for i in self.inputs if i.name not in feeds]
            if missing:
                raise ValueError(f"missing input {missing[0].name!r} ({missing[0].describe()})")
            return [feeds[n] for n in names]
        if isinstance(feeds, np.ndarray):
            feeds = [feeds]
        if not isinstance(feeds, Sequence):
            raise TypeError(f"feeds must be a dict by input name or a list in input order, got {type(feeds).__name__}")
        if len(feeds) != len(names):
            raise ValueError(f"expected {len(names)} input(s) ({', '.join(names)}), got {len(feeds)}")
        return list(feeds)

    @staticmethod
    def _checked(info: TensorInfo, value, what: str) -> np.ndarray:
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        if info.dtype == object and arr.dtype.kind in "OUS":  # strings: str or bytes elements
            arr = arr.astype(object)
        if arr.dtype != info.dtype:
            raise TypeError(f"{what} expects {info.dtype}, got {arr.dtype} "
                            f"(convert it with .astype(np.{info.dtype}))")
        if info.shape is None:  # a sequence whose elements' ranks the model leaves open
            return arr if arr.flags.c_contiguous else np.array(arr, order="C")
        if arr.ndim != len(info.shape):
            raise ValueError(f"{what} expects rank {len(info.shape)} with shape "
                             f"{info.describe()}, got shape {arr.shape}")
        for k, (want, got) in enumerate(zip(info.shape, arr.shape)):
            if want is not None and want != got:
                raise ValueError(f"{what} expects shape {info.describe()}, got {arr.shape}: "
                                 f"dimension {k} must be {want}")
        # Not np.ascontiguousarray: it turns a 0-d array into shape (1,).
        return arr if arr.flags.c_contiguous else np.array(arr, order="C")

    def _feed_value(self, i: int, value) -> bool:
        """Feeds a sequence or an optional's None; False for a tensor, which
        _feed and run() feed."""
        info, t = self.inputs[i], self._in[i]
        if value is None:
            if not info.optional:
                raise ValueError(f"input {info.name!r} ({info.describe()}) is not optional: it needs a value")
            _check(lib.pfw_tensor_set_has_value(t, 0))
            return True
        if info.kind != "sequence":
            return False
        if isinstance(value, np.ndarray) or not isinstance(value, Sequence):
            raise TypeError(f"input {info.name!r} is a {info.describe()}: feed a list of arrays, "
                            f"got {type(value).__name__}")
        items = [self._checked(info, v, f"element {k} of input {info.name!r}") for k, v in enumerate(value)]
        _check(lib.pfw_tensor_sequence_clear(t))
        for arr in items:
            dims = ffi.new("int64_t[]", list(arr.shape) or [0])
            _check(lib.pfw_tensor_sequence_append(t, lib.pfw_tensor_dtype(t), dims, arr.ndim,
                                                  ffi.from_buffer(arr), arr.nbytes))
        return True

    def _fetch(self, t, info: TensorInfo):
        if not lib.pfw_tensor_has_value(t):
            return None
        if info.kind != "sequence":
            return _array(t, info.dtype)
        n, item = ffi.new("int64_t*"), ffi.new("const pfw_tensor**")
        _check(lib.pfw_tensor_sequence_length(t, n))
        out = []
        for k in range(n[0]):
            _check(lib.pfw_tensor_sequence_item(t, k, item))
            out.append(_array(item[0], info.dtype))
        return out

    def _feed(self, i: int, value) -> np.ndarray:
        info = self.inputs[i]
        arr = self._checked(info, value, f"input {info.name!r}")
        t = self._in[i]
        current = tuple(lib.pfw_tensor_dim(t, k) for k in range(arr.ndim))
        if current != arr.shape:
            dims = ffi.new("int64_t[]", list(arr.shape) or [0])
            _check(lib.pfw_interpreter_resize_input(self._it, i, dims, arr.ndim))
        return arr

    def run(self, feeds) -> list:
        """Runs one inference. `feeds`: a dict by input name, a list in input
        order, or one array for a single-input model; a sequence input takes a
        list of arrays, an optional one None for no value. Returns the outputs
        in order as new NumPy arrays (a list of them for a sequence, None for
        an optional holding no value)."""
        self._check_open()
        values = self._order_feeds(feeds)
        arrays = [None if self._feed_value(i, v) else self._feed(i, v) for i, v in enumerate(values)]
        # Inputs have buffers of their own; invoke plans once for all new shapes.
        for t, arr in zip(self._in, arrays):
            if arr is not None and arr.dtype == object:
                _set_strings(t, arr)
            elif arr is not None:
                _check(lib.pfw_tensor_copy_from_buffer(t, ffi.from_buffer(arr), arr.nbytes))
        _check(lib.pfw_interpreter_invoke(self._it))
        return [self._fetch(t, info) for t, info in zip(self._out, self.outputs)]

    def __repr__(self) -> str:
        if self.closed:
            return "Interpreter(closed)"
        ins = ", ".join(f"{i.name}: {i.describe()}" for i in self.inputs)
        outs = ", ".join(f"{o.name}: {o.describe()}" for o in self.outputs)
        return f"Interpreter(inputs=[{ins}], outputs=[{outs}], threads={self.threads}, backend={self.backend!r})"
