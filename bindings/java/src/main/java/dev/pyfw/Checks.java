package dev.pyfw;

/** Argument checks shared by the public classes. */
final class Checks {
  private Checks() {}

  /** {@code value}, or an IllegalArgumentException naming {@code what} when it is null. */
  static <T> T notNull(T value, String what) {
    if (value == null) {
      throw new IllegalArgumentException(what + " must not be null");
    }
    return value;
  }

  /** A string as the bytes of a C string; an embedded NUL would silently cut it, so it is refused. */
  static byte[] cString(String value, String what) {
    notNull(value, what);
    if (value.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(what + " contains a NUL character");
    }
    return value.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }
}
