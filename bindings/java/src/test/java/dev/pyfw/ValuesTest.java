package dev.pyfw;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Sequence and optional inputs and outputs through runValues, on sequence_io.pfw (tests/golden/
 * generate.py), against its closed forms: ys = [2 * x for x in xs], count = len(xs), has = maybe
 * is not None, same = maybe.
 */
class ValuesTest {
  private static Interpreter open(Model model) throws PfwException {
    return new Interpreter(model);
  }

  private static void assertMentions(Throwable e, String part) {
    assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' should mention '" + part + "'");
  }

  @Test
  void declaredKindsAndElementShapes() throws Exception {
    try (Model model = Model.load(Golden.dir().resolve("sequence_io.pfw"));
        Interpreter it = open(model)) {
      TensorInfo xs = it.inputs().get(0);
      TensorInfo maybe = it.inputs().get(1);
      assertTrue(xs.isSequence());
      assertFalse(xs.isOptional());
      assertArrayEquals(new long[] {-1, 3}, xs.shape());
      assertEquals(DataType.FLOAT32, xs.dtype());
      assertFalse(maybe.isSequence());
      assertTrue(maybe.isOptional());
      assertTrue(it.outputs().get(0).isSequence());
      assertTrue(it.outputs().get(3).isOptional());
      assertEquals("xs: sequence of float32 [-1, 3]", xs.toString());
    }
  }

  @Test
  void sequencesAndOptionalsRoundTrip() throws Exception {
    float[] a = {0, 1, 2, 3, 4, 5};
    float[] b = {-1, 0.5f, 8};
    try (Model model = Model.load(Golden.dir().resolve("sequence_io.pfw"));
        Interpreter it = open(model);
        Tensor ta = Tensor.create(a, 2, 3);
        Tensor tb = Tensor.create(b, 1, 3);
        Tensor maybe = Tensor.create(new float[] {7, 8, 9}, 3)) {
      Object[][] cases = {{List.of(ta, tb), Value.of(maybe)}, {List.of(tb), Value.none()}, {List.of(), Value.of(maybe)}};
      for (Object[] c : cases) {
        @SuppressWarnings("unchecked")
        List<Tensor> xs = (List<Tensor>) c[0];
        Value opt = (Value) c[1];
        List<Value> res = it.runValues(Value.sequence(xs), opt);
        List<Tensor> ys = res.get(0).elements();
        assertEquals(xs.size(), ys.size());
        for (int k = 0; k < xs.size(); k++) {
          float[] x = xs.get(k).getFloats();
          float[] y = ys.get(k).getFloats();
          assertArrayEquals(xs.get(k).shape(), ys.get(k).shape());
          for (int i = 0; i < x.length; i++) {
            assertEquals(2 * x[i], y[i], "ys[" + k + "][" + i + "]");
          }
        }
        assertArrayEquals(new long[] {xs.size()}, res.get(1).tensor().getLongs());
        assertArrayEquals(new boolean[] {!opt.isNone()}, res.get(2).tensor().getBooleans());
        assertEquals(opt.isNone(), res.get(3).isNone());
        if (!opt.isNone()) {
          assertArrayEquals(new float[] {7, 8, 9}, res.get(3).tensor().getFloats());
        }
      }
      // by name, too
      List<Value> res = it.runValues(Map.of("xs", Value.sequence(tb), "maybe", Value.none()));
      assertArrayEquals(new float[] {-2, 1, 16}, res.get(0).elements().get(0).getFloats());
    }
  }

  @Test
  void wrongValuesAreClearErrors() throws Exception {
    try (Model model = Model.load(Golden.dir().resolve("sequence_io.pfw"));
        Interpreter it = open(model);
        Tensor a = Tensor.create(new float[] {1, 2, 3}, 1, 3);
        Tensor flat = Tensor.create(new float[] {1, 2, 3}, 3);
        Tensor ints = Tensor.create(new int[] {1, 2, 3}, 1, 3)) {
      assertMentions(assertThrows(IllegalArgumentException.class, () -> it.runValues(Value.of(a), Value.none())),
          "input 'xs' is a sequence of float32, got a tensor");
      assertMentions(assertThrows(IllegalArgumentException.class, () -> it.runValues(Value.none(), Value.none())),
          "input 'xs' is not optional");
      assertMentions(assertThrows(IllegalArgumentException.class,
          () -> it.runValues(Value.sequence(ints), Value.none())), "element 0 of input 'xs' expects float32, got int32");
      PfwException rank = assertThrows(PfwException.class, () -> it.runValues(Value.sequence(flat), Value.none()));
      assertEquals(PfwException.Status.SHAPE, rank.status());
      assertMentions(rank, "holds elements of rank 2, got rank 1");
      assertMentions(assertThrows(IllegalArgumentException.class, () -> it.run(a, flat)), "use runValues");
      assertMentions(assertThrows(IllegalStateException.class, () -> Value.none().tensor()), "not a tensor");
      assertMentions(assertThrows(IllegalArgumentException.class, () -> Value.sequence(a, null)), "element 1");
      Interpreter closed = open(model);
      closed.close();
      assertThrows(IllegalStateException.class, () -> closed.runValues(Value.sequence(), Value.none()));
    }
  }
}
