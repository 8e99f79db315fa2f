package dev.pyfw;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * What an input or output holds: a tensor, a sequence of tensors (an ONNX
 * {@code sequence<tensor>}: {@link TensorInfo#isSequence()}), or, for an
 * optional ({@link TensorInfo#isOptional()}), no value at all. Used by
 * {@link Interpreter#runValues}; a value does not own its tensors (close them
 * as usual).
 */
public final class Value {
  /** Which of the three a value is. */
  public enum Kind {
    TENSOR,
    SEQUENCE,
    NONE
  }

  private static final Value NONE = new Value(Kind.NONE, null, List.of());

  private final Kind kind;
  private final Tensor tensor;
  private final List<Tensor> elements;

  private Value(Kind kind, Tensor tensor, List<Tensor> elements) {
    this.kind = kind;
    this.tensor = tensor;
    this.elements = elements;
  }

  /** A tensor value. */
  public static Value of(Tensor tensor) {
    return new Value(Kind.TENSOR, Checks.notNull(tensor, "tensor"), List.of());
  }

  /** A sequence of the given elements, in order (none: an empty sequence). */
  public static Value sequence(Tensor... elements) {
    return sequence(Arrays.asList(Checks.notNull(elements, "elements")));
  }

  /** A sequence of the given elements, in order (a copy of the list). */
  public static Value sequence(List<Tensor> elements) {
    Checks.notNull(elements, "elements");
    for (int k = 0; k < elements.size(); k++) {
      Checks.notNull(elements.get(k), "element " + k);
    }
    return new Value(Kind.SEQUENCE, null, Collections.unmodifiableList(List.copyOf(elements)));
  }

  /** An optional holding no value. */
  public static Value none() {
    return NONE;
  }

  public Kind kind() {
    return kind;
  }

  public boolean isNone() {
    return kind == Kind.NONE;
  }

  /** The tensor of a {@link Kind#TENSOR} value. */
  public Tensor tensor() {
    if (kind != Kind.TENSOR) {
      throw new IllegalStateException("this value is " + describe() + ", not a tensor");
    }
    return tensor;
  }

  /** The elements of a {@link Kind#SEQUENCE} value (unmodifiable). */
  public List<Tensor> elements() {
    if (kind != Kind.SEQUENCE) {
      throw new IllegalStateException("this value is " + describe() + ", not a sequence");
    }
    return elements;
  }

  String describe() {
    switch (kind) {
      case TENSOR:
        return "a tensor";
      case SEQUENCE:
        return "a sequence";
      default:
        return "no value (none)";
    }
  }

  @Override
  public String toString() {
    switch (kind) {
      case TENSOR:
        return "Value(" + tensor + ")";
      case SEQUENCE:
        return "Value(sequence " + elements + ")";
      default:
        return "Value(none)";
    }
  }
}
