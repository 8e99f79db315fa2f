package pfw_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	pfw "github.com/pyfw/pyfw/bindings/go"
)

// strings.pfw and strings.json from tests/golden/generate.py: string inputs
// and outputs with ONNX Runtime's outputs (the oracle) as JSON values.
type stringsTensor struct {
	Name   string            `json:"name"`
	DType  string            `json:"dtype"`
	Shape  []int64           `json:"shape"`
	Values []json.RawMessage `json:"values"`
}

func loadStringsGolden(t *testing.T) (*pfw.Interpreter, []stringsTensor, []stringsTensor) {
	t.Helper()
	dir := testDataDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "strings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Inputs, Outputs []stringsTensor }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("strings.json: %v", err)
	}
	model, err := pfw.LoadModel(filepath.Join(dir, "strings.pfw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { model.Close() })
	it, err := model.NewInterpreter()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { it.Close() })
	return it, doc.Inputs, doc.Outputs
}

// jsonTensor decodes a golden entry into a Tensor of its dtype.
func jsonTensor(t *testing.T, g stringsTensor) pfw.Tensor {
	t.Helper()
	decode := func(dst any) {
		for i, v := range g.Values {
			if err := json.Unmarshal(v, reflect.ValueOf(dst).Index(i).Addr().Interface()); err != nil {
				t.Fatalf("%s value %d: %v", g.Name, i, err)
			}
		}
	}
	var tensor pfw.Tensor
	var err error
	switch g.DType {
	case "string":
		data := make([]string, len(g.Values))
		decode(data)
		tensor, err = pfw.NewTensor(g.Shape, data)
	case "float32":
		data := make([]float32, len(g.Values))
		decode(data)
		tensor, err = pfw.NewTensor(g.Shape, data)
	case "int64":
		data := make([]int64, len(g.Values))
		decode(data)
		tensor, err = pfw.NewTensor(g.Shape, data)
	case "bool":
		data := make([]bool, len(g.Values))
		decode(data)
		tensor, err = pfw.NewTensor(g.Shape, data)
	default:
		t.Fatalf("%s: dtype %s not in the strings golden", g.Name, g.DType)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tensor
}

// The golden string model gives ONNX Runtime's outputs: strings made by
// StringConcat and Cast, int64 from LabelEncoder, bool from RegexFullMatch.
func TestStringsGolden(t *testing.T) {
	it, inputs, outputs := loadStringsGolden(t)
	feeds := make([]pfw.Tensor, len(inputs))
	for i, g := range inputs {
		feeds[i] = jsonTensor(t, g)
	}
	got, err := it.Run(feeds...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(outputs) {
		t.Fatalf("%d outputs, golden has %d", len(got), len(outputs))
	}
	for i, g := range outputs {
		want := jsonTensor(t, g)
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("%s: got %v %v, want %v %v", g.Name, got[i].Shape, got[i].Data, want.Shape, want.Data)
		}
	}
	infos := it.Inputs()
	if infos[0].DType != pfw.String || infos[0].DType.String() != "string" {
		t.Errorf("input 0 is declared %v, want string", infos[0].DType)
	}
}

// Any bytes go in and come back: invalid UTF-8, NUL, long strings, and a
// second run with fewer, shorter strings (the outputs follow each run).
func TestStringsAnyBytesRoundTrip(t *testing.T) {
	it, _, _ := loadStringsGolden(t)
	long := string(make([]byte, 70000))
	for _, texts := range [][]string{{"\xff\xfe", "a\x00b", long, "日本語"}, {"z"}} {
		x := make([]float32, len(texts))
		for i := range x {
			x[i] = float32(i) + 0.5
		}
		text, _ := pfw.NewTensor([]int64{int64(len(texts))}, texts)
		xs, _ := pfw.NewTensor([]int64{int64(len(x))}, x)
		got, err := it.Run(text, xs)
		if err != nil {
			t.Fatal(err)
		}
		joined, err := pfw.Values[string](got[0])
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range texts {
			want := s + ":" + []string{"0.5", "1.5", "2.5", "3.5"}[i]
			if joined[i] != want {
				t.Errorf("joined[%d] = %q (%d bytes), want %d bytes", i, joined[i][:min(len(joined[i]), 20)], len(joined[i]), len(want))
			}
		}
	}
}

func TestStringsMisuse(t *testing.T) {
	it, _, _ := loadStringsGolden(t)
	nums, _ := pfw.NewTensor([]int64{1}, []float32{1})
	if _, err := it.Run(nums, nums); err == nil {
		t.Error("a float32 tensor fed to a string input was accepted")
	}
	s, _ := pfw.NewTensor([]int64{2}, []string{"a", "b"})
	if _, err := s.Bytes(); err == nil {
		t.Error("Bytes() of a string tensor gave bytes")
	}
	if _, err := pfw.NewTensor([]int64{3}, []string{"a"}); err == nil {
		t.Error("3 elements from 1 string were accepted")
	}
	if _, err := pfw.TensorFromBytes(pfw.String, []int64{1}, []byte{1}); err == nil {
		t.Error("TensorFromBytes made a string tensor")
	}
}
