"""Shape rules for the transformer and recurrent ops: Attention,
RMSNormalization, RotaryEmbedding, RNN, GRU, LSTM."""
from __future__ import annotations

from .shapes import _axis, _required, _same_dtype


def _heads(c, ins, i, heads, what):
    """(heads, length, head size) of a 3-D or 4-D Q/K/V; -1 where unknown."""
    s = ins[i].shape
    if s is None:
        return None
    if len(s) == 4:
        return s[1], s[2], s[3]
    if len(s) != 3:
        raise c.fail(f"{c.name(i)} ({what}) must be 3-D or 4-D")
    if not heads or heads <= 0:
        raise c.fail(f"{c.name(i)} ({what}) is 3-D: q_num_heads and kv_num_heads must be set")
    if s[2] >= 0 and s[2] % heads:
        raise c.fail(f"{c.name(i)} ({what}) hidden size {s[2]} is not a multiple of {heads} heads")
    return heads, s[1], s[2] // heads if s[2] >= 0 else -1


def _attention(node, ins, c):
    """Y like Q with V's head size; present_key/value (B, Hkv, past + L, D);
    qk_matmul_output (B, Hq, Lq, past + L)."""
    _required(c, 3)
    dtype = _same_dtype(c, (0, 1, 2, 4, 5))
    q = _heads(c, ins, 0, node.attr("q_num_heads"), "Q")
    k = _heads(c, ins, 1, node.attr("kv_num_heads"), "K")
    v = _heads(c, ins, 2, node.attr("kv_num_heads"), "V")
    qs = ins[0].shape
    if q is None or k is None or v is None:
        return [(dtype, None)] * len(node.outputs)
    if qs is not None and len({len(qs), len(ins[1].shape), len(ins[2].shape)}) != 1:
        raise c.fail(f"{c.name(0)}, {c.name(1)} and {c.name(2)} must have the same rank")
    if q[2] >= 0 and k[2] >= 0 and q[2] != k[2]:
        raise c.fail(f"{c.name(0)} and {c.name(1)} have different head sizes ({q[2]} vs {k[2]})")
    past = ins[4].shape[2] if len(ins) > 4 and ins[4] is not None and ins[4].shape is not None else 0
    total = -1 if past < 0 or k[1] < 0 else past + k[1]
    b = qs[0]
    y = (b, q[0], q[1], v[2]) if len(qs) == 4 else (b, q[1], -1 if q[0] < 0 or v[2] < 0 else q[0] * v[2])
    outs = [(dtype, y), (dtype, (b, k[0], total, k[2])), (dtype, (b, v[0], total, v[2])),
            (dtype, (b, q[0], q[1], total))]
    return outs[:len(node.outputs)]


def _rms_norm(node, ins, c):
    _required(c, 2)
    dtype = _same_dtype(c, (0, 1))
    x = ins[0]
    if x.shape is not None:
        _axis(c, node.attr("axis", -1), len(x.shape))
    return [(dtype, x.shape)]


def _rotary(node, ins, c):
    """Y like X; the caches and position_ids are checked by the runtime."""
    _required(c, 3)
    return [(_same_dtype(c, (0, 1, 2)), ins[0].shape)]


def _recurrent(node, ins, c):
    """RNN, GRU, LSTM: Y (seq, dirs, batch, hidden), Y_h and Y_c (dirs, batch,
    hidden); layout 1 puts batch first in each."""
    _required(c, 3)
    dtype = _same_dtype(c, (0, 1, 2))
    x, r = ins[0].shape, ins[2].shape
    if x is None or r is None:
        return [(dtype, None)] * len(node.outputs)
    if len(x) != 3 or len(r) != 3:
        raise c.fail(f"{c.name(0)} and {c.name(2)} must be 3-D")
    dirs = 2 if node.attr("direction", "forward") == "bidirectional" else 1
    hidden = node.attr("hidden_size", r[2])
    batch_first = node.attr("layout", 0) == 1
    seq, batch = (x[1], x[0]) if batch_first else (x[0], x[1])
    y = (batch, seq, dirs, hidden) if batch_first else (seq, dirs, batch, hidden)
    state = (batch, dirs, hidden) if batch_first else (dirs, batch, hidden)
    return [(dtype, y), (dtype, state), (dtype, state)][:len(node.outputs)]


RULES = {"Attention": _attention, "RMSNormalization": _rms_norm, "RotaryEmbedding": _rotary,
         "RNN": _recurrent, "GRU": _recurrent, "LSTM": _recurrent}
