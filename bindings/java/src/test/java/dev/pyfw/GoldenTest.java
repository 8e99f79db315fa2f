package dev.pyfw;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Every golden model at 1 thread against ONNX Runtime's outputs; also by-name feeds and resizing. */
class GoldenTest {
  private static final Interpreter.Options ONE_THREAD = new Interpreter.Options().threads(1).backend("cpu");

  @TestFactory
  Stream<DynamicTest> everyManifestModelMatchesOnnxRuntime() {
    return Golden.cases().stream().map(c -> dynamicTest(c.name, () -> runAndCheck(c)));
  }

  private static void runAndCheck(Golden.Case c) throws PfwException, IOException {
    try (Model model = Model.load(Golden.model(c)); Interpreter it = new Interpreter(model, ONE_THREAD)) {
      assertEquals(c.inputs.size(), it.inputs().size(), c.name + ": input count");
      assertEquals(c.outputs.size(), it.outputs().size(), c.name + ": output count");
      List<Tensor> outs = it.run(Golden.inputs(c));
      String dest = System.getenv("PFW_GOLDEN_OUT");
      for (int i = 0; i < outs.size(); i++) {
        Golden.assertClose(c.outputs.get(i), outs.get(i), c.name + " output " + i);
        if (dest != null && !dest.isEmpty()) {
          Path dir = Files.createDirectories(Paths.get(dest, "java"));
          Files.write(dir.resolve(c.name + ".output" + i + ".bin"), outs.get(i).toLittleEndian());
        }
      }
    }
  }

  /**
   * The cnn golden model on the OpenCL backend within the golden tolerance; skipped without a device unless
   * PFW_REQUIRE_OPENCL=1 (make test sets it and provides PoCL).
   */
  @Test
  void openclBackendMatchesOnnxRuntime() throws Exception {
    Golden.Case c = Golden.find("cnn");
    try (Model model = Model.load(Golden.model(c))) {
      try (Interpreter cpu = new Interpreter(model, ONE_THREAD)) {
        assertEquals("cpu", cpu.backend());
        assertEquals("cpu", cpu.backendInfo());
      }
      Interpreter it;
      try {
        it = new Interpreter(model, new Interpreter.Options().backend("opencl"));
      } catch (PfwException e) {
        assertEquals(PfwException.Status.BACKEND, e.status(), e.getMessage());
        if ("1".equals(System.getenv("PFW_REQUIRE_OPENCL"))) {
          fail("PFW_REQUIRE_OPENCL=1 but OpenCL cannot run: " + e.getMessage());
        }
        Assumptions.assumeTrue(false, "no OpenCL device: " + e.getMessage());
        return;
      }
      try (it) {
        assertEquals("opencl", it.backend());
        assertTrue(it.backendInfo().contains("nodes on"), it.backendInfo());
        List<Tensor> outs = it.run(Golden.inputs(c));
        for (int i = 0; i < outs.size(); i++) {
          Golden.assertClose(c.outputs.get(i), outs.get(i), "cnn on OpenCL, output " + i);
        }
      }
    }
  }

  /** By name, inserted in reverse order: the binding must place each feed by name, not by position. */
  @Test
  void fromBytesAndFeedsByNameGiveTheSameOutputs() throws Exception {
    Golden.Case c = Golden.find("mixed");
    Tensor[] inputs = Golden.inputs(c);
    try (Model model = Model.fromBytes(Files.readAllBytes(Golden.model(c)));
         Interpreter it = new Interpreter(model, ONE_THREAD)) {
      Map<String, Tensor> feeds = new LinkedHashMap<>();
      for (int i = inputs.length - 1; i >= 0; i--) {
        feeds.put(it.inputs().get(i).name(), inputs[i]);
      }
      List<Tensor> outs = it.run(feeds);
      assertEquals(c.outputs.size(), outs.size());
      for (int i = 0; i < outs.size(); i++) {
        Golden.assertClose(c.outputs.get(i), outs.get(i), "mixed output " + i);
      }
    }
  }

  @Test
  void metadataDescribesTheModel() throws Exception {
    Golden.Case mlp = Golden.find("mlp");
    try (Model model = Model.load(Golden.model(mlp)); Interpreter it = new Interpreter(model)) {
      // The manifest's shapes with the dynamic batch as -1, the writer's producer tag.
      TensorInfo x = it.inputs().get(0);
      assertEquals(DataType.fromName(mlp.inputs.get(0).dtype), x.dtype());
      assertArrayEquals(new long[] {-1, mlp.inputs.get(0).shape[1]}, x.shape());
      assertArrayEquals(new long[] {-1, mlp.outputs.get(0).shape[1]}, it.outputs().get(0).shape());
      assertEquals(true, model.metadata("producer").orElseThrow().startsWith("pyfw "));
      assertEquals(false, model.metadata("no such key").isPresent());
    }
  }

  /** The mlp's batch is dynamic: each row alone, then all rows again, must give ONNX Runtime's rows. */
  @Test
  void newBatchSizesResizeTheInterpreter() throws Exception {
    Golden.Case c = Golden.find("mlp");
    Tensor x = Golden.load(c.inputs.get(0));
    Tensor want = Golden.load(c.outputs.get(0));
    long rows = x.shape()[0];
    int inWidth = (int) x.shape()[1];
    int outWidth = (int) want.shape()[1];
    try (Model model = Model.load(Golden.model(c)); Interpreter it = new Interpreter(model, ONE_THREAD)) {
      for (int r = 0; r < rows; r++) {
        float[] row = Arrays.copyOfRange(x.getFloats(), r * inWidth, (r + 1) * inWidth);
        float[] wantRow = Arrays.copyOfRange(want.getFloats(), r * outWidth, (r + 1) * outWidth);
        Tensor out = it.run(Tensor.create(row, 1, inWidth)).get(0);
        assertArrayEquals(new long[] {1, outWidth}, out.shape());
        Golden.assertClose(Tensor.create(wantRow, 1, outWidth), out, "mlp row " + r);
      }
      Golden.assertClose(c.outputs.get(0), it.run(x).get(0), "mlp full batch after resizes");
      // An empty batch is a valid shape: no rows in, no rows out.
      Tensor empty = it.run(Tensor.create(new float[0], 0, inWidth)).get(0);
      assertArrayEquals(new long[] {0, outWidth}, empty.shape());
      assertEquals(0, empty.getFloats().length);
    }
  }

  /** The control model runs its Loop body 5 times and its Scan body 4 times: a limit of 9 passes, 8 stops it. */
  @Test
  void loopLimitStopsARunThatWouldGoPastIt() throws Exception {
    Golden.Case c = Golden.find("control");
    try (Model model = Model.load(Golden.model(c))) {
      try (Interpreter it = new Interpreter(model, new Interpreter.Options().loopLimit(9))) {
        Golden.assertClose(c.outputs.get(0), it.run(Golden.inputs(c)).get(0), "control output 0");
      }
      try (Interpreter it = new Interpreter(model, new Interpreter.Options().loopLimit(8))) {
        PfwException e = assertThrows(PfwException.class, () -> it.run(Golden.inputs(c)));
        assertEquals(PfwException.Status.UNSUPPORTED, e.status());
        assertTrue(e.getMessage().contains("more than 8 times"), e.getMessage());
      }
    }
  }

  /** Two runs of random_draws at {@code seed}: each output's bytes, run by run. */
  private static byte[][][] draws(Model model, Golden.Case c, long seed) throws PfwException {
    try (Interpreter it = new Interpreter(model, new Interpreter.Options().seed(seed))) {
      byte[][][] got = new byte[2][][];
      for (int r = 0; r < 2; r++) {
        got[r] = it.run(Golden.inputs(c)).stream().map(Tensor::toLittleEndian).toArray(byte[][]::new);
      }
      return got;
    }
  }

  /**
   * Random ops: the default seed gives the golden draws (NumPy's Philox stream); seed(7) moves the unseeded
   * nodes only; each run continues the stream, and a new interpreter with the same seed repeats it.
   */
  @Test
  void seedMovesTheUnseededRandomNodes() throws Exception {
    Golden.Case c = Golden.find("random_draws");
    try (Model model = Model.load(Golden.model(c))) {
      byte[][][] base = draws(model, c, 0);
      byte[][][] again = draws(model, c, 0);
      byte[][][] other = draws(model, c, 7);
      for (int i = 0; i < c.outputs.size(); i++) {
        assertArrayEquals(Golden.load(c.outputs.get(i)).toLittleEndian(), base[0][i], "output " + i);
        assertTrue(!Arrays.equals(base[0][i], base[1][i]), "output " + i + ": the second run repeated the first");
        boolean seeded = i == 1; // the node with a seed attribute
        for (int r = 0; r < 2; r++) {
          assertArrayEquals(base[r][i], again[r][i], "run " + r + " output " + i + ": same seed");
          assertEquals(seeded, Arrays.equals(base[r][i], other[r][i]), "run " + r + " output " + i + ": seed 7");
        }
      }
    }
  }
}
