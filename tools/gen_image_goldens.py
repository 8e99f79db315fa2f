"""Writes the golden images of ImageDecoder's tests (runtime_c/tests/data/images).

Each image is encoded by Pillow and stored with what Pillow decodes from it:
`<file>.rgb` holds Image.open(file).convert("RGB") and `<file>.gray`
convert("L"), raw bytes, the sizes in MANIFEST.txt. That is ONNX's reference
for ImageDecoder (onnx.reference uses PIL), so libpfw must give these bytes.
Two kinds of file are encoded here instead, by hand: 16-bit PNG and PNM
samples, whose expected values follow pyfw's documented rule (PNG keeps the
high byte, PNM scales by maxval as Pillow does below 16 bits: round(v / maxval
* 255), halves to even) where Pillow clamps 16-bit gray to 255.

Pillow is needed only to run this script (pip install pillow into any
environment); it is not a dependency of pyfw or its tests.

    python tools/gen_image_goldens.py
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "runtime_c" / "tests" / "data" / "images"


def picture(h: int, w: int, seed: int) -> np.ndarray:
    """Gradients, flat blocks and noise: smooth areas and sharp edges both."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 7) % 256], -1)
    blocks = np.kron(rng.integers(0, 256, ((h + 3) // 4, (w + 3) // 4, 3)), np.ones((4, 4, 1)))[:h, :w]
    noise = rng.integers(0, 256, (h, w, 3))
    mix = np.where((x // 8 + y // 8)[..., None] % 3 == 0, noise, np.where(x[..., None] > w // 2, blocks, a))
    return mix.astype(np.uint8)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png16(arr: np.ndarray) -> bytes:
    """A 16-bit PNG (gray or RGB) with filter 0 rows: Pillow writes no 16-bit RGB."""
    h, w = arr.shape[:2]
    color = 0 if arr.ndim == 2 else 2
    raw = b"".join(b"\0" + arr[r].astype(">u2").tobytes() for r in range(h))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw, 6)) + png_chunk(b"IEND", b""))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.iterdir():
        f.unlink()
    manifest = []

    def add(name: str, data: bytes, rgb: np.ndarray | None = None, gray: np.ndarray | None = None) -> None:
        (OUT / name).write_bytes(data)
        if rgb is None:
            im = Image.open(io.BytesIO(data))
            rgb, gray = np.asarray(im.convert("RGB")), np.asarray(im.convert("L"))
        assert rgb.dtype == np.uint8 and gray.shape == rgb.shape[:2]
        (OUT / f"{name}.rgb").write_bytes(rgb.tobytes())
        (OUT / f"{name}.gray").write_bytes(gray.tobytes())
        manifest.append(f"{name} {rgb.shape[1]} {rgb.shape[0]}")

    def save(name: str, im: Image.Image, fmt: str, **opts) -> None:
        f = io.BytesIO()
        im.save(f, format=fmt, **opts)
        add(name, f.getvalue())

    sizes = [(1, 1), (5, 3), (9, 17), (31, 33), (24, 40)]
    for k, (h, w) in enumerate(sizes):
        rgb = Image.fromarray(picture(h, w, k))
        tag = f"{w}x{h}"
        # JPEG: every chroma subsampling, progressive, restart markers, optimised tables, gray.
        save(f"q75_420_{tag}.jpg", rgb, "JPEG")
        save(f"q95_444_{tag}.jpg", rgb, "JPEG", quality=95, subsampling=0)
        save(f"q50_422_{tag}.jpg", rgb, "JPEG", quality=50, subsampling=1)
        save(f"progressive_420_{tag}.jpg", rgb, "JPEG", progressive=True)
        save(f"gray_{tag}.jpg", rgb.convert("L"), "JPEG", quality=85)
        # PNG: colour types, palettes of 1/2/4/8 bits, alpha, interlacing.
        save(f"rgb_{tag}.png", rgb, "PNG")
        save(f"rgba_{tag}.png", rgb.convert("RGBA"), "PNG", compress_level=1)
        save(f"gray_{tag}.png", rgb.convert("L"), "PNG", compress_level=0)
        save(f"bilevel_{tag}.png", rgb.convert("1"), "PNG")
        save(f"palette_{tag}.png", rgb.quantize(200), "PNG", optimize=True)
        save(f"palette4_{tag}.png", rgb.quantize(16), "PNG", bits=4)
        save(f"interlaced_{tag}.png", rgb, "PNG", interlace=1)
        save(f"gray_alpha_{tag}.png", rgb.convert("LA"), "PNG")
        # BMP, PNM, TIFF as Pillow writes them.
        save(f"rgb_{tag}.bmp", rgb, "BMP")
        save(f"palette_{tag}.bmp", rgb.quantize(100), "BMP")
        save(f"bilevel_{tag}.bmp", rgb.convert("1"), "BMP")
        save(f"rgb_{tag}.ppm", rgb, "PPM")
        save(f"gray_{tag}.pgm", rgb.convert("L"), "PPM")
        save(f"bilevel_{tag}.pbm", rgb.convert("1"), "PPM")
        save(f"raw_{tag}.tif", rgb, "TIFF")
        save(f"lzw_{tag}.tif", rgb, "TIFF", compression="tiff_lzw")
        save(f"packbits_{tag}.tif", rgb.convert("L"), "TIFF", compression="packbits")
        save(f"deflate_{tag}.tif", rgb, "TIFF", compression="tiff_adobe_deflate")
        save(f"palette_{tag}.tif", rgb.quantize(64), "TIFF")
        save(f"rgba_{tag}.tif", rgb.convert("RGBA"), "TIFF")
    # More JPEG shapes: restart intervals, low quality, progressive 4:4:4.
    big = Image.fromarray(picture(47, 61, 9))
    save("restart_61x47.jpg", big, "JPEG", restart_marker_blocks=2)
    save("q10_61x47.jpg", big, "JPEG", quality=10)
    save("progressive_444_61x47.jpg", big, "JPEG", progressive=True, subsampling=0, quality=90)
    save("optimized_61x47.jpg", big, "JPEG", optimize=True)
    save("progressive_restart_61x47.jpg", big, "JPEG", progressive=True, restart_marker_blocks=1)
    save("progressive_restart_gray_61x47.jpg", big.convert("L"), "JPEG", progressive=True, restart_marker_rows=1)
    # IDCT overshoot past what the encoder wrote: a DC quantizer raised after
    # encoding takes samples to 2.5-4x white, where libjpeg's C table would
    # wrap; Pillow's SIMD IDCT (and pyfw) saturate.
    for dc_q in (4, 5, 7):
        flat = np.full((16, 24), 255, np.uint8)
        flat[:8, :8] = 200
        f = io.BytesIO()
        Image.fromarray(flat).save(f, format="JPEG", qtables=[[1] * 64])
        data = bytearray(f.getvalue())
        data[data.index(b"\xff\xdb") + 5] = dc_q  # DQT: length (2), Pq/Tq, then Q[0]
        add(f"overshoot_dc{dc_q}_24x16.jpg", bytes(data))
    # 16-bit samples: pyfw's rule, not Pillow's clamp (see the docstring).
    rng = np.random.default_rng(16)
    g16 = rng.integers(0, 65536, (7, 13), dtype=np.uint16)
    hi = (g16 >> 8).astype(np.uint8)
    add("gray16_13x7.png", png16(g16), np.repeat(hi[..., None], 3, -1), hi)
    c16 = rng.integers(0, 65536, (6, 11, 3), dtype=np.uint16)
    rgb8 = (c16 >> 8).astype(np.uint8)
    r, g, b = (rgb8[..., i].astype(np.uint32) for i in range(3))
    l24 = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16  # PIL's convert("L")
    add("rgb16_11x6.png", png16(c16), rgb8, l24.astype(np.uint8))
    scaled = np.round(g16 / 65535 * 255).astype(np.uint8)  # Pillow's rule for 8-bit PNM, halves to even
    add("gray16_13x7.pgm", b"P5\n13 7\n65535\n" + g16.astype(">u2").tobytes(), np.repeat(scaled[..., None], 3, -1), scaled)
    (OUT / "MANIFEST.txt").write_text(
        "# file width height: <file>.rgb and <file>.gray hold the expected pixels (tools/gen_image_goldens.py)\n"
        + "\n".join(manifest) + "\n")
    print(f"{len(manifest)} images in {OUT}")


if __name__ == "__main__":
    main()
