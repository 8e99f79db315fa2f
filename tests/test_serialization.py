"""pyfw.save / pyfw.load: exact round trips, no pickle, atomic writes, clear errors."""
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import pyfw
import pyfw.nn as nn


def sample():
    return {
        "weights": OrderedDict(w=np.arange(6, dtype=np.float32).reshape(2, 3),
                               b=np.array([1.5, -2.0], np.float16)),
        "state": {0: {"step": 3, "exp_avg": np.full((2, 2), 0.1)}, 7: {}},
        "groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "nesterov": False, "params": [0, 7]}],
        "t": pyfw.tensor(np.array([[1, 2], [3, 4]], np.int64), requires_grad=False),
        "tg": pyfw.tensor(np.array([0.25], np.float64), requires_grad=True),
        "misc": [None, True, 2 ** 70, -0.0, float("inf"), "naïve ✓", np.float32(0.1),
                 np.int16(-3), np.bool_(True), np.zeros((0, 3)), np.array(7.0),
                 np.array([1 + 2j]), np.array([True, False]), ("a", ("b",)), [], {}],
        1.5: "float key", None: "none key",
    }


def check_equal(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert type(k) is type(next(x for x in b if x == k))
            check_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            check_equal(x, y)
    elif isinstance(a, pyfw.Tensor):
        assert a.requires_grad == b.requires_grad
        check_equal(a.data, b.data)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and a == 0:
        assert str(a) == str(b)  # keeps the sign of zero
    else:
        assert a == b


def test_round_trip_is_exact(tmp_path):
    obj = sample()
    pyfw.save(obj, tmp_path / "c.pfwckpt")
    check_equal(obj, pyfw.load(tmp_path / "c.pfwckpt"))
    nan = pyfw.load(_saved(tmp_path, [float("nan")]))
    assert len(nan) == 1 and np.isnan(nan[0])


def _saved(tmp_path, obj, name="x.ckpt"):
    pyfw.save(obj, tmp_path / name)
    return tmp_path / name


def test_file_is_a_plain_npz_without_pickle(tmp_path):
    path = _saved(tmp_path, {"w": np.arange(3.0), "n": 1})
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["__pyfw__.npy", "a0.npy"]
    with np.load(path, allow_pickle=False) as f:  # NumPy's own reader, no pickle
        np.testing.assert_array_equal(f["a0"], np.arange(3.0))
        meta = json.loads(f["__pyfw__"].tobytes())
    assert meta["format"] == "pyfw.checkpoint" and meta["root"]["t"] == "dict"


def test_module_and_optimizer_state_dicts(tmp_path):
    pyfw.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    opt = pyfw.optim.Adam(net.parameters(), lr=0.01)
    x = pyfw.randn(5, 4)
    net(x).sum().backward()
    opt.step()
    pyfw.save({"model": net.state_dict(), "opt": opt.state_dict()}, tmp_path / "ck")
    ck = pyfw.load(tmp_path / "ck")
    pyfw.manual_seed(2)
    net2 = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    net2.load_state_dict(ck["model"])
    opt2 = pyfw.optim.Adam(net2.parameters())
    opt2.load_state_dict(ck["opt"])
    net.eval(), net2.eval()
    np.testing.assert_array_equal(net(x).numpy(), net2(x).numpy())
    check_equal(opt.state_dict(), opt2.state_dict())


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"obj\['x'\]\[1\] is a set"):
        pyfw.save({"x": [1, {2}]}, tmp_path / "a")
    with pytest.raises(ValueError, match=r"obj\[0\] is an array of dtype object"):
        pyfw.save([np.array([None])], tmp_path / "a")
    with pytest.raises(ValueError, match="has a key of type tuple"):
        pyfw.save({(1, 2): 3}, tmp_path / "a")
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        pyfw.save(loop, tmp_path / "a")
    assert os.listdir(tmp_path) == []


def test_write_is_atomic(tmp_path, monkeypatch):
    path = _saved(tmp_path, {"v": 1})
    before = path.read_bytes()

    def broken_savez(f, **kw):
        f.write(b"PK\x03\x04 partial")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        pyfw.save({"v": 2}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == [path.name]
    monkeypatch.undo()
    assert pyfw.load(path) == {"v": 1}


def test_bad_files_raise_value_error(tmp_path):
    good = _saved(tmp_path, {"w": np.arange(100.0), "s": "text"}).read_bytes()
    cases = {
        "truncated": good[: len(good) // 2],
        "garbage": b"\x00\x01 not a checkpoint at all" * 10,
        "empty": b"",
        "flipped": good[:200] + bytes([good[200] ^ 0xFF]) + good[201:],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "single.npy", np.arange(3))
    np.savez(tmp_path / "plain.npz", w=np.arange(3))
    np.savez(tmp_path / "badjson.npz", __pyfw__=np.frombuffer(b"{not json", np.uint8))
    meta = {"format": "pyfw.checkpoint", "version": 1, "root": {"t": "array", "a": "a9"}}
    np.savez(tmp_path / "missing.npz", __pyfw__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    meta = {"format": "pyfw.checkpoint", "version": 1, "root": {"t": "pickle", "v": "x"}}
    np.savez(tmp_path / "unknown.npz", __pyfw__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    meta = {"format": "pyfw.checkpoint", "version": 99, "root": None}
    np.savez(tmp_path / "future.npz", __pyfw__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    deep = {"format": "pyfw.checkpoint", "version": 1, "root": None}
    text = json.dumps(deep).replace("null", '{"t": "list", "items": [' * 100000 + "]}" * 100000)
    np.savez(tmp_path / "deep.npz", __pyfw__=np.frombuffer(text.encode(), np.uint8))
    names = ["deep.npz"] + list(cases) + ["pickled.npy", "single.npy", "plain.npz", "badjson.npz",
                           "missing.npz", "unknown.npz", "future.npz"]
    for name in names:
        with pytest.raises(ValueError, match="is not a valid pyfw checkpoint") as e:
            pyfw.load(tmp_path / name)
        assert str(tmp_path / name) in str(e.value)
    with pytest.raises(ValueError, match="array member 'a9' is missing"):
        pyfw.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="unknown entry type 'pickle'"):
        pyfw.load(tmp_path / "unknown.npz")
    with pytest.raises(ValueError, match="version 99"):
        pyfw.load(tmp_path / "future.npz")
    with pytest.raises(FileNotFoundError):
        pyfw.load(tmp_path / "nope")
