package dev.pyfw;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A typed n-dimensional array that is fed to or returned by an {@link Interpreter}.
 * The data lives in a direct buffer in the machine's byte order, the layout libpfw
 * copies from and to. A shape of {@code []} is a scalar. {@link #close()} drops the
 * data; any use after it throws {@link IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {
  /** Highest rank libpfw handles (PFW_MAX_RANK in pfw.h). */
  public static final int MAX_RANK = 8;

  private final DataType dtype;
  private final long[] shape;
  private ByteBuffer data;      // numbers; an empty buffer for STRING, null once closed
  private byte[][] strings;     // STRING: each element's bytes

  Tensor(DataType dtype, long[] shape, ByteBuffer data) {
    this.dtype = dtype;
    this.shape = shape;
    this.data = data;
  }

  private Tensor(long[] shape, byte[][] strings) {
    this(DataType.STRING, shape, ByteBuffer.allocateDirect(0));
    this.strings = strings;
  }

  // ---- creating ------------------------------------------------------------

  /** A float32 tensor holding a copy of {@code data}. */
  public static Tensor create(float[] data, long... shape) {
    Tensor t = allocate(DataType.FLOAT32, shape, Checks.notNull(data, "data").length);
    t.data.asFloatBuffer().put(data);
    return t;
  }

  /** A float32 tensor holding a copy of the remaining elements of {@code data} (its position is unchanged). */
  public static Tensor create(FloatBuffer data, long... shape) {
    Tensor t = allocate(DataType.FLOAT32, shape, Checks.notNull(data, "data").remaining());
    t.data.asFloatBuffer().put(data.duplicate());
    return t;
  }

  /** A float64 tensor holding a copy of {@code data}. */
  public static Tensor create(double[] data, long... shape) {
    Tensor t = allocate(DataType.FLOAT64, shape, Checks.notNull(data, "data").length);
    t.data.asDoubleBuffer().put(data);
    return t;
  }

  /** An int64 tensor holding a copy of {@code data}. */
  public static Tensor create(long[] data, long... shape) {
    Tensor t = allocate(DataType.INT64, shape, Checks.notNull(data, "data").length);
    t.data.asLongBuffer().put(data);
    return t;
  }

  /** An int32 tensor holding a copy of {@code data}. */
  public static Tensor create(int[] data, long... shape) {
    Tensor t = allocate(DataType.INT32, shape, Checks.notNull(data, "data").length);
    t.data.asIntBuffer().put(data);
    return t;
  }

  /** An int8 tensor holding a copy of {@code data} (for uint8 use {@link #fromLittleEndian}). */
  public static Tensor create(byte[] data, long... shape) {
    Tensor t = allocate(DataType.INT8, shape, Checks.notNull(data, "data").length);
    t.data.put(data).rewind();
    return t;
  }

  /** A string tensor of {@code data} encoded as UTF-8 (a null element is the empty string). */
  public static Tensor create(String[] data, long... shape) {
    byte[][] bytes = new byte[Checks.notNull(data, "data").length][];
    for (int i = 0; i < data.length; i++) {
      bytes[i] = data[i] == null ? new byte[0] : data[i].getBytes(StandardCharsets.UTF_8);
    }
    return fromStringBytes(bytes, shape);
  }

  /** A string tensor whose elements are copies of {@code data}'s byte arrays, any bytes (UTF-8 or not). */
  public static Tensor fromStringBytes(byte[][] data, long... shape) {
    long[] dims = Checks.notNull(shape, "shape").clone();
    long count = elementCount(dims);
    if (count != Checks.notNull(data, "data").length) {
      throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " holds " + count
          + " elements, but the data has " + data.length);
    }
    byte[][] copy = new byte[data.length][];
    for (int i = 0; i < data.length; i++) {
      copy[i] = data[i] == null ? new byte[0] : data[i].clone();
    }
    return new Tensor(dims, copy);
  }

  /** A string tensor that takes {@code strings} as they are (the interpreter's fresh copies). */
  static Tensor ofStringBytes(long[] shape, byte[][] strings) {
    return new Tensor(shape, strings);
  }

  /** A bool tensor holding a copy of {@code data}. */
  public static Tensor create(boolean[] data, long... shape) {
    Tensor t = allocate(DataType.BOOL, shape, Checks.notNull(data, "data").length);
    for (int i = 0; i < data.length; i++) {
      t.data.put(i, (byte) (data[i] ? 1 : 0));
    }
    return t;
  }

  /**
   * A tensor of any dtype from raw little-endian bytes, the layout of the golden
   * vectors and of NumPy's {@code tobytes()} on x86 and ARM.
   */
  public static Tensor fromLittleEndian(DataType dtype, byte[] bytes, long... shape) {
    Checks.notNull(dtype, "dtype");
    Checks.notNull(bytes, "bytes");
    if (dtype == DataType.STRING) {
      throw new IllegalArgumentException("string tensors have no raw byte form: use create(String[], ...)");
    }
    if (bytes.length % dtype.byteSize() != 0) {
      throw new IllegalArgumentException(bytes.length + " bytes are not a whole number of "
          + dtype + " elements (" + dtype.byteSize() + " bytes each)");
    }
    Tensor t = allocate(dtype, shape, bytes.length / dtype.byteSize());
    copyReordered(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN), t.data, dtype.byteSize());
    return t;
  }

  private static Tensor allocate(DataType dtype, long[] shape, int elements) {
    long[] dims = Checks.notNull(shape, "shape").clone();
    long count = elementCount(dims);
    if (count != elements) {
      throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " holds " + count
          + " elements, but the data has " + elements);
    }
    long bytes = count * dtype.byteSize();
    return new Tensor(dtype, dims, ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder()));
  }

  /** Elements of a shape; every dimension must be >= 0 and the bytes must fit a Java buffer. */
  static long elementCount(long[] shape) {
    if (shape.length > MAX_RANK) {
      throw new IllegalArgumentException("rank " + shape.length + " exceeds the maximum of " + MAX_RANK);
    }
    long count = 1;
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] < 0) {
        throw new IllegalArgumentException("dimension " + i + " of shape " + Arrays.toString(shape)
            + " is negative");
      }
      try {
        count = Math.multiplyExact(count, shape[i]);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has too many elements");
      }
    }
    if (count > Integer.MAX_VALUE / 8) {
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " is too large for a Java buffer");
    }
    return count;
  }

  /** Copies whole elements from {@code src} to {@code dst}, each read and written in its buffer's own byte order. */
  private static void copyReordered(ByteBuffer src, ByteBuffer dst, int elementSize) {
    ByteBuffer out = dst.duplicate().order(dst.order());
    switch (elementSize) {
      case 1 -> out.put(src);
      case 2 -> out.asShortBuffer().put(src.asShortBuffer());
      case 4 -> out.asIntBuffer().put(src.asIntBuffer());
      case 8 -> out.asLongBuffer().put(src.asLongBuffer());
      default -> throw new IllegalArgumentException("element size " + elementSize);
    }
  }

  // ---- reading ---------------------------------------------------------------

  public DataType dtype() {
    return dtype;
  }

  /** The shape (a copy). */
  public long[] shape() {
    return shape.clone();
  }

  public long elementCount() {
    return elementCount(shape);
  }

  public boolean isClosed() {
    return data == null;
  }

  /** The elements of a float32 tensor, as a new array. */
  public float[] getFloats() {
    float[] out = new float[(int) elementCount()];
    typed(DataType.FLOAT32).asFloatBuffer().get(out);
    return out;
  }

  /** A read-only view of a float32 tensor's elements (valid until close). */
  public FloatBuffer asFloatBuffer() {
    return typed(DataType.FLOAT32).asReadOnlyBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  public double[] getDoubles() {
    double[] out = new double[(int) elementCount()];
    typed(DataType.FLOAT64).asDoubleBuffer().get(out);
    return out;
  }

  public long[] getLongs() {
    long[] out = new long[(int) elementCount()];
    typed(DataType.INT64).asLongBuffer().get(out);
    return out;
  }

  public int[] getInts() {
    int[] out = new int[(int) elementCount()];
    typed(DataType.INT32).asIntBuffer().get(out);
    return out;
  }

  /** The elements of an int8 or uint8 tensor (uint8 values above 127 read as negative bytes). */
  public byte[] getBytes() {
    ByteBuffer b = open();
    if (dtype != DataType.INT8 && dtype != DataType.UINT8) {
      throw new IllegalStateException("this tensor holds " + dtype + ", not int8 or uint8");
    }
    byte[] out = new byte[(int) elementCount()];
    b.get(out);
    return out;
  }

  public boolean[] getBooleans() {
    ByteBuffer b = typed(DataType.BOOL);
    boolean[] out = new boolean[(int) elementCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.get(i) != 0;
    }
    return out;
  }

  /** The strings of a string tensor, decoded from UTF-8 (malformed bytes become U+FFFD). */
  public String[] getStrings() {
    byte[][] bytes = stringBytes();
    String[] out = new String[bytes.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = new String(bytes[i], StandardCharsets.UTF_8);
    }
    return out;
  }

  /** The bytes of each element of a string tensor, as new arrays. */
  public byte[][] getStringBytes() {
    byte[][] bytes = stringBytes();
    byte[][] out = new byte[bytes.length][];
    for (int i = 0; i < out.length; i++) {
      out[i] = bytes[i].clone();
    }
    return out;
  }

  /** The elements for the interpreter to copy from (not copied here: it only reads them). */
  byte[][] stringBytes() {
    open();
    if (dtype != DataType.STRING) {
      throw new IllegalStateException("this tensor holds " + dtype + ", not string");
    }
    return strings;
  }

  /** The data as raw little-endian bytes, whatever the numeric dtype (the golden files' layout). */
  public byte[] toLittleEndian() {
    if (dtype == DataType.STRING) {
      throw new IllegalStateException("a string tensor has no raw byte form: use getStrings()");
    }
    ByteBuffer src = open();
    byte[] out = new byte[src.capacity()];
    copyReordered(src, ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN), dtype.byteSize());
    return out;
  }

  /** The data buffer (position 0, native order) for the interpreter to copy from. */
  ByteBuffer buffer() {
    return open();
  }

  private ByteBuffer open() {
    if (data == null) {
      throw new IllegalStateException("this Tensor is closed");
    }
    return data.duplicate().order(ByteOrder.nativeOrder());
  }

  private ByteBuffer typed(DataType wanted) {
    ByteBuffer b = open();
    if (dtype != wanted) {
      throw new IllegalStateException("this tensor holds " + dtype + ", not " + wanted);
    }
    return b;
  }

  /** Drops the data. Safe to call twice. */
  @Override
  public void close() {
    data = null;
    strings = null;
  }

  @Override
  public String toString() {
    return "Tensor(" + dtype + " " + Arrays.toString(shape) + (data == null ? ", closed)" : ")");
  }
}
