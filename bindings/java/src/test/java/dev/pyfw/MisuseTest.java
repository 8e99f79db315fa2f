package dev.pyfw;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad files, bad feeds and use after close: each is an exception with a clear message, never a crash. */
class MisuseTest {
  private static void assertMentions(Throwable e, String... parts) {
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' should mention '" + part + "'");
    }
  }

  // ---- files ----------------------------------------------------------------

  @Test
  void malformedFileIsAnInvalidModel(@TempDir Path tmp) throws Exception {
    Path junk = tmp.resolve("junk.pfw");
    Files.write(junk, "this is not a FlatBuffer, just forty-odd bytes of text".getBytes());
    PfwException e = assertThrows(PfwException.class, () -> Model.load(junk));
    assertEquals(PfwException.Status.INVALID_MODEL, e.status());
    assertEquals(2, e.code());
    assertFalse(e.nativeMessage().isEmpty(), "the C runtime's message is carried");
    assertTrue(e.getMessage().startsWith("PFW_ERR_INVALID_MODEL: "), e.getMessage());
  }

  @Test
  void everyTruncationOfARealModelIsRefused() throws Exception {
    byte[] good = Files.readAllBytes(Golden.model(Golden.find("mlp")));
    // Cuts across the header, the FlatBuffer tables and the weight section.
    for (int len : new int[] {0, 3, 8, 16, 64, good.length / 3, good.length / 2, good.length - 1}) {
      byte[] cut = Arrays.copyOf(good, len);
      PfwException e = assertThrows(PfwException.class, () -> Model.fromBytes(cut), "length " + len);
      assertEquals(PfwException.Status.INVALID_MODEL, e.status(), "length " + len + ": " + e.getMessage());
      assertFalse(e.nativeMessage().isEmpty());
    }
  }

  @Test
  void missingFileIsAnIoError(@TempDir Path tmp) {
    PfwException e = assertThrows(PfwException.class, () -> Model.load(tmp.resolve("absent.pfw")));
    assertEquals(PfwException.Status.IO, e.status());
    assertMentions(e, "absent.pfw");
  }

  @Test
  void nullArgumentsAreRefused() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> Model.load(null));
    assertThrows(IllegalArgumentException.class, () -> Model.fromBytes(null));
    assertThrows(IllegalArgumentException.class, () -> new Interpreter(null));
    try (Model model = Model.load(Golden.model(Golden.find("cnn")))) {
      assertThrows(IllegalArgumentException.class, () -> new Interpreter(model, null));
      assertThrows(IllegalArgumentException.class, () -> model.metadata(null));
      try (Interpreter it = new Interpreter(model)) {
        assertMentions(assertThrows(IllegalArgumentException.class, () -> it.run((Tensor) null)), "'x'", "null");
        assertThrows(IllegalArgumentException.class, () -> it.run((Tensor[]) null));
        assertThrows(IllegalArgumentException.class, () -> it.run((Map<String, Tensor>) null));
      }
    }
    assertThrows(IllegalArgumentException.class, () -> Tensor.create((float[]) null, 1));
    assertThrows(IllegalArgumentException.class, () -> Tensor.create(new float[1], (long[]) null));
  }

  // ---- options --------------------------------------------------------------

  @Test
  void badOptionsAreRefused() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> new Interpreter.Options().threads(0));
    assertThrows(IllegalArgumentException.class, () -> new Interpreter.Options().arenaLimit(-1));
    try (Model model = Model.load(Golden.model(Golden.find("cnn")))) {
      PfwException e = assertThrows(PfwException.class,
          () -> new Interpreter(model, new Interpreter.Options().backend("tpu")));
      assertEquals(PfwException.Status.INVALID_ARGUMENT, e.status());
      assertMentions(e, "unknown backend 'tpu'");
      // A 1 KiB arena cannot hold the cnn's activations: refused before any allocation.
      PfwException small = assertThrows(PfwException.class,
          () -> new Interpreter(model, new Interpreter.Options().arenaLimit(1024)));
      assertEquals(PfwException.Status.UNSUPPORTED, small.status(), small.getMessage());
    }
  }

  // ---- feeds ----------------------------------------------------------------

  @Test
  void wrongShapesCarryTheRuntimesMessage() throws Exception {
    try (Model model = Model.load(Golden.model(Golden.find("cnn"))); Interpreter it = new Interpreter(model)) {
      // cnn's input is fixed at [2, 3, 12, 12].
      PfwException dim = assertThrows(PfwException.class,
          () -> it.run(Tensor.create(new float[2 * 3 * 10 * 12], 2, 3, 10, 12)));
      assertEquals(PfwException.Status.SHAPE, dim.status());
      assertMentions(dim, "input 'x'", "dimension 2 is fixed at 12", "got 10");
      PfwException rank = assertThrows(PfwException.class, () -> it.run(Tensor.create(new float[6], 2, 3)));
      assertEquals(PfwException.Status.SHAPE, rank.status());
      assertMentions(rank, "input 'x' has rank 4", "rank 2");
      // The interpreter is still usable with the right shape afterwards.
      Golden.Case c = Golden.find("cnn");
      Golden.assertClose(c.outputs.get(0), it.run(Golden.inputs(c)).get(0), "cnn after refused feeds");
    }
  }

  @Test
  void wrongDtypeNamesTheInputAndBothTypes() throws Exception {
    try (Model model = Model.load(Golden.model(Golden.find("mlp"))); Interpreter it = new Interpreter(model)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> it.run(Tensor.create(new long[3 * 16], 3, 16)));
      assertMentions(e, "input 'x'", "expects float32", "got int64");
      // Same byte size as float32, still a different type.
      assertMentions(assertThrows(IllegalArgumentException.class,
          () -> it.run(Tensor.create(new int[3 * 16], 3, 16))), "got int32");
    }
  }

  @Test
  void wrongCountOrNamesAreRefused() throws Exception {
    try (Model model = Model.load(Golden.model(Golden.find("mlp"))); Interpreter it = new Interpreter(model)) {
      Tensor x = Tensor.create(new float[16], 1, 16);
      assertMentions(assertThrows(IllegalArgumentException.class, () -> it.run(x, x)), "expected 1 input", "got 2");
      assertMentions(assertThrows(IllegalArgumentException.class, () -> it.run()), "got 0");
      Map<String, Tensor> wrongName = new HashMap<>();
      wrongName.put("y", x);
      assertMentions(assertThrows(IllegalArgumentException.class, () -> it.run(wrongName)), "unknown input 'y'", "x");
      assertMentions(assertThrows(IllegalArgumentException.class, () -> it.run(new HashMap<>())), "missing input x");
    }
  }

  @Test
  void tensorDataMustFitItsShape() {
    assertMentions(assertThrows(IllegalArgumentException.class, () -> Tensor.create(new float[5], 2, 3)),
        "holds 6 elements", "has 5");
    assertMentions(assertThrows(IllegalArgumentException.class, () -> Tensor.create(new float[0], 2, -1)),
        "negative");
    assertThrows(IllegalArgumentException.class, () -> Tensor.create(new float[1], 1, 1, 1, 1, 1, 1, 1, 1, 1));
    assertThrows(IllegalArgumentException.class,
        () -> Tensor.create(new float[1], Long.MAX_VALUE, Long.MAX_VALUE));
    assertThrows(IllegalArgumentException.class, () -> Tensor.fromLittleEndian(DataType.FLOAT32, new byte[7], 2));
    Tensor t = Tensor.create(new long[] {1, 2}, 2);
    assertMentions(assertThrows(IllegalStateException.class, t::getFloats), "int64", "float32");
  }

  // ---- use after close --------------------------------------------------------

  @Test
  void useAfterCloseThrowsInsteadOfCrashing() throws Exception {
    Golden.Case c = Golden.find("cnn");
    Model model = Model.load(Golden.model(c));
    Interpreter it = new Interpreter(model);
    it.close();
    assertDoesNotThrow(it::close, "closing twice is fine");
    assertTrue(it.isClosed());
    assertMentions(assertThrows(IllegalStateException.class, () -> it.run(Golden.inputs(c))), "Interpreter is closed");
    assertThrows(IllegalStateException.class, it::arenaBytes);
    model.close();
    assertDoesNotThrow(model::close);
    assertMentions(assertThrows(IllegalStateException.class, () -> new Interpreter(model)), "Model is closed");
    assertThrows(IllegalStateException.class, () -> model.metadata("producer"));

    Tensor x = Tensor.create(new float[] {1, 2}, 2);
    x.close();
    assertThrows(IllegalStateException.class, x::getFloats);
    assertThrows(IllegalStateException.class, x::toLittleEndian);
  }

  @Test
  void closingTheModelFirstKeepsItsInterpretersWorking() throws Exception {
    Golden.Case c = Golden.find("cnn");
    Model model = Model.load(Golden.model(c));
    try (Interpreter it = new Interpreter(model)) {
      model.close();
      assertTrue(model.isClosed());
      // The native model stays until this interpreter is closed, so it still runs correctly.
      Golden.assertClose(c.outputs.get(0), it.run(Golden.inputs(c)).get(0), "cnn after Model.close()");
    }
    assertThrows(IllegalStateException.class, () -> new Interpreter(model));
  }

  @Test
  void closedInputTensorIsRefused() throws Exception {
    try (Model model = Model.load(Golden.model(Golden.find("mlp"))); Interpreter it = new Interpreter(model)) {
      Tensor x = Tensor.create(new float[16], 1, 16);
      x.close();
      assertMentions(assertThrows(IllegalStateException.class, () -> it.run(x)), "Tensor is closed");
    }
  }
}
