package dev.pyfw;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * String tensors on strings.pfw (tests/golden/generate.py): joined = text + ":" + Cast(x) to
 * string, ids = LabelEncoder(text), word = RegexFullMatch(text), with ONNX Runtime's outputs (the
 * oracle) in strings.json.
 */
class StringsTest {
  private static JsonObject golden() throws Exception {
    return new Gson().fromJson(Files.readString(Golden.dir().resolve("strings.json")), JsonObject.class);
  }

  private static long[] shape(JsonObject e) {
    JsonArray a = e.getAsJsonArray("shape");
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).getAsLong();
    }
    return out;
  }

  private static Tensor tensor(JsonObject e) {
    JsonArray v = e.getAsJsonArray("values");
    int n = v.size();
    switch (e.get("dtype").getAsString()) {
      case "string": {
        String[] s = new String[n];
        for (int i = 0; i < n; i++) {
          s[i] = v.get(i).getAsString();
        }
        return Tensor.create(s, shape(e));
      }
      case "float32": {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
          f[i] = v.get(i).getAsFloat();
        }
        return Tensor.create(f, shape(e));
      }
      case "int64": {
        long[] l = new long[n];
        for (int i = 0; i < n; i++) {
          l[i] = v.get(i).getAsLong();
        }
        return Tensor.create(l, shape(e));
      }
      case "bool": {
        boolean[] b = new boolean[n];
        for (int i = 0; i < n; i++) {
          b[i] = v.get(i).getAsBoolean();
        }
        return Tensor.create(b, shape(e));
      }
      default:
        throw new AssertionError("dtype " + e.get("dtype") + " is not in the strings golden");
    }
  }

  @Test
  void goldenOutputsMatchOnnxRuntime() throws Exception {
    JsonObject g = golden();
    try (Model model = Model.load(Golden.dir().resolve("strings.pfw"));
        Interpreter it = new Interpreter(model)) {
      assertEquals(DataType.STRING, it.inputs().get(0).dtype());
      JsonArray ins = g.getAsJsonArray("inputs");
      Tensor[] feeds = new Tensor[ins.size()];
      for (int i = 0; i < feeds.length; i++) {
        feeds[i] = tensor(ins.get(i).getAsJsonObject());
      }
      List<Tensor> got = it.run(feeds);
      JsonArray outs = g.getAsJsonArray("outputs");
      assertEquals(outs.size(), got.size());
      for (int k = 0; k < got.size(); k++) {
        JsonObject want = outs.get(k).getAsJsonObject();
        Tensor expected = tensor(want);
        String what = want.get("name").getAsString();
        assertEquals(expected.dtype(), got.get(k).dtype(), what);
        assertArrayEquals(expected.shape(), got.get(k).shape(), what);
        if (expected.dtype() == DataType.STRING) {
          assertArrayEquals(expected.getStrings(), got.get(k).getStrings(), what);
        } else {
          assertArrayEquals(expected.toLittleEndian(), got.get(k).toLittleEndian(), what);
        }
      }
    }
  }

  /** Any bytes go in and come back, invalid UTF-8 and NUL included; the outputs follow each run. */
  @Test
  void anyBytesRoundTrip() throws Exception {
    try (Model model = Model.load(Golden.dir().resolve("strings.pfw"));
        Interpreter it = new Interpreter(model)) {
      byte[][] texts = {{(byte) 0xff, (byte) 0xfe}, {'a', 0, 'b'}, new byte[70000], "日本語".getBytes(StandardCharsets.UTF_8)};
      List<Tensor> got = it.run(Tensor.fromStringBytes(texts, 4), Tensor.create(new float[] {0.5f, 1.5f, 2.5f, 3.5f}, 4));
      byte[][] joined = got.get(0).getStringBytes();
      String[] suffix = {":0.5", ":1.5", ":2.5", ":3.5"};
      for (int i = 0; i < texts.length; i++) {
        byte[] s = suffix[i].getBytes(StandardCharsets.US_ASCII);
        byte[] want = new byte[texts[i].length + s.length];
        System.arraycopy(texts[i], 0, want, 0, texts[i].length);
        System.arraycopy(s, 0, want, texts[i].length, s.length);
        assertArrayEquals(want, joined[i], "element " + i);
      }
      List<Tensor> again = it.run(Tensor.create(new String[] {"z"}, 1), Tensor.create(new float[] {1}, 1));
      assertArrayEquals(new String[] {"z:1"}, again.get(0).getStrings());
    }
  }

  @Test
  void misuseIsRefusedByName() throws Exception {
    Tensor s = Tensor.create(new String[] {"a", "b"}, 2);
    assertThrows(IllegalStateException.class, s::toLittleEndian);
    assertThrows(IllegalStateException.class, s::getFloats);
    assertThrows(IllegalArgumentException.class, () -> Tensor.create(new String[] {"a"}, 3));
    assertThrows(IllegalArgumentException.class, () -> Tensor.fromLittleEndian(DataType.STRING, new byte[1], 1));
    Tensor f = Tensor.create(new float[] {1}, 1);
    assertThrows(IllegalStateException.class, f::getStrings);
    try (Model model = Model.load(Golden.dir().resolve("strings.pfw"));
        Interpreter it = new Interpreter(model)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> it.run(f, f));
      assertEquals("input 'text' expects string, got float32", e.getMessage());
    }
    s.close();
    assertThrows(IllegalStateException.class, s::getStrings);
  }
}
