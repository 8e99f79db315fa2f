package dev.pyfw;

import java.util.Arrays;

/**
 * An input or output as the model declares it: name, dtype, shape with -1 for
 * each dynamic dimension, and whether it is a sequence of such tensors or an
 * optional (see {@link Value}).
 */
public final class TensorInfo {
  private final String name;
  private final DataType dtype;
  private final long[] shape;
  private final boolean sequence;
  private final boolean optional;

  TensorInfo(String name, DataType dtype, long[] shape, boolean sequence, boolean optional) {
    this.name = name;
    this.dtype = dtype;
    this.shape = shape;
    this.sequence = sequence;
    this.optional = optional;
  }

  public String name() {
    return name;
  }

  /** The dtype, of the elements for a sequence. */
  public DataType dtype() {
    return dtype;
  }

  /**
   * The declared shape (a copy), of the elements for a sequence; -1 marks a dynamic
   * dimension. Null where the model leaves the rank itself open (a value ONNX declares without a
   * shape, or sequence elements of differing ranks): check before taking its length.
   */
  public long[] shape() {
    return shape == null ? null : shape.clone();
  }

  /** An ONNX sequence of tensors: fed and fetched as {@link Value#sequence}. */
  public boolean isSequence() {
    return sequence;
  }

  /** An ONNX optional: it may hold no value ({@link Value#none()}). */
  public boolean isOptional() {
    return optional;
  }

  String describe() {
    return (sequence ? "a sequence of " + dtype : "a " + dtype + " tensor") + (optional ? " (optional)" : "");
  }

  @Override
  public String toString() {
    return name + ": " + (optional ? "optional " : "") + (sequence ? "sequence of " : "") + dtype + " "
        + (shape == null ? "[rank open]" : Arrays.toString(shape));
  }
}
