package dev.pyfw;

import java.nio.charset.StandardCharsets;

/** The runtime library itself. */
public final class Pfw {
  private Pfw() {}

  /** libpfw's version, e.g. "0.1.0". */
  public static String version() {
    return new String(PfwNative.version(), StandardCharsets.UTF_8);
  }
}
