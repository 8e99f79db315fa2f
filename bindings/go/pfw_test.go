package pfw_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	pfw "github.com/pyfw/pyfw/bindings/go"
)

func findModel(t *testing.T, name string) (string, goldenModel) {
	dir, models := loadManifest(t)
	for _, m := range models {
		if m.Name == name {
			return dir, m
		}
	}
	t.Fatalf("model %q is not in the manifest", name)
	return "", goldenModel{}
}

func open(t *testing.T, path string, opts ...pfw.Option) (*pfw.Model, *pfw.Interpreter) {
	t.Helper()
	model, err := pfw.LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	it, err := model.NewInterpreter(opts...)
	if err != nil {
		model.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { it.Close(); model.Close() })
	return model, it
}

func mustTensor[T pfw.Element](t *testing.T, shape []int64, data []T) pfw.Tensor {
	t.Helper()
	x, err := pfw.NewTensor(shape, data)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// Bad feeds give an *pfw.Error of the right status whose message names the
// problem; shape errors carry libpfw's own message.
func TestRunErrors(t *testing.T) {
	dir, m := findModel(t, "mlp")
	_, it := open(t, filepath.Join(dir, "mlp.pfw"))
	good := readGolden(t, dir, m.Inputs[0])
	cases := []struct {
		name   string
		run    func() ([]pfw.Tensor, error)
		status pfw.Status
		msg    string
	}{
		{"fixed dimension", func() ([]pfw.Tensor, error) {
			return it.Run(mustTensor(t, []int64{2, 17}, make([]float32, 34)))
		}, pfw.StatusShape, "dimension 1"},
		{"rank", func() ([]pfw.Tensor, error) {
			return it.Run(mustTensor(t, []int64{2, 16, 1}, make([]float32, 32)))
		}, pfw.StatusShape, "rank"},
		{"dtype", func() ([]pfw.Tensor, error) {
			return it.Run(mustTensor(t, []int64{3, 16}, make([]int64, 48)))
		}, pfw.StatusInvalidArgument, `input "x" expects float32, got int64`},
		{"data length", func() ([]pfw.Tensor, error) {
			return it.Run(pfw.Tensor{DType: pfw.Float32, Shape: []int64{3, 16}, Data: make([]float32, 47)})
		}, pfw.StatusInvalidArgument, "needs 48 elements, data has 47"},
		{"data type", func() ([]pfw.Tensor, error) {
			return it.Run(pfw.Tensor{DType: pfw.Float32, Shape: []int64{1, 16}, Data: make([]float64, 16)})
		}, pfw.StatusInvalidArgument, "needs []float32 data"},
		{"unknown name", func() ([]pfw.Tensor, error) {
			return it.RunNamed(map[string]pfw.Tensor{"x": good, "y": good})
		}, pfw.StatusInvalidArgument, `unknown input "y"`},
		{"missing name", func() ([]pfw.Tensor, error) {
			return it.RunNamed(map[string]pfw.Tensor{})
		}, pfw.StatusInvalidArgument, `missing input "x"`},
		{"count", func() ([]pfw.Tensor, error) { return it.Run(good, good) },
			pfw.StatusInvalidArgument, "expected 1 input(s)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			outs, err := c.run()
			var perr *pfw.Error
			if !errors.As(err, &perr) {
				t.Fatalf("got %v (%T), outputs %v; want a *pfw.Error", err, err, outs)
			}
			if perr.Status != c.status || !strings.Contains(perr.Msg, c.msg) {
				t.Fatalf("got %v; want status %s and a message containing %q", err, c.status, c.msg)
			}
			if !errors.Is(err, &pfw.Error{Status: c.status}) {
				t.Fatalf("errors.Is does not match status %s", c.status)
			}
		})
	}
	// After the errors the interpreter still gives ONNX Runtime's answer.
	outs, err := it.RunNamed(map[string]pfw.Tensor{"x": good})
	if err != nil {
		t.Fatal(err)
	}
	if err := compare(outs[0], readGolden(t, dir, m.Outputs[0])); err != nil {
		t.Fatal(err)
	}
}

// A new batch size re-plans; each row of the MLP depends only on its input
// row, so stacked copies of the stored rows give stacked ORT outputs.
func TestResize(t *testing.T) {
	dir, m := findModel(t, "mlp")
	_, it := open(t, filepath.Join(dir, "mlp.pfw"))
	x := readGolden(t, dir, m.Inputs[0])
	want := readGolden(t, dir, m.Outputs[0])
	xs, ws := x.Data.([]float32), want.Data.([]float32)
	rows, in, out := x.Shape[0], x.Shape[1], want.Shape[1]
	for _, batch := range []int64{1, 7, 64, 2} {
		var xb, wb []float32
		for r := int64(0); r < batch; r++ {
			src := r % rows
			xb = append(xb, xs[src*in:(src+1)*in]...)
			wb = append(wb, ws[src*out:(src+1)*out]...)
		}
		got, err := it.Run(mustTensor(t, []int64{batch, in}, xb))
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if err := compare(got[0], mustTensor(t, []int64{batch, out}, wb)); err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
	}
	if s := it.Inputs()[0].Shape; len(s) != 2 || s[0] != -1 || s[1] != in {
		t.Fatalf("declared input shape %v, want [-1 %d]", s, in)
	}
}

// Close is idempotent; any use after it is ErrClosed, never a crash. An
// interpreter outlives its closed model.
func TestUseAfterClose(t *testing.T) {
	dir, m := findModel(t, "mlp")
	model, err := pfw.LoadModel(filepath.Join(dir, "mlp.pfw"))
	if err != nil {
		t.Fatal(err)
	}
	it, err := model.NewInterpreter()
	if err != nil {
		t.Fatal(err)
	}
	x := readGolden(t, dir, m.Inputs[0])
	for i := 0; i < 2; i++ {
		if err := model.Close(); err != nil {
			t.Fatal(err)
		}
	}
	outs, err := it.Run(x)
	if err != nil {
		t.Fatalf("interpreter after its model's Close: %v", err)
	}
	if err := compare(outs[0], readGolden(t, dir, m.Outputs[0])); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := it.Run(x); !errors.Is(err, pfw.ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	if _, err := it.RunNamed(map[string]pfw.Tensor{"x": x}); !errors.Is(err, pfw.ErrClosed) {
		t.Errorf("RunNamed after Close: %v", err)
	}
	if _, err := model.NewInterpreter(); !errors.Is(err, pfw.ErrClosed) {
		t.Errorf("NewInterpreter after Close: %v", err)
	}
	if _, err := model.Metadata("producer"); !errors.Is(err, pfw.ErrClosed) {
		t.Errorf("Metadata after Close: %v", err)
	}
	// Zero and nil handles behave as closed ones.
	var zeroModel pfw.Model
	if _, err := zeroModel.NewInterpreter(); !errors.Is(err, pfw.ErrClosed) {
		t.Errorf("NewInterpreter on a zero Model: %v", err)
	}
	var zeroIt pfw.Interpreter
	var nilIt *pfw.Interpreter
	var nilModel *pfw.Model
	if _, err := zeroIt.Run(x); !errors.Is(err, pfw.ErrClosed) {
		t.Errorf("Run on a zero Interpreter: %v", err)
	}
	if _, err := nilIt.Run(x); !errors.Is(err, pfw.ErrClosed) {
		t.Errorf("Run on a nil Interpreter: %v", err)
	}
	if _, err := pfw.NewInterpreter(nil, pfw.Options{}); !errors.Is(err, &pfw.Error{Status: pfw.StatusInvalidArgument}) {
		t.Errorf("NewInterpreter(nil): %v", err)
	}
	if zeroIt.Close() != nil || nilIt.Close() != nil || nilModel.Close() != nil || zeroModel.Close() != nil {
		t.Error("Close on a zero or nil handle failed")
	}
}

// Many interpreters from one model on many goroutines give identical bytes,
// at 1 or 2 threads, and ONNX Runtime's values.
func TestConcurrentInterpreters(t *testing.T) {
	dir, m := findModel(t, "attention")
	model, err := pfw.LoadModel(filepath.Join(dir, "attention.pfw"))
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	x := readGolden(t, dir, m.Inputs[0])
	want := readGolden(t, dir, m.Outputs[0])
	const workers, runs = 8, 5
	results := make([][]byte, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it, err := pfw.NewInterpreter(model, pfw.Options{Threads: 1 + w%2})
			if err != nil {
				errs[w] = err
				return
			}
			defer it.Close()
			for r := 0; r < runs; r++ {
				outs, err := it.Run(x)
				if err == nil {
					err = compare(outs[0], want)
				}
				if err != nil {
					errs[w] = err
					return
				}
				raw, _ := outs[0].Bytes()
				if r > 0 && !bytes.Equal(raw, results[w]) {
					errs[w] = errors.New("run differs from the first run")
					return
				}
				results[w] = raw
			}
		}()
	}
	wg.Wait()
	for w := range errs {
		if errs[w] != nil {
			t.Fatalf("worker %d: %v", w, errs[w])
		}
		if !bytes.Equal(results[w], results[0]) {
			t.Fatalf("worker %d's output differs from worker 0's", w)
		}
	}
}

// Typed tensors of every mapped dtype go in and come out with their Go types.
func TestDTypes(t *testing.T) {
	dir, m := findModel(t, "dtypes")
	_, it := open(t, filepath.Join(dir, "dtypes.pfw"))
	wantTypes := []pfw.DType{pfw.Float32, pfw.Int64, pfw.Bool, pfw.Uint8, pfw.Int32}
	for i, info := range it.Inputs() {
		if info.DType != wantTypes[i] {
			t.Fatalf("input %s is %s, want %s", info.Name, info.DType, wantTypes[i])
		}
	}
	feeds := map[string]pfw.Tensor{}
	for i, info := range it.Inputs() {
		feeds[info.Name] = readGolden(t, dir, m.Inputs[i])
	}
	outs, err := it.RunNamed(feeds)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range m.Outputs {
		if err := compare(outs[i], readGolden(t, dir, g)); err != nil {
			t.Errorf("output %s: %v", it.Outputs()[i].Name, err)
		}
	}
	if _, err := pfw.Values[int64](outs[1]); err != nil {
		t.Error(err)
	}
	if _, err := pfw.Values[bool](outs[3]); err != nil {
		t.Error(err)
	}
	if _, err := pfw.Values[float32](outs[3]); err == nil {
		t.Error("Values[float32] of a bool tensor succeeded")
	}
}

// Damaged or missing files give an error value with libpfw's message.
func TestMalformed(t *testing.T) {
	dir, _ := findModel(t, "cnn")
	good, err := os.ReadFile(filepath.Join(dir, "cnn.pfw"))
	if err != nil {
		t.Fatal(err)
	}
	badID := append([]byte(nil), good...)
	copy(badID[8:12], "XXXX")
	path := filepath.Join(t.TempDir(), "truncated.pfw")
	if err := os.WriteFile(path, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		load   func() (*pfw.Model, error)
		status pfw.Status
		msg    string
	}{
		{"missing file", func() (*pfw.Model, error) { return pfw.LoadModel("/nonexistent/model.pfw") },
			pfw.StatusIO, "/nonexistent/model.pfw"},
		{"truncated file", func() (*pfw.Model, error) { return pfw.LoadModel(path) }, pfw.StatusInvalidModel, ""},
		{"truncated bytes", func() (*pfw.Model, error) { return pfw.LoadModelFromBytes(good[:len(good)-1]) },
			pfw.StatusInvalidModel, "byte"},
		{"wrong identifier", func() (*pfw.Model, error) { return pfw.LoadModelFromBytes(badID) },
			pfw.StatusInvalidModel, "PFW1"},
		{"empty", func() (*pfw.Model, error) { return pfw.LoadModelFromBytes(nil) }, pfw.StatusInvalidModel, "empty"},
		{"not a model", func() (*pfw.Model, error) { return pfw.LoadModelFromBytes([]byte("hello, world")) },
			pfw.StatusInvalidModel, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			model, err := c.load()
			var perr *pfw.Error
			if model != nil || !errors.As(err, &perr) {
				t.Fatalf("got model %v, error %v; want a *pfw.Error", model, err)
			}
			if perr.Status != c.status || perr.Msg == "" || !strings.Contains(perr.Msg, c.msg) {
				t.Fatalf("got %v; want status %s and a message containing %q", err, c.status, c.msg)
			}
		})
	}
}

func TestOptionsAndMetadata(t *testing.T) {
	dir, _ := findModel(t, "mlp")
	model, _ := open(t, filepath.Join(dir, "mlp.pfw"))
	if p, err := model.Metadata("producer"); err != nil || !strings.HasPrefix(p, "pyfw") {
		t.Errorf("producer %q, %v", p, err)
	}
	if _, err := model.Metadata("nope"); !errors.Is(err, &pfw.Error{Status: pfw.StatusNotFound}) {
		t.Errorf("missing key: %v", err)
	}
	cases := []struct {
		name   string
		opts   pfw.Options
		status pfw.Status
		msg    string
	}{
		{"negative threads", pfw.Options{Threads: -2}, pfw.StatusInvalidArgument, ""},
		{"backend", pfw.Options{Backend: "tpu"}, pfw.StatusInvalidArgument, "tpu"},
		{"arena limit", pfw.Options{ArenaLimit: 64}, pfw.StatusUnsupported, "arena"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			it, err := pfw.NewInterpreter(model, c.opts)
			if !errors.Is(err, &pfw.Error{Status: c.status}) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, %v; want status %s with %q", it, err, c.status, c.msg)
			}
		})
	}
	if v := pfw.Version(); !strings.HasPrefix(v, "0.") {
		t.Errorf("version %q", v)
	}
}

// The backend is reported as the C API gives it; "opencl" runs the golden
// models within the golden tolerance of ONNX Runtime, wherever a device is
// there (make test sets PFW_REQUIRE_OPENCL=1 and provides PoCL).
func TestBackend(t *testing.T) {
	dir, m := findModel(t, "cnn")
	_, cpu := open(t, filepath.Join(dir, "cnn.pfw"))
	if name, info := cpu.Backend(); name != "cpu" || info != "cpu" {
		t.Errorf("default backend %q (%q)", name, info)
	}
	model, err := pfw.LoadModel(filepath.Join(dir, "cnn.pfw"))
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	it, err := model.NewInterpreter(pfw.WithBackend("opencl"))
	if errors.Is(err, &pfw.Error{Status: pfw.StatusBackend}) && os.Getenv("PFW_REQUIRE_OPENCL") != "1" {
		t.Skipf("no OpenCL device: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if name, info := it.Backend(); name != "opencl" || !strings.Contains(info, "nodes on") {
		t.Errorf("backend %q (%q)", name, info)
	}
	got, err := it.Run(modelInputs(t, dir, m)...)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range m.Outputs {
		if err := compare(got[i], readGolden(t, dir, g)); err != nil {
			t.Errorf("output %d on OpenCL: %v", i, err)
		}
	}
	it.Close()
	if name, info := it.Backend(); name != "" || info != "" {
		t.Errorf("closed interpreter reports %q, %q", name, info)
	}
}

// Random ops: at the default seed an interpreter gives the golden draws
// (NumPy's Philox stream); WithSeed moves the unseeded nodes only; each run
// continues the stream, and a new interpreter with the same seed repeats it.
func TestSeed(t *testing.T) {
	dir, m := findModel(t, "random_draws")
	path := filepath.Join(dir, "random_draws.pfw")
	x := readGolden(t, dir, m.Inputs[0])
	runs := func(opts ...pfw.Option) [2][][]byte {
		_, it := open(t, path, opts...)
		var got [2][][]byte
		for r := range got {
			outs, err := it.Run(x)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				raw, err := o.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				got[r] = append(got[r], raw)
			}
		}
		return got
	}
	base := runs()
	for i, g := range m.Outputs {
		want, _ := readGolden(t, dir, g).Bytes()
		if !bytes.Equal(base[0][i], want) {
			t.Errorf("output %d differs from the golden draws", i)
		}
		if bytes.Equal(base[1][i], base[0][i]) {
			t.Errorf("output %d: the second run repeated the first", i)
		}
	}
	again, other := runs(pfw.WithSeed(0)), runs(pfw.WithSeed(7))
	for r := range base {
		for i := range base[r] {
			if !bytes.Equal(again[r][i], base[r][i]) {
				t.Errorf("run %d output %d: the same seed gave other values", r, i)
			}
			seeded := i == 1 // the node with a seed attribute
			if bytes.Equal(other[r][i], base[r][i]) != seeded {
				t.Errorf("run %d output %d: WithSeed(7) equal to seed 0 is %v, want %v", r, i, !seeded, seeded)
			}
		}
	}
}
