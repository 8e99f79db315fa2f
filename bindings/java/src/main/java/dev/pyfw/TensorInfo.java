package dev.pyfw;

import java.util.Arrays;

/** An input or output as the model declares it: name, dtype, and shape with -1 for each dynamic dimension. */
public final class TensorInfo {
  private final String name;
  private final DataType dtype;
  private final long[] shape;

  TensorInfo(String name, DataType dtype, long[] shape) {
    this.name = name;
    this.dtype = dtype;
    this.shape = shape;
  }

  public String name() {
    return name;
  }

  public DataType dtype() {
    return dtype;
  }

  /** The declared shape (a copy); -1 marks a dynamic dimension. */
  public long[] shape() {
    return shape.clone();
  }


  @Override
  public String toString() {
    return name + ": " + dtype + " " + Arrays.toString(shape);
  }
}
