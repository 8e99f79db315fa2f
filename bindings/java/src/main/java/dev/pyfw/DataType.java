package dev.pyfw;

/** Element types, numbered as {@code pfw_dtype} (ONNX TensorProto.DataType). */
public enum DataType {
  FLOAT32(1, 4, "float32"),
  UINT8(2, 1, "uint8"),
  INT8(3, 1, "int8"),
  UINT16(4, 2, "uint16"),
  INT16(5, 2, "int16"),
  INT32(6, 4, "int32"),
  INT64(7, 8, "int64"),
  /** Strings: any bytes each (see {@link Tensor#create(String[], long...)}); no fixed element size. */
  STRING(8, 0, "string"),
  BOOL(9, 1, "bool"),
  FLOAT16(10, 2, "float16"),
  FLOAT64(11, 8, "float64"),
  UINT32(12, 4, "uint32"),
  UINT64(13, 8, "uint64"),
  BFLOAT16(16, 2, "bfloat16"),
  // One element per byte, the value in the low bits (pfw.h): raw bits in a byte[].,
  FLOAT8E4M3FN(17, 1, "float8e4m3fn"),
  FLOAT8E4M3FNUZ(18, 1, "float8e4m3fnuz"),
  FLOAT8E5M2(19, 1, "float8e5m2"),
  FLOAT8E5M2FNUZ(20, 1, "float8e5m2fnuz"),
  UINT4(21, 1, "uint4"),
  INT4(22, 1, "int4"),
  FLOAT4E2M1(23, 1, "float4e2m1"),
  FLOAT8E8M0(24, 1, "float8e8m0"),
  UINT2(25, 1, "uint2"),
  INT2(26, 1, "int2");

  private final int code;
  private final int byteSize;
  private final String onnxName;

  DataType(int code, int byteSize, String onnxName) {
    this.code = code;
    this.byteSize = byteSize;
    this.onnxName = onnxName;
  }

  /** The {@code pfw_dtype} number. */
  public int code() {
    return code;
  }

  /** Bytes of one element (0 for {@link #STRING}, whose elements vary). */
  public int byteSize() {
    return byteSize;
  }

  /** The name as ONNX and NumPy spell it ("float32"), as in the golden manifest. */
  @Override
  public String toString() {
    return onnxName;
  }

  /** The type with this {@code pfw_dtype} number. */
  public static DataType fromCode(int code) {
    for (DataType t : values()) {
      if (t.code == code) {
        return t;
      }
    }
    throw new IllegalArgumentException("pfw_dtype " + code + " has no Java DataType");
  }

  /** The type NumPy calls {@code name} ("float32", "int64", "bool"). */
  public static DataType fromName(String name) {
    for (DataType t : values()) {
      if (t.onnxName.equals(name)) {
        return t;
      }
    }
    throw new IllegalArgumentException("unknown dtype name '" + name + "'");
  }
}
