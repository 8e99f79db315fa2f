package pfw_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	pfw "github.com/pyfw/pyfw/bindings/go"
)

// The golden vectors: models from tests/golden/generate.py with their inputs
// and ONNX Runtime's outputs (the oracle) as raw little-endian files.
type goldenTensor struct {
	File  string  `json:"file"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

type goldenModel struct {
	Name    string         `json:"name"`
	Inputs  []goldenTensor `json:"inputs"`
	Outputs []goldenTensor `json:"outputs"`
}

// testDataDir is $PFW_TEST_DATA, or build/testdata at the repository root
// found from this file's location.
func testDataDir(t testing.TB) string {
	dir := os.Getenv("PFW_TEST_DATA")
	if dir == "" {
		_, self, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(self), "..", "..", "build", "testdata")
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Fatalf("golden test data not found in %s (set PFW_TEST_DATA or run `make golden`): %v", dir, err)
	}
	return dir
}

func loadManifest(t testing.TB) (string, []goldenModel) {
	dir := testDataDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Models []goldenModel `json:"models"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(m.Models) == 0 {
		t.Fatalf("%s/manifest.json lists no models", dir)
	}
	return dir, m.Models
}

func readGolden(t testing.TB, dir string, g goldenTensor) pfw.Tensor {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, g.File))
	if err != nil {
		t.Fatal(err)
	}
	dtype, err := pfw.ParseDType(g.DType)
	if err != nil {
		t.Fatal(err)
	}
	tensor, err := pfw.TensorFromBytes(dtype, g.Shape, raw)
	if err != nil {
		t.Fatalf("%s: %v", g.File, err)
	}
	return tensor
}

func modelInputs(t testing.TB, dir string, m goldenModel) []pfw.Tensor {
	inputs := make([]pfw.Tensor, len(m.Inputs))
	for i, g := range m.Inputs {
		inputs[i] = readGolden(t, dir, g)
	}
	return inputs
}

// closeTo: |got - want| <= 1e-5 + 1e-5*|want| for floats, equality otherwise.
func compare(got, want pfw.Tensor) error {
	if got.DType != want.DType {
		return fmt.Errorf("dtype %s, want %s", got.DType, want.DType)
	}
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	switch w := want.Data.(type) {
	case []float32:
		g := got.Data.([]float32)
		for i := range w {
			if !(math.Abs(float64(g[i])-float64(w[i])) <= 1e-5+1e-5*math.Abs(float64(w[i]))) {
				return fmt.Errorf("element %d is %.9g, want %.9g", i, g[i], w[i])
			}
		}
		return nil
	case []float64:
		g := got.Data.([]float64)
		for i := range w {
			if !(math.Abs(g[i]-w[i]) <= 1e-5+1e-5*math.Abs(w[i])) {
				return fmt.Errorf("element %d is %.17g, want %.17g", i, g[i], w[i])
			}
		}
		return nil
	}
	gb, err1 := got.Bytes()
	wb, err2 := want.Bytes()
	if err1 != nil || err2 != nil {
		return fmt.Errorf("encoding: %v %v", err1, err2)
	}
	if string(gb) != string(wb) {
		return fmt.Errorf("values %v, want %v", got.Data, want.Data)
	}
	return nil
}

// Every manifest model at 1 thread matches ONNX Runtime within 1e-5, loaded
// from a file and from bytes; with PFW_GOLDEN_OUT set the outputs' bytes go
// to $PFW_GOLDEN_OUT/go/<name>.output<i>.bin for the cross-language check.
func TestGolden(t *testing.T) {
	dir, models := loadManifest(t)
	outDir := os.Getenv("PFW_GOLDEN_OUT")
	if outDir != "" {
		outDir = filepath.Join(outDir, "go")
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range models {
		for _, fromBytes := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fromBytes=%v", m.Name, fromBytes), func(t *testing.T) {
				path := filepath.Join(dir, m.Name+".pfw")
				var model *pfw.Model
				var err error
				if fromBytes {
					raw, rerr := os.ReadFile(path)
					if rerr != nil {
						t.Fatal(rerr)
					}
					model, err = pfw.LoadModelFromBytes(raw)
				} else {
					model, err = pfw.LoadModel(path)
				}
				if err != nil {
					t.Fatal(err)
				}
				defer model.Close()
				it, err := model.NewInterpreter(pfw.WithThreads(1))
				if err != nil {
					t.Fatal(err)
				}
				defer it.Close()
				checkInfo(t, it.Inputs(), m.Inputs)
				checkInfo(t, it.Outputs(), m.Outputs)
				outs, err := it.Run(modelInputs(t, dir, m)...)
				if err != nil {
					t.Fatal(err)
				}
				if len(outs) != len(m.Outputs) {
					t.Fatalf("%d outputs, want %d", len(outs), len(m.Outputs))
				}
				for i, g := range m.Outputs {
					if err := compare(outs[i], readGolden(t, dir, g)); err != nil {
						t.Errorf("output %d (%s): %v", i, it.Outputs()[i].Name, err)
					}
					if outDir != "" && !fromBytes {
						raw, err := outs[i].Bytes()
						if err != nil {
							t.Fatal(err)
						}
						name := fmt.Sprintf("%s.output%d.bin", m.Name, i)
						if err := os.WriteFile(filepath.Join(outDir, name), raw, 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// The declared metadata agrees with the manifest: same dtype and rank, and
// every fixed dimension equals the stored tensor's.
func checkInfo(t *testing.T, infos []pfw.TensorInfo, golden []goldenTensor) {
	t.Helper()
	if len(infos) != len(golden) {
		t.Fatalf("%d tensors declared, manifest has %d", len(infos), len(golden))
	}
	for i, info := range infos {
		if info.DType.String() != golden[i].DType || len(info.Shape) != len(golden[i].Shape) {
			t.Errorf("%s: %s %v, manifest %s %v", info.Name, info.DType, info.Shape, golden[i].DType, golden[i].Shape)
			continue
		}
		for k, d := range info.Shape {
			if d != -1 && d != golden[i].Shape[k] {
				t.Errorf("%s: dimension %d is %d, manifest %d", info.Name, k, d, golden[i].Shape[k])
			}
		}
	}
}

// The control golden model runs its Loop body 5 times and its Scan body
// once per row of x (4): a loop limit of 9 lets Run through, 8 stops it
// with an error naming the limit; a negative limit is refused.
func TestLoopLimit(t *testing.T) {
	dir, models := loadManifest(t)
	for _, m := range models {
		if m.Name != "control" {
			continue
		}
		model, err := pfw.LoadModel(filepath.Join(dir, m.Name+".pfw"))
		if err != nil {
			t.Fatal(err)
		}
		defer model.Close()
		for _, limit := range []int64{8, 9} {
			it, err := model.NewInterpreter(pfw.WithLoopLimit(limit))
			if err != nil {
				t.Fatal(err)
			}
			_, err = it.Run(modelInputs(t, dir, m)...)
			it.Close()
			if limit == 8 && (!errors.Is(err, &pfw.Error{Status: pfw.StatusUnsupported}) ||
				!strings.Contains(err.Error(), "more than 8 times")) {
				t.Errorf("limit 8: got %v", err)
			}
			if limit == 9 && err != nil {
				t.Errorf("limit 9: %v", err)
			}
		}
		if _, err := model.NewInterpreter(pfw.WithLoopLimit(-1)); !errors.Is(err, &pfw.Error{Status: pfw.StatusInvalidArgument}) {
			t.Errorf("negative limit: got %v", err)
		}
		return
	}
	t.Fatal("no control model in the golden manifest")
}
