package dev.pyfw;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The JNI entry points of {@code pfw_jni.c}, one per {@code pfw.h} call, and the
 * loading of {@code libpfw_jni}. Handles are C pointers carried as {@code long};
 * the public classes make sure none is used after it is freed. Every failed
 * status arrives as a {@link PfwException}.
 *
 * <p>Where the library comes from, first found wins:
 * <ol>
 *   <li>the system property {@code pfw.jni.library}: a path to the library file;
 *   <li>the classpath resource {@code dev/pyfw/native/<os>-<arch>/libpfw_jni.so}
 *       (the Maven build puts it there, and it is packaged into the jar);
 *   <li>{@code System.loadLibrary("pfw_jni")}, which searches {@code java.library.path}.
 * </ol>
 */
final class PfwNative {
  static final String LIBRARY_PROPERTY = "pfw.jni.library";

  static {
    load();
  }

  private PfwNative() {}

  static String platform() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    if (os.startsWith("linux")) {
      os = "linux";
    } else if (os.startsWith("mac")) {
      os = "macos";
    }
    if (arch.equals("amd64") || arch.equals("x86_64")) {
      arch = "x86_64";
    } else if (arch.equals("arm64")) {
      arch = "aarch64";
    }
    return os + "-" + arch;
  }

  private static void load() {
    List<String> tried = new ArrayList<>();
    String explicit = System.getProperty(LIBRARY_PROPERTY);
    if (explicit != null && !explicit.isEmpty()) {
      // An explicit choice that fails is an error, not a reason to look elsewhere.
      System.load(Paths.get(explicit).toAbsolutePath().toString());
      return;
    }
    String file = System.mapLibraryName("pfw_jni");
    String resource = "native/" + platform() + "/" + file;
    URL url = PfwNative.class.getResource(resource);
    if (url != null) {
      try {
        System.load(localCopy(url, file).toString());
        return;
      } catch (IOException | URISyntaxException | UnsatisfiedLinkError e) {
        tried.add("classpath resource " + url + ": " + e.getMessage());
      }
    } else {
      tried.add("no classpath resource dev/pyfw/" + resource);
    }
    try {
      System.loadLibrary("pfw_jni");
    } catch (UnsatisfiedLinkError e) {
      tried.add("java.library.path: " + e.getMessage());
      throw new UnsatisfiedLinkError("cannot load libpfw_jni (build it with `mvn compile` in bindings/java, "
          + "or set -D" + LIBRARY_PROPERTY + "=/path/to/" + file + "); tried: " + String.join("; ", tried));
    }
  }

  /** A file on disk holding the library: the resource itself when it is one, else a temporary copy. */
  private static Path localCopy(URL url, String file) throws IOException, URISyntaxException {
    if ("file".equals(url.getProtocol())) {
      return Paths.get(url.toURI());
    }
    Path dir = Files.createTempDirectory("pfw_jni");
    Path target = dir.resolve(file);
    try (InputStream in = url.openStream()) {
      Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
    }
    target.toFile().deleteOnExit();
    dir.toFile().deleteOnExit();
    return target;
  }

  // ---- library ------------------------------------------------------------
  static native byte[] version();

  static native byte[] statusName(int status);

  static native long dtypeSize(int dtype);

  static native byte[] dtypeName(int dtype);

  // ---- model --------------------------------------------------------------
  static native long modelLoadFile(byte[] path) throws PfwException;

  static native long modelLoadBuffer(byte[] data) throws PfwException;

  static native void modelFree(long model);

  static native byte[] modelGetMetadata(long model, byte[] key) throws PfwException;

  // ---- options ------------------------------------------------------------
  static native long optionsCreate() throws PfwException;

  static native void optionsFree(long options);

  static native void optionsSetNumThreads(long options, int threads) throws PfwException;

  static native void optionsSetBackend(long options, byte[] name) throws PfwException;

  static native void optionsSetArenaLimit(long options, long bytes) throws PfwException;

  static native void optionsSetLoopLimit(long options, long iterations) throws PfwException;

  static native void optionsSetSeed(long options, long seed) throws PfwException;

  // ---- interpreter --------------------------------------------------------
  static native long interpreterCreate(long model, long options) throws PfwException;

  static native void interpreterFree(long interpreter);

  static native int interpreterInputCount(long interpreter);

  static native int interpreterOutputCount(long interpreter);

  static native long interpreterGetInput(long interpreter, int index) throws PfwException;

  static native long interpreterGetOutput(long interpreter, int index) throws PfwException;

  static native void interpreterResizeInput(long interpreter, int index, long[] dims) throws PfwException;

  static native void interpreterAllocate(long interpreter) throws PfwException;

  static native void interpreterInvoke(long interpreter) throws PfwException;

  static native long interpreterArenaSize(long interpreter);

  /** pfw_interpreter_backend / pfw_interpreter_backend_info, as UTF-8. */
  static native byte[] interpreterBackend(long interpreter);

  static native byte[] interpreterBackendInfo(long interpreter);

  // ---- tensors (borrowed from an interpreter) ------------------------------
  static native byte[] tensorName(long tensor);

  static native int tensorDtype(long tensor);

  static native int tensorRank(long tensor);

  static native long tensorDim(long tensor, int index);

  static native long tensorModelDim(long tensor, int index);

  static native long tensorByteSize(long tensor);

  /** Copies all of {@code src} (a direct buffer; its capacity is the size) into the tensor. */
  static native void tensorCopyFromBuffer(long tensor, ByteBuffer src) throws PfwException;

  /** Copies the tensor into {@code dst} (a direct buffer; its capacity is the size). */
  static native void tensorCopyToBuffer(long tensor, ByteBuffer dst) throws PfwException;

  /** pfw_tensor_set_strings: element i is data[i]'s bytes (copied). */
  static native void tensorSetStrings(long tensor, byte[][] data) throws PfwException;

  /** pfw_tensor_strings_size + pfw_tensor_copy_strings: every element's bytes, as new arrays. */
  static native byte[][] tensorGetStrings(long tensor) throws PfwException;

  // ---- sequences and optionals ----------------------------------------------
  static final int KIND_SEQUENCE = 1;

  static native int tensorKind(long tensor);

  static native boolean tensorIsOptional(long tensor);

  static native boolean tensorHasValue(long tensor);

  static native void tensorSetHasValue(long tensor, boolean hasValue) throws PfwException;

  /** The declared rank; -1 where the model leaves it open. */
  static native int tensorModelRank(long tensor);

  static native long tensorSequenceLength(long tensor) throws PfwException;

  /** A read-only element handle, valid until the sequence next changes. */
  static native long tensorSequenceItem(long tensor, long index) throws PfwException;

  static native void tensorSequenceClear(long tensor) throws PfwException;

  /** Appends a copy of all of {@code src} (a direct buffer) as an element of shape {@code dims}. */
  static native void tensorSequenceAppend(long tensor, int dtype, long[] dims, ByteBuffer src) throws PfwException;
}
