package dev.pyfw;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A loaded, verified {@code .pfw} model. It is immutable and may be shared by any
 * number of {@link Interpreter}s on any threads. {@link #close()} stops new
 * interpreters at once; the native model is freed when the last interpreter made
 * from it is closed (pfw.h requires interpreters to go first).
 */
public final class Model implements AutoCloseable {
  private long handle;
  private int interpreters;
  private boolean closed;

  private Model(long handle) {
    this.handle = handle;
  }

  /** Maps and verifies the file at {@code path}. A malformed file throws PfwException (INVALID_MODEL). */
  public static Model load(Path path) throws PfwException {
    Checks.notNull(path, "path");
    return new Model(PfwNative.modelLoadFile(Checks.cString(path.toString(), "path")));
  }

  /** Verifies and loads a model from the bytes of a .pfw file (they are copied). */
  public static Model fromBytes(byte[] data) throws PfwException {
    return new Model(PfwNative.modelLoadBuffer(Checks.notNull(data, "data")));
  }

  /** The value of metadata {@code key} ("producer", "min_runtime_version", ...), if present. */
  public Optional<String> metadata(String key) throws PfwException {
    byte[] k = Checks.cString(key, "key");
    long m = acquire();
    try {
      return Optional.of(new String(PfwNative.modelGetMetadata(m, k), java.nio.charset.StandardCharsets.UTF_8));
    } catch (PfwException e) {
      if (e.status() == PfwException.Status.NOT_FOUND) {
        return Optional.empty();
      }
      throw e;
    } finally {
      release();
    }
  }

  /** The native handle, kept alive until the matching {@link #release()}. */
  synchronized long acquire() {
    if (closed) {
      throw new IllegalStateException("this Model is closed");
    }
    interpreters++;
    return handle;
  }

  synchronized void release() {
    interpreters--;
    freeIfUnused();
  }

  public synchronized boolean isClosed() {
    return closed;
  }

  /** Closes the model; its memory goes once no interpreter uses it. Safe to call twice. */
  @Override
  public synchronized void close() {
    closed = true;
    freeIfUnused();
  }

  private void freeIfUnused() {
    if (closed && interpreters == 0 && handle != 0) {
      PfwNative.modelFree(handle);
      handle = 0;
    }
  }
}
