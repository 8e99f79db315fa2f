package dev.pyfw;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Typed data in and out of Tensor, and the little-endian layout of the golden files. */
class TensorTest {
  @Test
  void typedArraysRoundTrip() {
    float[] f = {1.5f, -2.25f, Float.MIN_VALUE, Float.NaN, Float.NEGATIVE_INFINITY, 0f};
    assertArrayEquals(f, Tensor.create(f, 2, 3).getFloats());
    double[] d = {Math.PI, -0.0, Double.MAX_VALUE};
    assertArrayEquals(d, Tensor.create(d, 3).getDoubles());
    long[] l = {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE};
    assertArrayEquals(l, Tensor.create(l, 2, 2).getLongs());
    int[] i = {Integer.MIN_VALUE, 7, Integer.MAX_VALUE};
    assertArrayEquals(i, Tensor.create(i, 3, 1).getInts());
    byte[] b = {-128, 0, 127};
    assertArrayEquals(b, Tensor.create(b, 3).getBytes());
    boolean[] z = {true, false, true, true};
    assertArrayEquals(z, Tensor.create(z, 4).getBooleans());
    Tensor scalar = Tensor.create(new float[] {42f});
    assertArrayEquals(new long[0], scalar.shape());
    assertEquals(1, scalar.elementCount());
  }

  @Test
  void floatBufferInputKeepsItsPositionAndViewIsReadOnly() {
    FloatBuffer src = FloatBuffer.wrap(new float[] {9f, 1f, 2f, 3f, 4f});
    src.position(1);
    Tensor t = Tensor.create(src, 2, 2);
    assertEquals(1, src.position());
    assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, t.getFloats());
    FloatBuffer view = t.asFloatBuffer();
    assertEquals(3f, view.get(2));
    assertThrows(ReadOnlyBufferException.class, () -> view.put(0, 5f));
  }

  @Test
  void littleEndianBytesMatchNumpysLayout() {
    // 1.0f is 0x3F800000: little-endian bytes 00 00 80 3F; int64 258 is 02 01 00 ...
    byte[] one = {0, 0, (byte) 0x80, 0x3F};
    assertArrayEquals(new float[] {1f}, Tensor.fromLittleEndian(DataType.FLOAT32, one, 1).getFloats());
    assertArrayEquals(one, Tensor.create(new float[] {1f}, 1).toLittleEndian());
    byte[] n258 = {2, 1, 0, 0, 0, 0, 0, 0};
    assertArrayEquals(new long[] {258}, Tensor.fromLittleEndian(DataType.INT64, n258, 1).getLongs());
    assertArrayEquals(n258, Tensor.create(new long[] {258}, 1).toLittleEndian());
    // Every numeric dtype keeps its bytes through a round trip (strings have no raw form).
    for (DataType t : DataType.values()) {
      if (t == DataType.STRING) {
        continue;
      }
      byte[] raw = new byte[3 * t.byteSize()];
      for (int k = 0; k < raw.length; k++) {
        raw[k] = (byte) (17 * k + 3);
      }
      Tensor x = Tensor.fromLittleEndian(t, raw, 3);
      assertEquals(t, x.dtype());
      assertArrayEquals(raw, x.toLittleEndian(), t.toString());
    }
    // The reference for the float path: java.nio's own little-endian decoding.
    byte[] raw = new byte[16];
    for (int k = 0; k < raw.length; k++) {
      raw[k] = (byte) (31 * k + 5);
    }
    float[] want = new float[4];
    ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(want);
    assertArrayEquals(want, Tensor.fromLittleEndian(DataType.FLOAT32, raw, 2, 2).getFloats());
  }

  /** The C runtime is the reference for what each pfw_dtype and pfw_status number means. */
  @Test
  void dtypesAndStatusesAgreeWithTheRuntime() {
    for (DataType t : DataType.values()) {
      assertEquals(t.toString(), new String(PfwNative.dtypeName(t.code()), StandardCharsets.UTF_8));
      // A STRING element is a runtime (pointer, size) pair; Java holds byte[] elements instead.
      assertEquals(t == DataType.STRING ? 16 : t.byteSize(), PfwNative.dtypeSize(t.code()), t.toString());
    }
    for (PfwException.Status s : PfwException.Status.values()) {
      String want = s == PfwException.Status.OK ? "PFW_OK" : "PFW_ERR_" + s.name();
      assertEquals(want, new String(PfwNative.statusName(s.code()), StandardCharsets.UTF_8));
    }
  }

  @Test
  void versionIsTheOneInPfwH() throws Exception {
    String header = Files.readString(Golden.repoRoot().resolve("runtime_c/include/pfw.h"));
    Matcher m = Pattern.compile("#define PFW_VERSION \"([^\"]+)\"").matcher(header);
    assertTrue(m.find(), "PFW_VERSION in pfw.h");
    assertEquals(m.group(1), Pfw.version());
  }

  @Test
  void dtypeNamesAndCodesFollowPfwH() {
    assertEquals(DataType.FLOAT32, DataType.fromName("float32"));
    assertEquals(DataType.BOOL, DataType.fromName("bool"));
    assertEquals(1, DataType.FLOAT32.code());
    assertEquals(7, DataType.INT64.code());
    assertEquals(16, DataType.BFLOAT16.code());
    assertThrows(IllegalArgumentException.class, () -> DataType.fromName("complex64"));
    assertEquals(DataType.STRING, DataType.fromCode(8));
    assertThrows(IllegalArgumentException.class, () -> DataType.fromCode(14)); // complex64: none in pfw
    assertEquals(PfwException.Status.SHAPE, PfwException.Status.fromCode(6));
  }

  @Test
  void readingTheWrongTypeSaysWhatItHolds() {
    Tensor t = Tensor.create(new float[] {1f}, 1);
    IllegalStateException e = assertThrows(IllegalStateException.class, t::getLongs);
    assertEquals("this tensor holds float32, not int64", e.getMessage());
    assertThrows(IllegalStateException.class, t::getBytes);
    assertThrows(IllegalStateException.class, t::getBooleans);
  }
}
