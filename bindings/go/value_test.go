package pfw_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	pfw "github.com/pyfw/pyfw/bindings/go"
)

// sequence_io.pfw (tests/golden/generate.py): ys = [2 * x for x in xs],
// count = len(xs), has = maybe is not None, same = maybe. Checked against
// those closed forms.
func TestSequencesAndOptionals(t *testing.T) {
	_, it := open(t, filepath.Join(testDataDir(t), "sequence_io.pfw"))
	in, out := it.Inputs(), it.Outputs()
	if !in[0].Sequence || in[0].Optional || in[1].Sequence || !in[1].Optional || !out[0].Sequence || !out[3].Optional {
		t.Fatalf("kinds: inputs %+v, outputs %+v", in, out)
	}
	if len(in[0].Shape) != 2 || in[0].Shape[0] != -1 || in[0].Shape[1] != 3 {
		t.Fatalf("element shape %v, want [-1 3]", in[0].Shape)
	}
	a, _ := pfw.NewTensor([]int64{2, 3}, []float32{0, 1, 2, 3, 4, 5})
	b, _ := pfw.NewTensor([]int64{1, 3}, []float32{-1, 0.5, 8})
	maybe, _ := pfw.NewTensor([]int64{3}, []float32{7, 8, 9})
	for _, c := range []struct {
		xs    []pfw.Tensor
		maybe pfw.Value
	}{{[]pfw.Tensor{a, b}, pfw.TensorValue(maybe)}, {[]pfw.Tensor{b}, pfw.NoneValue()}, {nil, pfw.TensorValue(maybe)}} {
		res, err := it.RunValues(pfw.SequenceValue(c.xs...), c.maybe)
		if err != nil {
			t.Fatal(err)
		}
		ys := res[0]
		if !ys.IsSequence || len(ys.Sequence) != len(c.xs) {
			t.Fatalf("ys = %+v, want %d elements", ys, len(c.xs))
		}
		for k, x := range c.xs {
			got, _ := pfw.Values[float32](ys.Sequence[k])
			want, _ := pfw.Values[float32](x)
			for i := range want {
				if got[i] != 2*want[i] {
					t.Fatalf("ys[%d][%d] = %v, want %v", k, i, got[i], 2*want[i])
				}
			}
		}
		count, _ := pfw.Values[int64](res[1].Tensor)
		has, _ := pfw.Values[bool](res[2].Tensor)
		if count[0] != int64(len(c.xs)) || has[0] == c.maybe.None || res[3].None != c.maybe.None {
			t.Fatalf("count %v has %v same %+v for %d elements, none=%v", count, has, res[3], len(c.xs), c.maybe.None)
		}
		if !c.maybe.None {
			same, _ := pfw.Values[float32](res[3].Tensor)
			if same[0] != 7 || same[2] != 9 {
				t.Fatalf("same = %v", same)
			}
		}
	}

	bad := []struct {
		inputs []pfw.Value
		want   string
	}{
		{[]pfw.Value{pfw.TensorValue(a), pfw.NoneValue()}, "is a sequence of float32, got a tensor"},
		{[]pfw.Value{pfw.NoneValue(), pfw.NoneValue()}, "is not optional"},
		{[]pfw.Value{pfw.SequenceValue(maybe), pfw.NoneValue()}, "holds elements of rank 2, got rank 1"},
	}
	i32, _ := pfw.NewTensor([]int64{1, 3}, []int32{1, 2, 3})
	bad = append(bad, struct {
		inputs []pfw.Value
		want   string
	}{[]pfw.Value{pfw.SequenceValue(i32), pfw.NoneValue()}, "holds float32 elements, got int32"})
	for _, c := range bad {
		_, err := it.RunValues(c.inputs...)
		var perr *pfw.Error
		if !errors.As(err, &perr) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one saying %q", err, c.want)
		}
	}
	if _, err := it.Run(a, maybe); err == nil || !strings.Contains(err.Error(), "use RunValues") {
		t.Errorf("Run on a sequence model: %v, want a pointer to RunValues", err)
	}
	it.Close()
	if _, err := it.RunValues(pfw.SequenceValue(), pfw.NoneValue()); !errors.Is(err, pfw.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
