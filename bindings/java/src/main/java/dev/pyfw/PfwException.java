package dev.pyfw;

import java.nio.charset.StandardCharsets;

/**
 * A failed libpfw call: the {@code pfw_status} it returned and the runtime's
 * own message ({@code pfw_last_error()}), which names what was wrong and where.
 */
public class PfwException extends Exception {
  private static final long serialVersionUID = 1L;

  /** The statuses of {@code pfw.h}, by their numbers there. */
  public enum Status {
    OK(0),
    INVALID_ARGUMENT(1),
    INVALID_MODEL(2),
    UNSUPPORTED(3),
    OUT_OF_MEMORY(4),
    IO(5),
    SHAPE(6),
    NOT_FOUND(7),
    BACKEND(8),
    INTERNAL(9);

    private final int code;

    Status(int code) {
      this.code = code;
    }

    /** The number {@code pfw.h} gives this status. */
    public int code() {
      return code;
    }

    /** The status with this number; INTERNAL for a number this binding does not know. */
    public static Status fromCode(int code) {
      for (Status s : values()) {
        if (s.code == code) {
          return s;
        }
      }
      return INTERNAL;
    }
  }

  private final Status status;
  private final int code;
  private final String nativeMessage;

  /** Called from pfw_jni.c; the message arrives as the C string's bytes (UTF-8, decoded leniently). */
  PfwException(int code, byte[] message) {
    this(code, new String(message, StandardCharsets.UTF_8));
  }

  PfwException(int code, String nativeMessage) {
    super("PFW_ERR_" + Status.fromCode(code).name() + ": " + nativeMessage);
    this.status = Status.fromCode(code);
    this.code = code;
    this.nativeMessage = nativeMessage;
  }

  /** The status the C call returned. */
  public Status status() {
    return status;
  }

  /** The raw {@code pfw_status} number. */
  public int code() {
    return code;
  }

  /** The message of {@code pfw_last_error()} as the runtime wrote it. */
  public String nativeMessage() {
    return nativeMessage;
  }
}
