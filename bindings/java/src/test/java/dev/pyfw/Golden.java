package dev.pyfw;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.Gson;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

/**
 * The golden vectors of tests/golden/generate.py: small models with inputs and
 * ONNX Runtime's outputs (the oracle) as raw little-endian files, described by
 * manifest.json. Found at $PFW_TEST_DATA, else build/testdata at the repository root.
 */
final class Golden {
  /** numpy.allclose's rule at atol = rtol = 1e-5: |got - want| <= 1e-5 + 1e-5 * |want|. */
  static final double TOLERANCE = 1e-5;

  static final class Entry {
    String file;
    String dtype;
    long[] shape;
  }

  static final class Case {
    String name;
    List<Entry> inputs;
    List<Entry> outputs;

    @Override
    public String toString() {
      return name;
    }
  }

  private static final class Manifest {
    List<Case> models;
  }

  private Golden() {}

  /** The repository root: the nearest directory above the compiled tests that holds runtime_c/include/pfw.h. */
  static Path repoRoot() {
    try {
      Path p = Paths.get(Golden.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      for (; p != null; p = p.getParent()) {
        if (Files.exists(p.resolve("runtime_c/include/pfw.h"))) {
          return p;
        }
      }
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
    throw new IllegalStateException("no pyfw repository root above " + Golden.class.getName());
  }

  static Path dir() {
    String env = System.getenv("PFW_TEST_DATA");
    Path dir = env != null && !env.isEmpty() ? Paths.get(env) : repoRoot().resolve("build/testdata");
    if (!Files.isRegularFile(dir.resolve("manifest.json"))) {
      fail("golden vectors not found: " + dir.resolve("manifest.json") + " is missing; run `make golden` at "
          + "the repository root (or set PFW_TEST_DATA to a directory tests/golden/generate.py wrote)");
    }
    return dir;
  }

  static List<Case> cases() {
    try {
      Manifest m = new Gson().fromJson(Files.readString(dir().resolve("manifest.json")), Manifest.class);
      if (m == null || m.models == null || m.models.isEmpty()) {
        fail("manifest.json in " + dir() + " lists no models");
      }
      return m.models;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Case find(String name) {
    return cases().stream().filter(c -> c.name.equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("golden model '" + name + "' is not in the manifest"));
  }

  static Path model(Case c) {
    return dir().resolve(c.name + ".pfw");
  }

  static Tensor load(Entry e) {
    try {
      return Tensor.fromLittleEndian(DataType.fromName(e.dtype), Files.readAllBytes(dir().resolve(e.file)), e.shape);
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }

  static Tensor[] inputs(Case c) {
    return c.inputs.stream().map(Golden::load).toArray(Tensor[]::new);
  }

  /** Checks {@code got} against ONNX Runtime's output: same dtype and shape, values within TOLERANCE. */
  static void assertClose(Entry want, Tensor got, String what) {
    Tensor expected = load(want);
    assertEquals(expected.dtype(), got.dtype(), what + ": dtype");
    assertArrayEquals(expected.shape(), got.shape(), what + ": shape");
    assertClose(expected, got, what);
  }

  /** Element-wise comparison of two tensors of one dtype; floats within TOLERANCE, others exactly. */
  static void assertClose(Tensor expected, Tensor got, String what) {
    switch (expected.dtype()) {
      case FLOAT32 -> assertClose(toDoubles(expected.getFloats()), toDoubles(got.getFloats()), what);
      case FLOAT64 -> assertClose(expected.getDoubles(), got.getDoubles(), what);
      default -> assertArrayEquals(expected.toLittleEndian(), got.toLittleEndian(), what);
    }
  }

  private static void assertClose(double[] want, double[] got, String what) {
    assertEquals(want.length, got.length, what + ": element count");
    for (int i = 0; i < want.length; i++) {
      double err = Math.abs(got[i] - want[i]);
      if (!(err <= TOLERANCE + TOLERANCE * Math.abs(want[i]))) {
        fail(what + ": element " + i + " is " + got[i] + ", ONNX Runtime gives " + want[i] + " (|diff| " + err + ")");
      }
    }
  }

  private static double[] toDoubles(float[] v) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i];
    }
    return out;
  }
}
