"""The int8 scheme (DESIGN.md, Quantization), as plain NumPy.

Weights: symmetric int8, range [-127, 127], zero point 0, one scale per output
channel (or per tensor): scale = max|w| / 127. Activations: asymmetric uint8
per tensor over a range widened to include 0: scale = (hi - lo) / 255,
zero_point = round-half-even(-lo / scale) clamped to [0, 255]. Bias: int32 at
scale x_scale * w_scale, the product taken in float32 as ONNX's QLinearConv
takes it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INT8_MAX = 127  # symmetric: -128 is never used, so -w quantizes to -q
UINT8_MAX = 255
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1


@dataclass(frozen=True)
class ActParams:
    """Per-tensor uint8 quantization of an activation: x = (q - zero_point) * scale."""
    scale: np.float32
    zero_point: np.uint8

    @property
    def lo(self) -> float:
        """The smallest value the uint8 range represents."""
        return float(-int(self.zero_point) * np.float64(self.scale))

    @property
    def hi(self) -> float:
        return float((UINT8_MAX - int(self.zero_point)) * np.float64(self.scale))


def activation_params(lo: float, hi: float) -> ActParams:
    """uint8 parameters for values in [lo, hi] (widened to include 0)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"activation range [{lo}, {hi}] is not finite")
    scale = np.float32((hi - lo) / UINT8_MAX)
    if not scale > 0:  # an all-zero tensor (or a range below float32's resolution)
        scale = np.float32(1.0)
    zp = np.rint(np.float64(-lo) / np.float64(scale))  # rint: round half to even
    return ActParams(scale, np.uint8(np.clip(zp, 0, UINT8_MAX)))


def quantize_activation(x: np.ndarray, p: ActParams) -> np.ndarray:
    """ONNX QuantizeLinear to uint8 (reference; round half to even, saturate)."""
    q = np.rint(np.asarray(x, np.float32) / p.scale) + int(p.zero_point)
    return np.clip(q, 0, UINT8_MAX).astype(np.uint8)


def dequantize_activation(q: np.ndarray, p: ActParams) -> np.ndarray:
    return ((q.astype(np.int32) - int(p.zero_point)) * p.scale).astype(np.float32)


def quantize_weights(w: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 `w` -> (q int8 of w's shape, scale float32). `axis` is
    the channel axis (one scale per index along it, shape [C]), or None for
    one scale for the tensor (a float32 scalar array). A channel (or tensor)
    of zeros gets scale 1.0 and all-zero weights."""
    w = np.asarray(w, np.float32)
    if axis is None:
        amax = np.abs(w).max(initial=0.0).astype(np.float32)
        shape = ()
    else:
        axis = axis % w.ndim
        other = tuple(i for i in range(w.ndim) if i != axis)
        amax = np.abs(w).max(axis=other, initial=0.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = w.shape[axis]
    scale = (amax / np.float32(INT8_MAX)).astype(np.float32)
    scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
    q = np.rint(w / scale.reshape(shape))
    q = np.clip(q, -INT8_MAX, INT8_MAX).astype(np.int8)
    return q, np.asarray(scale, np.float32)


def bias_scale(x_scale, w_scale) -> np.ndarray:
    """x_scale * w_scale in float32 (QLinearConv's implicit bias scale)."""
    return (np.float32(x_scale) * np.asarray(w_scale, np.float32)).astype(np.float32)


def quantize_bias(b: np.ndarray, x_scale, w_scale) -> np.ndarray:
    """int32 round-half-even(b / (x_scale * w_scale)), saturated to int32."""
    s = bias_scale(x_scale, w_scale).astype(np.float64)
    q = np.rint(np.asarray(b, np.float32).astype(np.float64) / s)
    return np.clip(q, INT32_MIN, INT32_MAX).astype(np.int32)


def percentile_range(hist: np.ndarray, edge: float, percentile: float) -> float:
    """The |x| threshold below which `percentile` % of the values fall, from a
    histogram of |x| over [0, edge]: the upper edge of the first bin where the
    cumulative count reaches that share (the whole range for 100)."""
    total = int(hist.sum())
    if total == 0 or edge <= 0:
        return 0.0
    if percentile >= 100:
        return float(edge)
    cum = np.cumsum(hist, dtype=np.int64)
    k = int(np.searchsorted(cum, np.float64(percentile) / 100.0 * total, side="left"))
    k = min(k, len(hist) - 1)
    return float(edge) * (k + 1) / len(hist)
