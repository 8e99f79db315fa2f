// Runs a .pfw model from Java: prints its inputs and outputs, feeds float32 inputs
// with ones and other inputs with zeros (dynamic dimensions set to 1), prints the outputs.
//   make java-test          # builds bindings/java (libpfw_jni inside target/classes)
//   java -cp bindings/java/target/classes examples/java/RunModel.java build/testdata/mlp.pfw
import dev.pyfw.DataType;
import dev.pyfw.Interpreter;
import dev.pyfw.Model;
import dev.pyfw.Tensor;
import dev.pyfw.TensorInfo;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

public class RunModel {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: RunModel MODEL.pfw");
      System.exit(2);
    }
    try (Model model = Model.load(Path.of(args[0]));
         Interpreter it = new Interpreter(model, new Interpreter.Options().threads(2).backend("cpu"))) {
      System.out.println("producer: " + model.metadata("producer").orElse("?"));
      Tensor[] feeds = new Tensor[it.inputs().size()];
      for (int i = 0; i < feeds.length; i++) {
        TensorInfo in = it.inputs().get(i);
        System.out.println("input  " + in);
        long[] shape = Arrays.stream(in.shape()).map(d -> d < 0 ? 1 : d).toArray();
        int count = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        if (in.dtype() == DataType.FLOAT32) {
          float[] ones = new float[count];
          Arrays.fill(ones, 1f);
          feeds[i] = Tensor.create(ones, shape);
        } else {
          feeds[i] = Tensor.fromLittleEndian(in.dtype(), new byte[count * in.dtype().byteSize()], shape);
        }
      }
      List<Tensor> outputs = it.run(feeds);
      for (int i = 0; i < outputs.size(); i++) {
        Tensor out = outputs.get(i);
        String values = switch (out.dtype()) {
          case FLOAT32 -> Arrays.toString(out.getFloats());
          case INT64 -> Arrays.toString(out.getLongs());
          case INT32 -> Arrays.toString(out.getInts());
          case BOOL -> Arrays.toString(out.getBooleans());
          default -> out.elementCount() + " elements";
        };
        System.out.println("output " + it.outputs().get(i) + " now " + Arrays.toString(out.shape()) + ": " + values);
      }
    }
  }
}
