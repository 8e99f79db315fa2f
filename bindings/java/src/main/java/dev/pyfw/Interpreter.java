package dev.pyfw;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs graph 0 of a {@link Model}. One interpreter serves one thread at a time
 * (its methods are synchronized, so sharing one only serialises the calls); for
 * parallel inference make one interpreter per thread from a shared model. New
 * input shapes resize the interpreter before the run (dynamic dimensions only).
 */
public final class Interpreter implements AutoCloseable {
  /** Creation options: thread count, backend, arena limit, loop limit, seed. */
  public static final class Options {
    private int threads = 1;
    private String backend = "cpu";
    private long arenaLimit;
    private long loopLimit;
    private long seed;

    /** Intra-op threads (>= 1); results do not depend on it. */
    public Options threads(int threads) {
      if (threads < 1) {
        throw new IllegalArgumentException("threads must be >= 1, got " + threads);
      }
      this.threads = threads;
      return this;
    }

    /** "cpu", "opencl" or "auto". */
    public Options backend(String backend) {
      this.backend = Checks.notNull(backend, "backend");
      return this;
    }

    /**
     * Most bytes the plan may take (activation arena, input buffers and values computed while
     * planning); 0 means the machine's physical memory.
     */
    public Options arenaLimit(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("arena limit must be >= 0, got " + bytes);
      }
      this.arenaLimit = bytes;
      return this;
    }

    /**
     * Most times one run may run Loop and Scan bodies, all such nodes and nested ones together
     * (for models from untrusted sources); 0 means no limit.
     */
    public Options loopLimit(long iterations) {
      if (iterations < 0) {
        throw new IllegalArgumentException("loop limit must be >= 0, got " + iterations);
      }
      this.loopLimit = iterations;
      return this;
    }

    /**
     * Seed of the random ops (RandomNormal, RandomUniform, Bernoulli, Dropout in training mode...)
     * that have no seed attribute, read as an unsigned 64-bit value (default 0): every run draws new
     * values, and an interpreter with the same seed repeats them.
     */
    public Options seed(long seed) {
      this.seed = seed;
      return this;
    }
  }

  private final Model model;
  private long handle;
  private final long[] inputHandles;
  private final long[] outputHandles;
  private final List<TensorInfo> inputs;
  private final List<TensorInfo> outputs;

  public Interpreter(Model model) throws PfwException {
    this(model, new Options());
  }

  /** Plans the model for {@code options}. A node without a kernel throws PfwException (UNSUPPORTED). */
  public Interpreter(Model model, Options options) throws PfwException {
    this.model = Checks.notNull(model, "model");
    Checks.notNull(options, "options");
    byte[] backend = Checks.cString(options.backend, "backend");
    long m = model.acquire();
    try {
      long opts = PfwNative.optionsCreate();
      try {
        PfwNative.optionsSetNumThreads(opts, options.threads);
        PfwNative.optionsSetBackend(opts, backend);
        PfwNative.optionsSetArenaLimit(opts, options.arenaLimit);
        PfwNative.optionsSetLoopLimit(opts, options.loopLimit);
        PfwNative.optionsSetSeed(opts, options.seed);
        handle = PfwNative.interpreterCreate(m, opts);
      } finally {
        PfwNative.optionsFree(opts);
      }
      inputHandles = new long[PfwNative.interpreterInputCount(handle)];
      outputHandles = new long[PfwNative.interpreterOutputCount(handle)];
      List<TensorInfo> in = new ArrayList<>();
      List<TensorInfo> out = new ArrayList<>();
      for (int i = 0; i < inputHandles.length; i++) {
        inputHandles[i] = PfwNative.interpreterGetInput(handle, i);
        in.add(info(inputHandles[i]));
      }
      for (int i = 0; i < outputHandles.length; i++) {
        outputHandles[i] = PfwNative.interpreterGetOutput(handle, i);
        out.add(info(outputHandles[i]));
      }
      inputs = Collections.unmodifiableList(in);
      outputs = Collections.unmodifiableList(out);
    } catch (PfwException | RuntimeException | Error e) {
      if (handle != 0) {
        PfwNative.interpreterFree(handle);
        handle = 0;
      }
      model.release();
      throw e;
    }
  }

  private static TensorInfo info(long tensor) throws PfwException {
    String name = new String(PfwNative.tensorName(tensor), StandardCharsets.UTF_8);
    int code = PfwNative.tensorDtype(tensor);
    DataType dtype;
    try {
      dtype = DataType.fromCode(code);
    } catch (IllegalArgumentException e) {
      throw new PfwException(PfwException.Status.UNSUPPORTED.code(),
          "tensor '" + name + "' has dtype code " + code + ", which Java cannot hold");
    }
    int rank = PfwNative.tensorModelRank(tensor);
    long[] shape = rank < 0 ? null : new long[rank];
    for (int k = 0; k < rank; k++) {
      shape[k] = PfwNative.tensorModelDim(tensor, k);
    }
    return new TensorInfo(name, dtype, shape, PfwNative.tensorKind(tensor) == PfwNative.KIND_SEQUENCE,
        PfwNative.tensorIsOptional(tensor));
  }

  /** The inputs as the model declares them, in order. */
  public List<TensorInfo> inputs() {
    return inputs;
  }

  /** The outputs as the model declares them, in order. */
  public List<TensorInfo> outputs() {
    return outputs;
  }

  /**
   * Runs once with the inputs in model order; returns new output tensors in model order. Models
   * with sequence or optional inputs or outputs run through {@link #runValues(Value...)}.
   */
  public synchronized List<Tensor> run(Tensor... feeds) throws PfwException {
    checkOpen();
    Checks.notNull(feeds, "feeds");
    return tensors(runValues(inOrder(Arrays.stream(feeds).map(Interpreter::wrap).toArray(Value[]::new)), true));
  }

  /** Runs once with the inputs by name; returns new output tensors in model order. */
  public synchronized List<Tensor> run(Map<String, Tensor> feeds) throws PfwException {
    checkOpen();
    Checks.notNull(feeds, "feeds");
    Map<String, Value> values = new HashMap<>();
    feeds.forEach((name, t) -> values.put(name, wrap(t)));
    return tensors(runValues(byName(values), true));
  }

  /**
   * Runs once with one {@link Value} per input, in model order: what models with sequence or
   * optional inputs or outputs need. Returns one new value per output (an optional output that
   * holds nothing: {@link Value#none()}).
   */
  public synchronized List<Value> runValues(Value... feeds) throws PfwException {
    checkOpen();
    Checks.notNull(feeds, "feeds");
    return runValues(inOrder(feeds), false);
  }

  /** {@link #runValues(Value...)} with the inputs by name. */
  public synchronized List<Value> runValues(Map<String, Value> feeds) throws PfwException {
    checkOpen();
    Checks.notNull(feeds, "feeds");
    return runValues(byName(feeds), false);
  }

  private static Value wrap(Tensor t) {
    return t == null ? null : Value.of(t);
  }

  private Value[] inOrder(Value[] feeds) {
    if (feeds.length != inputs.size()) {
      throw new IllegalArgumentException("expected " + inputs.size() + " input(s) (" + names(inputs)
          + "), got " + feeds.length);
    }
    return feeds;
  }

  private Value[] byName(Map<String, Value> feeds) {
    for (String name : feeds.keySet()) {
      if (inputs.stream().noneMatch(t -> t.name().equals(name))) {
        throw new IllegalArgumentException("unknown input '" + name + "'; the model's inputs are: "
            + names(inputs));
      }
    }
    Value[] out = new Value[inputs.size()];
    for (int i = 0; i < out.length; i++) {
      TensorInfo want = inputs.get(i);
      if (!feeds.containsKey(want.name())) {
        throw new IllegalArgumentException("missing input " + want);
      }
      out[i] = feeds.get(want.name());
    }
    return out;
  }

  /** Feeds, invokes and reads back; tensorsOnly (run) refuses models with sequences or optionals. */
  private List<Value> runValues(Value[] feeds, boolean tensorsOnly) throws PfwException {
    if (tensorsOnly) {
      for (TensorInfo info : allValues()) {
        if (info.isSequence() || info.isOptional()) {
          throw new IllegalArgumentException("'" + info.name() + "' is " + info.describe() + ": use runValues");
        }
      }
    }
    for (int i = 0; i < feeds.length; i++) {
      feed(i, feeds[i]);
    }
    PfwNative.interpreterInvoke(handle);
    List<Value> results = new ArrayList<>(outputHandles.length);
    for (int i = 0; i < outputHandles.length; i++) {
      results.add(read(outputHandles[i], outputs.get(i)));
    }
    return results;
  }

  private List<TensorInfo> allValues() {
    List<TensorInfo> all = new ArrayList<>(inputs);
    all.addAll(outputs);
    return all;
  }

  private static List<Tensor> tensors(List<Value> values) {
    List<Tensor> out = new ArrayList<>(values.size());
    for (Value v : values) {
      out.add(v.tensor());
    }
    return out;
  }

  private void feed(int index, Value value) throws PfwException {
    TensorInfo want = inputs.get(index);
    long h = inputHandles[index];
    if (value == null) {
      throw new IllegalArgumentException("input '" + want.name() + "' is null");
    }
    if (value.isNone()) {
      if (!want.isOptional()) {
        throw new IllegalArgumentException("input '" + want.name() + "' is not optional: it needs a value");
      }
      PfwNative.tensorSetHasValue(h, false);
      return;
    }
    if ((value.kind() == Value.Kind.SEQUENCE) != want.isSequence()) {
      throw new IllegalArgumentException("input '" + want.name() + "' is " + want.describe() + ", got "
          + value.describe());
    }
    if (!want.isSequence()) {
      Tensor t = value.tensor();
      checkDtype(want, t, "input '" + want.name() + "'");
      if (t.dtype() == DataType.STRING) {
        byte[][] strings = t.stringBytes();
        PfwNative.interpreterResizeInput(handle, index, t.shape());
        PfwNative.tensorSetStrings(h, strings);
        return;
      }
      ByteBuffer data = t.buffer();
      PfwNative.interpreterResizeInput(handle, index, t.shape());
      PfwNative.tensorCopyFromBuffer(h, data);
      return;
    }
    PfwNative.tensorSequenceClear(h);
    List<Tensor> elements = value.elements();
    for (int k = 0; k < elements.size(); k++) {
      Tensor t = elements.get(k);
      checkDtype(want, t, "element " + k + " of input '" + want.name() + "'");
      if (t.dtype() == DataType.STRING) {
        throw new UnsupportedOperationException("element " + k + " of input '" + want.name()
            + "': sequences of strings cannot be fed (libpfw's C API appends raw bytes)");
      }
      PfwNative.tensorSequenceAppend(h, t.dtype().code(), t.shape(), t.buffer());
    }
  }

  private static void checkDtype(TensorInfo want, Tensor t, String what) {
    if (t.dtype() != want.dtype()) {
      throw new IllegalArgumentException(what + " expects " + want.dtype() + ", got " + t.dtype());
    }
  }

  /** An output's value: none, a sequence of copied elements, or a copied tensor. */
  private static Value read(long h, TensorInfo info) throws PfwException {
    if (!PfwNative.tensorHasValue(h)) {
      return Value.none();
    }
    if (!info.isSequence()) {
      return Value.of(copy(h, info));
    }
    long n = PfwNative.tensorSequenceLength(h);
    List<Tensor> elements = new ArrayList<>();
    for (long k = 0; k < n; k++) {
      elements.add(copy(PfwNative.tensorSequenceItem(h, k), info));
    }
    return Value.sequence(elements);
  }

  private static Tensor copy(long t, TensorInfo info) throws PfwException {
    long[] shape = new long[PfwNative.tensorRank(t)];
    for (int k = 0; k < shape.length; k++) {
      shape[k] = PfwNative.tensorDim(t, k);
    }
    if (info.dtype() == DataType.STRING) {
      return Tensor.ofStringBytes(shape, PfwNative.tensorGetStrings(t));
    }
    long bytes = PfwNative.tensorByteSize(t);
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalStateException("output '" + info.name() + "' has " + bytes
          + " bytes, more than a Java buffer holds");
    }
    ByteBuffer data = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
    PfwNative.tensorCopyToBuffer(t, data);
    return new Tensor(info.dtype(), shape, data);
  }

  /** Bytes of the activation arena under the current input shapes. */
  public synchronized long arenaBytes() {
    checkOpen();
    return PfwNative.interpreterArenaSize(handle);
  }

  /** The backend this interpreter runs on: "cpu" or "opencl". */
  public synchronized String backend() {
    checkOpen();
    return new String(PfwNative.interpreterBackend(handle), StandardCharsets.UTF_8);
  }

  /** The device and how many nodes run there; for "auto" on the CPU, why. */
  public synchronized String backendInfo() {
    checkOpen();
    return new String(PfwNative.interpreterBackendInfo(handle), StandardCharsets.UTF_8);
  }

  public synchronized boolean isClosed() {
    return handle == 0;
  }

  private void checkOpen() {
    if (handle == 0) {
      throw new IllegalStateException("this Interpreter is closed");
    }
  }

  private static String names(List<TensorInfo> infos) {
    return String.join(", ", infos.stream().map(TensorInfo::name).toList());
  }

  /** Frees the interpreter, and the model too when it was closed and this was its last user. Safe to call twice. */
  @Override
  public synchronized void close() {
    if (handle != 0) {
      PfwNative.interpreterFree(handle);
      handle = 0;
      model.release();
    }
  }

  @Override
  public String toString() {
    return "Interpreter(inputs=" + Arrays.toString(inputs.toArray()) + ", outputs="
        + Arrays.toString(outputs.toArray()) + (isClosed() ? ", closed)" : ")");
  }
}
