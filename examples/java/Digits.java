// Runs a digits classifier (.pfw) over a test split, one image at a time, and prints
// accuracy and mean latency: the Java row of `make demo`.
//   java -cp bindings/java/target/classes examples/java/Digits.java MODEL.pfw IMAGES.f32 LABELS.i64
// images: N x 1 x 8 x 8 float32, labels: N int64, both raw little-endian.
import dev.pyfw.Interpreter;
import dev.pyfw.Model;
import dev.pyfw.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

public class Digits {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: Digits MODEL.pfw IMAGES.f32 LABELS.i64");
      System.exit(2);
    }
    ByteBuffer xb = ByteBuffer.wrap(Files.readAllBytes(Path.of(args[1]))).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer yb = ByteBuffer.wrap(Files.readAllBytes(Path.of(args[2]))).order(ByteOrder.LITTLE_ENDIAN);
    int n = yb.remaining() / 8;
    if (xb.remaining() != n * 64 * 4) throw new IllegalArgumentException("images and labels do not match");
    float[] image = new float[64];
    long[] shape = {1, 1, 8, 8};
    int correct = 0;
    try (Model model = Model.load(Path.of(args[0]));
         Interpreter it = new Interpreter(model, new Interpreter.Options().threads(1))) {
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        xb.asFloatBuffer().position(i * 64).get(image);
        float[] logits = it.run(Tensor.create(image, shape)).get(0).getFloats();
        int best = 0;
        for (int k = 1; k < logits.length; k++) if (logits[k] > logits[best]) best = k;
        if (best == yb.getLong(i * 8)) correct++;
      }
      double ms = (System.nanoTime() - t0) / 1e6 / n;
      System.out.printf("accuracy %.4f latency_ms %.4f%n", (double) correct / n, ms);
    }
  }
}
