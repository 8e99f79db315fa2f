"""DFT (opsets 17 and 20), one small ONNX model per case: numpy's FFT in
float64 is the oracle (np.fft.fft / ifft / rfft / irfft), ONNX Runtime a
second one for forward transforms: real and complex signals, axes,
dft_length padding and truncation, onesided, inverse."""
import numpy as np
import pytest

from onnx_util import Init, check_or_reference, pfw_run, single_op, to_pfw

rng = np.random.default_rng(20261206)
f32, f64, i64 = np.float32, np.float64, np.int64


def as_pairs(z):
    return np.stack([z.real, z.imag], axis=-1)


def signal(shape, complex_):
    x = rng.uniform(-1, 1, shape + (2 if complex_ else 1,))
    return x, (x[..., 0] + 1j * x[..., 1]) if complex_ else x[..., 0]


def run(x, opset, axis, n=None, **attrs):
    args = [x, None if n is None else Init(np.array(n, i64))]
    if opset >= 20:
        args.append(Init(np.array(axis, i64)))
    else:
        attrs["axis"] = axis
    while args[-1] is None:
        args.pop()
    model, feeds = single_op("DFT", args, opset=opset, **attrs)
    return model, feeds, pfw_run(to_pfw(model), feeds)[0]


@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("axis", [1, 2])
@pytest.mark.parametrize("n", [None, 4, 9])
@pytest.mark.parametrize("onesided", [0, 1])
def test_forward(opset, complex_, axis, n, onesided):
    x, z = signal((2, 6, 5), complex_)
    if complex_ and onesided:
        pytest.skip("onesided needs a real signal")
    model, feeds, got = run(x, opset, axis, n, onesided=onesided)
    want = np.fft.fft(z, n=n, axis=axis)
    if onesided:
        want = np.take(want, np.arange(want.shape[axis] // 2 + 1), axis=axis)
    np.testing.assert_allclose(got, as_pairs(want), rtol=1e-10, atol=1e-12)
    if opset == 17:  # float32, against ONNX Runtime
        check_or_reference(*single_op("DFT", [x.astype(f32)], opset=17, axis=axis, onesided=onesided))


@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("n", [None, 4, 8])
def test_inverse(opset, n):
    x, z = signal((3, 7), True)
    _, _, got = run(x, opset, 1, n, inverse=1)
    np.testing.assert_allclose(got, as_pairs(np.fft.ifft(z, n=n, axis=1)), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("n", [None, 7, 10])
def test_irfft(opset, n):
    """inverse + onesided: numpy's irfft of a one-sided spectrum, real out."""
    x, z = signal((2, 6), True)
    _, _, got = run(x, opset, 1, n, inverse=1, onesided=1)
    np.testing.assert_allclose(got[..., 0], np.fft.irfft(z, n=n, axis=1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [65, 100, 128, 1031, 4096])
@pytest.mark.parametrize("kind", ["fft", "ifft", "rfft", "irfft"])
def test_long_lengths_take_the_fft(kind, n):
    """Lengths past the direct sum: radix-2 (128, 4096) and Bluestein (65,
    100, the prime 1031), against numpy's pocketfft, with padding (n beyond
    the input) and truncation (n below it)."""
    for length in (n, n - 7, n + 9):
        if kind == "irfft":
            x, z = signal((2, length // 2 + 1), True)
            _, _, got = run(x, 20, 1, length, inverse=1, onesided=1)
            np.testing.assert_allclose(got[..., 0], np.fft.irfft(z, n=length, axis=1), rtol=1e-10, atol=1e-12)
            continue
        x, z = signal((2, n, 3), kind != "rfft")
        _, _, got = run(x, 20, 1, length, inverse=int(kind == "ifft"), onesided=int(kind == "rfft"))
        want = {"fft": np.fft.fft, "ifft": np.fft.ifft, "rfft": np.fft.rfft}[kind](z, n=length, axis=1)
        np.testing.assert_allclose(got, as_pairs(want), rtol=1e-10, atol=1e-12)
