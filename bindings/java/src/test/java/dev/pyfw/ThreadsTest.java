package dev.pyfw;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** One Model shared by many Interpreters on many threads, as pfw.h allows. */
class ThreadsTest {
  private static final int THREADS = 8;
  private static final int RUNS = 10;

  @Test
  void interpretersOnManyThreadsFromOneModelAgree() throws Exception {
    for (Golden.Case c : Golden.cases()) {
      try (Model model = Model.load(Golden.model(c))) {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
          List<Future<List<List<byte[]>>>> results = new ArrayList<>();
          for (int t = 0; t < THREADS; t++) {
            results.add(pool.submit(() -> runRepeatedly(model, c)));
          }
          List<List<byte[]>> first = results.get(0).get();
          for (int i = 0; i < first.get(0).size(); i++) {
            // The first thread's first output is ONNX Runtime's; every thread's runs are bit-identical to it.
            Golden.assertClose(c.outputs.get(i), Tensor.fromLittleEndian(DataType.fromName(c.outputs.get(i).dtype),
                first.get(0).get(i), c.outputs.get(i).shape), c.name + " output " + i);
          }
          for (Future<List<List<byte[]>>> f : results) {
            List<List<byte[]>> got = f.get();
            for (int r = 0; r < RUNS; r++) {
              for (int i = 0; i < first.get(r).size(); i++) {
                assertArrayEquals(first.get(r).get(i), got.get(r).get(i),
                    c.name + " run " + r + " output " + i + " differs between threads");
              }
            }
          }
        } finally {
          pool.shutdownNow();
        }
      }
    }
  }

  /**
   * Creates its own interpreter and runs RUNS times: each run's output bytes. Without random ops
   * (random_draws draws anew each run) every run must give the same bytes.
   */
  private static List<List<byte[]>> runRepeatedly(Model model, Golden.Case c) throws Exception {
    try (Interpreter it = new Interpreter(model, new Interpreter.Options().threads(1))) {
      List<List<byte[]>> runs = new ArrayList<>();
      for (int r = 0; r < RUNS; r++) {
        List<byte[]> bytes = new ArrayList<>();
        for (Tensor out : it.run(Golden.inputs(c))) {
          bytes.add(out.toLittleEndian());
        }
        if (r > 0 && !c.name.startsWith("random")) {
          for (int i = 0; i < bytes.size(); i++) {
            assertArrayEquals(runs.get(0).get(i), bytes.get(i), c.name + " run " + r + " output " + i);
          }
        }
        runs.add(bytes);
      }
      return runs;
    }
  }

  @Test
  void intraOpThreadsDoNotChangeResults() throws Exception {
    for (Golden.Case c : Golden.cases()) {
      try (Model model = Model.load(Golden.model(c));
           Interpreter one = new Interpreter(model, new Interpreter.Options().threads(1));
           Interpreter three = new Interpreter(model, new Interpreter.Options().threads(3))) {
        List<Tensor> a = one.run(Golden.inputs(c));
        List<Tensor> b = three.run(Golden.inputs(c));
        for (int i = 0; i < a.size(); i++) {
          assertArrayEquals(a.get(i).toLittleEndian(), b.get(i).toLittleEndian(), c.name + " output " + i);
        }
      }
    }
  }

  /** Sharing one interpreter between threads is misuse that pfw.h forbids; here it is serialised, not a crash. */
  @Test
  void oneInterpreterSharedByThreadsIsSerialised() throws Exception {
    Golden.Case c = Golden.find("cnn");
    try (Model model = Model.load(Golden.model(c)); Interpreter it = new Interpreter(model)) {
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Callable<Tensor>> jobs = new ArrayList<>();
        for (int j = 0; j < 16; j++) {
          jobs.add(() -> it.run(Golden.inputs(c)).get(0));
        }
        for (Future<Tensor> f : pool.invokeAll(jobs)) {
          Golden.assertClose(c.outputs.get(0), f.get(), "cnn on a shared interpreter");
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }

  /** close() racing with run() on another thread: runs before the close succeed, runs after it throw. */
  @Test
  void closeDuringRunsOnAnotherThreadNeverCrashes() throws Exception {
    Golden.Case c = Golden.find("cnn");
    Model model = Model.load(Golden.model(c));
    Interpreter it = new Interpreter(model);
    model.close();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<Integer> runner = pool.submit(() -> {
        int runs = 0;
        try {
          while (true) {
            Golden.assertClose(c.outputs.get(0), it.run(Golden.inputs(c)).get(0), "cnn before close");
            runs++;
          }
        } catch (IllegalStateException closed) {
          return runs;
        }
      });
      Thread.sleep(50);
      it.close();
      runner.get();
    } finally {
      pool.shutdownNow();
    }
    assertThrows(IllegalStateException.class, () -> new Interpreter(model));
  }
}
