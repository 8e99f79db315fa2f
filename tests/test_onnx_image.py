"""ImageDecoder (ONNX opset 20) run by libpfw's own codecs (runtime_c/src/image/).

Oracles:
- golden images encoded by Pillow with the pixels Pillow decodes from them
  (runtime_c/tests/data/images, made by tools/gen_image_goldens.py): ONNX's
  reference implementation of ImageDecoder is Pillow, so these bytes are the
  spec's answer, JPEG included;
- lossless files written here from known pixels by encoders of our own (PNG
  with each row filter and each kind of deflate block, BMP, PNM, TIFF);
- ONNX's own ImageDecoder vectors run in tests/test_onnx_backend.py.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnx_util import build, to_pfw

IMAGES = Path(__file__).resolve().parent.parent / "runtime_c" / "tests" / "data" / "images"


def golden():
    """(file, width, height) of every golden image."""
    out = []
    for line in (IMAGES / "MANIFEST.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, w, h = line.split()
            out.append((name, int(w), int(h)))
    return out


def decoder_model(pixel_format="RGB"):
    node = helper.make_node("ImageDecoder", ["encoded"], ["image"], pixel_format=pixel_format)
    return build([node], [helper.make_tensor_value_info("encoded", TensorProto.UINT8, [None])],
                 [helper.make_tensor_value_info("image", TensorProto.UINT8, [None, None, None])], opset=20)


_MODELS = {}


def decode(data: bytes, pixel_format="RGB", **interpreter_args) -> np.ndarray:
    key = pixel_format
    if key not in _MODELS:
        _MODELS[key] = to_pfw(decoder_model(pixel_format))
    from pyfw.runtime import Interpreter
    with Interpreter(_MODELS[key], **interpreter_args) as it:
        return it.run({"encoded": np.frombuffer(data, np.uint8)})[0]


def l24(rgb: np.ndarray) -> np.ndarray:
    """PIL's convert("L"), which ONNX's reference applies for Grayscale."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


# ---- golden images: Pillow's pixels, byte for byte ---------------------------

GOLDEN = golden()


@pytest.mark.parametrize("name,w,h", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_image(name, w, h):
    data = (IMAGES / name).read_bytes()
    rgb = np.frombuffer((IMAGES / f"{name}.rgb").read_bytes(), np.uint8).reshape(h, w, 3)
    gray = np.frombuffer((IMAGES / f"{name}.gray").read_bytes(), np.uint8).reshape(h, w, 1)
    got = decode(data, "RGB")
    assert got.dtype == np.uint8 and got.shape == (h, w, 3)
    np.testing.assert_array_equal(got, rgb)
    np.testing.assert_array_equal(decode(data, "BGR"), rgb[..., ::-1])
    np.testing.assert_array_equal(decode(data, "Grayscale"), gray)


def test_golden_set_covers_every_codec_and_jpeg_kind():
    names = [g[0] for g in GOLDEN]
    for ext in (".jpg", ".png", ".bmp", ".ppm", ".pgm", ".pbm", ".tif"):
        assert sum(n.endswith(ext) for n in names) >= 5 or ext == ".pgm", ext
    for kind in ("progressive_420", "progressive_444", "q95_444", "q50_422", "restart", "gray_", "interlaced"):
        assert any(kind in n for n in names), kind


# ---- lossless files from known pixels, encoded here ------------------------------

RNG = np.random.default_rng(7)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def png_encode(pixels: np.ndarray, color: int, depth: int = 8, filters=(0, 1, 2, 3, 4), level=6,
               strategy=zlib.Z_DEFAULT_STRATEGY, palette: bytes | None = None, chunk=None) -> bytes:
    """A PNG of `pixels` (rows of samples, already packed for depth < 8),
    each row with the next filter of `filters` in turn."""
    bpp = max(1, {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color] * depth // 8)
    rows = pixels.reshape(pixels.shape[0], -1).astype(np.int64)
    raw, prev = [], np.zeros(rows.shape[1], np.int64)
    for y, row in enumerate(rows):
        f = filters[y % len(filters)]
        left = np.concatenate([np.zeros(bpp, np.int64), row[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), prev[:-bpp]])
        pred = {0: 0, 1: left, 2: prev, 3: (left + prev) // 2, 4: paeth(left, prev, upleft)}[f]
        raw.append(bytes([f]) + ((row - pred) % 256).astype(np.uint8).tobytes())
        prev = row
    h, w = pixels.shape[:2]
    if depth < 8:
        w = pixels.shape[1] * 8 // depth if chunk is None else chunk
    c = zlib.compressobj(level, zlib.DEFLATED, 15, 9, strategy)
    data = c.compress(b"".join(raw)) + c.flush()
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0))
    if palette is not None:
        out += png_chunk(b"PLTE", palette)
    # IDAT split in three: decoders must join them.
    k = len(data) // 3
    for part in (data[:k], data[k:2 * k], data[2 * k:]):
        out += png_chunk(b"IDAT", part)
    return out + png_chunk(b"IEND", b"")


@pytest.mark.parametrize("level,strategy", [(0, zlib.Z_DEFAULT_STRATEGY), (1, zlib.Z_FIXED),
                                            (9, zlib.Z_DEFAULT_STRATEGY), (6, zlib.Z_HUFFMAN_ONLY),
                                            (6, zlib.Z_RLE)])
@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (4, 3, 2, 1, 0)])
def test_png_every_filter_and_deflate_block_kind(filters, level, strategy):
    rgb = RNG.integers(0, 256, (13, 29, 3), dtype=np.uint8)
    rgb[4:9] = rgb[4:5]  # repeats, for back references
    data = png_encode(rgb, 2, filters=filters, level=level, strategy=strategy)
    np.testing.assert_array_equal(decode(data), rgb)
    np.testing.assert_array_equal(decode(data, "Grayscale")[..., 0], l24(rgb))


def test_png_rgba_and_gray_alpha_drop_alpha():
    rgba = RNG.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    np.testing.assert_array_equal(decode(png_encode(rgba, 6)), rgba[..., :3])
    la = RNG.integers(0, 256, (5, 7, 2), dtype=np.uint8)
    np.testing.assert_array_equal(decode(png_encode(la, 4), "Grayscale")[..., 0], la[..., 0])
    np.testing.assert_array_equal(decode(png_encode(la, 4)), np.repeat(la[..., :1], 3, -1))


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_png_low_bit_gray_scales_to_full_range(depth):
    w, h = 19, 6
    values = RNG.integers(0, 1 << depth, (h, w))
    per = 8 // depth
    padded = np.zeros((h, -(-w // per) * per), np.int64)
    padded[:, :w] = values
    packed = np.zeros((h, padded.shape[1] // per), np.int64)
    for k in range(per):
        packed |= padded[:, k::per] << (8 - depth * (k + 1))
    data = png_encode(packed.astype(np.uint8), 0, depth, chunk=w)
    want = (values * 255 // ((1 << depth) - 1)).astype(np.uint8)
    np.testing.assert_array_equal(decode(data, "Grayscale")[..., 0], want)


def test_png_palette_indices_map_through_plte():
    pal = RNG.integers(0, 256, (10, 3), dtype=np.uint8)
    idx = RNG.integers(0, 10, (6, 9), dtype=np.uint8)
    data = png_encode(idx, 3, palette=pal.tobytes())
    np.testing.assert_array_equal(decode(data), pal[idx])


# ---- BMP, PNM, TIFF written here ----------------------------------------------

def bmp_encode(rgb: np.ndarray, top_down=False) -> bytes:
    h, w = rgb.shape[:2]
    stride = (w * 3 + 3) & ~3
    rows = [rgb[y, :, ::-1].tobytes().ljust(stride, b"\0") for y in range(h)]
    body = b"".join(rows if top_down else rows[::-1])
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, 24, 0, len(body), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + len(body), 0, 0, 54) + info + body


@pytest.mark.parametrize("top_down", [False, True])
def test_bmp_rows_in_either_order(top_down):
    rgb = RNG.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode(bmp_encode(rgb, top_down)), rgb)


@pytest.mark.parametrize("maxval", [255, 1000, 15])
def test_pnm_ascii_and_binary_with_any_maxval(maxval):
    rgb = RNG.integers(0, maxval + 1, (4, 6, 3))
    want = np.round(rgb / maxval * 255).astype(np.uint8)  # Pillow's rule: halves to even
    ascii_ = f"P3\n# made by a test\n6 4\n{maxval}\n".encode() + " ".join(map(str, rgb.ravel())).encode() + b"\n"
    np.testing.assert_array_equal(decode(ascii_), want)
    sample = ">u2" if maxval > 255 else "u1"
    binary = f"P6 6 4 {maxval}\n".encode() + rgb.astype(sample).tobytes()
    np.testing.assert_array_equal(decode(binary), want)


def tiff_encode(rgb: np.ndarray, big_endian=False, rows_per_strip=2, tile=None, planar=False,
                deflate_predictor=False) -> bytes:
    """RGB as a baseline TIFF: strips of `rows_per_strip` rows or (w, h)
    tiles (edge tiles padded), chunky or planar, raw or Deflate with the
    horizontal-differencing predictor."""
    e = ">" if big_endian else "<"
    h, w = rgb.shape[:2]
    planes = [rgb[..., k:k + 1] for k in range(3)] if planar else [rgb]
    chunks = []
    for p in planes:
        if tile:
            tw, th = tile
            for ty in range(0, h, th):
                for tx in range(0, w, tw):
                    block = np.zeros((th, tw, p.shape[2]), np.uint8)
                    part = p[ty:ty + th, tx:tx + tw]
                    block[:part.shape[0], :part.shape[1]] = part
                    chunks.append(block)
        else:
            chunks += [p[y:y + rows_per_strip] for y in range(0, h, rows_per_strip)]
    if deflate_predictor:  # each sample minus the same sample of the pixel to its left, per row
        flat = [c.reshape(c.shape[0], -1).astype(np.int64) for c in chunks]
        spp = chunks[0].shape[2]
        chunks = [zlib.compress((np.concatenate([f[:, :spp], f[:, spp:] - f[:, :-spp]], axis=1) % 256)
                                .astype(np.uint8).tobytes()) for f in flat]
    else:
        chunks = [c.tobytes() for c in chunks]
    tags = {256: (4, [w]), 257: (4, [h]), 258: (3, [8, 8, 8]), 259: (3, [8 if deflate_predictor else 1]),
            262: (3, [2]), 277: (3, [3]), 284: (3, [2 if planar else 1])}
    if deflate_predictor:
        tags[317] = (3, [2])
    offsets_tag, counts_tag = (324, 325) if tile else (273, 279)
    if tile:
        tags[322], tags[323] = (3, [tile[0]]), (3, [tile[1]])
    else:
        tags[278] = (4, [rows_per_strip])
    out = bytearray((b"MM\0*" if big_endian else b"II*\0") + b"\0\0\0\0")
    offsets = []
    for c in chunks:
        offsets.append(len(out))
        out += c
    tags[offsets_tag], tags[counts_tag] = (4, offsets), (4, [len(c) for c in chunks])
    values = {}
    for tag, (typ, vals) in tags.items():  # values over 4 bytes go out of line
        packed = struct.pack(e + ("H" if typ == 3 else "I") * len(vals), *vals)
        if len(packed) > 4:
            out += b"\0" * (len(out) % 2)
            values[tag] = struct.pack(e + "I", len(out))
            out += packed
        else:
            values[tag] = packed.ljust(4, b"\0")
    out += b"\0" * (len(out) % 2)
    ifd = len(out)
    out += struct.pack(e + "H", len(tags))
    for tag in sorted(tags):
        out += struct.pack(e + "HHI", tag, tags[tag][0], len(tags[tag][1])) + values[tag]
    out += struct.pack(e + "I", 0)
    out[4:8] = struct.pack(e + "I", ifd)
    return bytes(out)


@pytest.mark.parametrize("tile,planar,predictor", [(None, True, False), ((16, 16), False, False),
                                                   ((16, 32), True, True), (None, False, True)])
def test_tiff_tiles_planes_and_predictor(tile, planar, predictor):
    rgb = RNG.integers(0, 256, (37, 21, 3), dtype=np.uint8)
    data = tiff_encode(rgb, big_endian=planar, rows_per_strip=5, tile=tile, planar=planar, deflate_predictor=predictor)
    np.testing.assert_array_equal(decode(data), rgb)


@pytest.mark.parametrize("big_endian", [False, True])
def test_tiff_either_byte_order(big_endian):
    rgb = RNG.integers(0, 256, (5, 3, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode(tiff_encode(rgb, big_endian)), rgb)


# ---- bad input: one clear error, never a crash ----------------------------------

def error_of(data: bytes, **kw) -> str:
    with pytest.raises(ValueError) as e:
        decode(data, **kw)
    return str(e.value)


def test_unknown_bytes_name_the_formats():
    msg = error_of(b"GIF89a\x01\x00\x01\x00")
    assert "ImageDecoder" in msg and "PNG, JPEG, BMP, PNM, TIFF" in msg


@pytest.mark.parametrize("data,fmt", [(b"RIFF\x10\0\0\0WEBPVP8 ", "WebP"),
                                      (b"\0\0\0\x0cjP  \r\n\x87\n", "JPEG 2000")])
def test_unsupported_formats_say_so(data, fmt):
    assert f"{fmt} images are not supported" in error_of(data)


def test_png_bad_crc_names_chunk_and_offset():
    data = bytearray((IMAGES / "rgb_40x24.png").read_bytes())
    data[20] ^= 1  # inside IHDR
    msg = error_of(bytes(data))
    assert "PNG" in msg and "IHDR has a bad CRC" in msg and "byte offset 8" in msg


def test_memory_limit_holds_before_allocating():
    # A valid header claiming 60000 x 60000 pixels, and nothing else.
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
    data = b"\x89PNG\r\n\x1a\n" + ihdr + png_chunk(b"IDAT", zlib.compress(b"\0" * 100)) + png_chunk(b"IEND", b"")
    msg = error_of(data, arena_limit=1 << 26)
    assert "60000 x 60000" in msg and "memory limit" in msg


def test_cmyk_jpeg_is_refused_by_name():
    data = bytearray((IMAGES / "q75_420_40x24.jpg").read_bytes())
    at = data.index(b"\xff\xc0")
    assert data[at + 9] == 3
    data[at + 9] = 4  # four components; the length no longer fits either
    msg = error_of(bytes(data))
    assert "JPEG" in msg and "4 components" in msg


@pytest.mark.parametrize("name", ["q75_420_40x24.jpg", "progressive_420_40x24.jpg", "rgb_40x24.png",
                                  "interlaced_40x24.png", "rgb_40x24.bmp", "palette_40x24.bmp", "rgb_40x24.ppm",
                                  "lzw_40x24.tif", "deflate_40x24.tif", "packbits_40x24.tif"])
def test_every_truncation_is_an_error_or_an_image(name):
    """Cut at every length: each cut either decodes (a format may not need
    its last bytes) or raises pyfw's error naming the format; nothing else."""
    data = (IMAGES / name).read_bytes()
    fmt = {"jpg": ("JPEG",), "png": ("PNG",), "bmp": ("BMP",), "ppm": ("PPM", "PNM"),
           "tif": ("TIFF",)}[name.rsplit(".", 1)[1]]
    model = to_pfw(decoder_model())
    from pyfw.runtime import Interpreter
    errors = 0
    with Interpreter(model) as it:
        for n in range(1, len(data)):
            try:
                out = it.run({"encoded": np.frombuffer(data[:n], np.uint8)})[0]
                assert out.ndim == 3 and out.shape[2] == 3
            except ValueError as e:
                errors += 1
                assert any(f in str(e) for f in fmt) or "no image format" in str(e), str(e)
    assert errors >= len(data) // 2


def test_rank_and_dtype_are_checked_at_conversion():
    node = helper.make_node("ImageDecoder", ["x"], ["y"])
    model = helper.make_model(helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, None)]), opset_imports=[helper.make_opsetid("", 20)])
    with pytest.raises(ValueError, match="1-D tensor"):
        to_pfw(model)


def test_export_round_trip(tmp_path):
    """.pfw back to ONNX: the model checks and still decodes."""
    from pyfw.onnx import export_model, import_model
    graph = import_model(decoder_model("BGR"))
    onnx_back = export_model(graph)
    onnx.checker.check_model(onnx_back, full_check=True)
    assert [n.op_type for n in onnx_back.graph.node] == ["ImageDecoder"]
    data = (IMAGES / "rgb_17x9.png").read_bytes()
    rgb = np.frombuffer((IMAGES / "rgb_17x9.png.rgb").read_bytes(), np.uint8).reshape(9, 17, 3)
    from pyfw.runtime import Interpreter
    with Interpreter(to_pfw(onnx_back)) as it:
        np.testing.assert_array_equal(it.run({"encoded": np.frombuffer(data, np.uint8)})[0], rgb[..., ::-1])


def test_jpeg_fill_bytes_before_restart_markers():
    """T.81 lets any number of 0xFF fill bytes precede a marker, RSTn included."""
    data = (IMAGES / "restart_61x47.jpg").read_bytes()
    sos = data.index(b"\xff\xda")
    head, body = data[:sos], data[sos:]
    for n in range(8):
        body = body.replace(bytes([0xFF, 0xD0 + n]), bytes([0xFF, 0xFF, 0xFF, 0xD0 + n]))
    assert body.count(b"\xff\xff\xff") >= 3
    rgb = np.frombuffer((IMAGES / "restart_61x47.jpg.rgb").read_bytes(), np.uint8).reshape(47, 61, 3)
    np.testing.assert_array_equal(decode(head + body), rgb)


def test_jpeg_with_endless_scans_is_refused():
    """A small file cannot make the decoder walk the image without end: the
    scans may visit each block at most 64 times (a progressive file's dozen
    scans visit each about 10 times), and there are at most 1000 scans."""
    data = (IMAGES / "progressive_420_40x24.jpg").read_bytes()
    # A first AC scan (Ss > 0, Ah = 0) may be repeated: each copy decodes the band again.
    starts = [i for i in range(len(data) - 1) if data[i:i + 2] == b"\xff\xda"]
    for at, end in zip(starts, starts[1:] + [len(data) - 2]):
        ns = data[at + 4]
        ss, ah = data[at + 5 + 2 * ns], data[at + 7 + 2 * ns] >> 4
        if ss > 0 and ah == 0:
            scan = data[at:end]
            break
    np.testing.assert_array_equal(decode(data[:end] + scan * 10 + data[end:]), decode(data))
    msg = error_of(data[:end] + scan * 1000 + data[end:])
    assert "JPEG" in msg and "the scans decode each block more than 64 times" in msg
