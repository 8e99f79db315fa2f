package pfw

// #include "pfw.h"
import "C"

import (
	"fmt"
	"reflect"
	"runtime"
	"unsafe"
)

// Value is what an input or output holds: a tensor, a sequence of tensors
// (an ONNX sequence: TensorInfo.Sequence), or, for an optional
// (TensorInfo.Optional), no value at all.
type Value struct {
	Tensor     Tensor   // the value, unless IsSequence or None
	Sequence   []Tensor // the elements, when IsSequence
	IsSequence bool
	None       bool // an optional holding no value
}

// TensorValue wraps a tensor.
func TensorValue(t Tensor) Value { return Value{Tensor: t} }

// SequenceValue makes a sequence of the given elements (none: an empty one).
func SequenceValue(elements ...Tensor) Value {
	return Value{Sequence: append([]Tensor{}, elements...), IsSequence: true}
}

// NoneValue is an optional holding no value.
func NoneValue() Value { return Value{None: true} }

// RunValues runs one inference with one Value per input, in order: what
// models with sequence or optional inputs or outputs need (Run takes and
// gives tensors only). It returns one new Value per output.
func (it *Interpreter) RunValues(inputs ...Value) ([]Value, error) {
	return it.run("RunValues", inputs, false)
}

// run feeds, invokes and reads back; tensorsOnly (Run) refuses models with
// sequence or optional inputs or outputs.
func (it *Interpreter) run(op string, inputs []Value, tensorsOnly bool) ([]Value, error) {
	if it == nil {
		return nil, ErrClosed
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.ptr == nil {
		return nil, ErrClosed
	}
	if len(inputs) != len(it.inputs) {
		return nil, argError(op, "expected %d input(s) %v, got %d", len(it.inputs), it.inputNames(), len(inputs))
	}
	for _, info := range append(append([]TensorInfo{}, it.inputs...), it.outputs...) {
		if tensorsOnly && (info.Sequence || info.Optional) {
			return nil, argError(op, "%q is a sequence or an optional: use RunValues", info.Name)
		}
	}
	for i, v := range inputs {
		if err := it.feedValue(i, v); err != nil {
			return nil, err
		}
	}
	if err := call("pfw_interpreter_invoke", func() C.pfw_status { return C.pfw_interpreter_invoke(it.ptr) }); err != nil {
		return nil, err
	}
	results := make([]Value, len(it.outs))
	for i, h := range it.outs {
		v, err := readValue(h, it.outputs[i])
		if err != nil {
			return nil, err
		}
		results[i] = v
	}
	runtime.KeepAlive(it)
	return results, nil
}

func (it *Interpreter) feedValue(i int, v Value) error {
	info, h := it.inputs[i], it.ins[i]
	switch {
	case v.None:
		if !info.Optional {
			return argError("RunValues", "input %q is not optional: it needs a value", info.Name)
		}
		return call("pfw_tensor_set_has_value", func() C.pfw_status { return C.pfw_tensor_set_has_value(h, 0) })
	case v.IsSequence != info.Sequence:
		return argError("RunValues", "input %q is %s, got %s", info.Name, info.kind(), v.kind())
	case !v.IsSequence:
		return it.feed(i, v.Tensor)
	}
	if err := call("pfw_tensor_sequence_clear", func() C.pfw_status { return C.pfw_tensor_sequence_clear(h) }); err != nil {
		return err
	}
	for k, t := range v.Sequence {
		if err := t.validate(); err != nil {
			return argError("RunValues", "element %d of input %q: %v", k, info.Name, err)
		}
		if t.DType == String {
			return &Error{Status: StatusUnsupported, Op: "RunValues", Msg: fmt.Sprintf(
				"element %d of input %q: sequences of strings cannot be fed (libpfw's C API appends raw bytes)", k, info.Name)}
		}
		dims := append(append([]int64{}, t.Shape...), 0) // a valid pointer even for rank 0
		data := reflect.ValueOf(t.Data)
		size := uintptr(data.Len()) * data.Type().Elem().Size()
		var src unsafe.Pointer
		if data.Len() > 0 {
			src = data.UnsafePointer() // Go memory without pointers, read during the call only
		}
		if err := call("pfw_tensor_sequence_append", func() C.pfw_status {
			return C.pfw_tensor_sequence_append(h, C.pfw_dtype(t.DType), (*C.int64_t)(unsafe.Pointer(&dims[0])),
				C.int32_t(len(t.Shape)), src, C.size_t(size))
		}); err != nil {
			return err
		}
	}
	return nil
}

func readValue(h *C.pfw_tensor, info TensorInfo) (Value, error) {
	if C.pfw_tensor_has_value(h) == 0 {
		return NoneValue(), nil
	}
	if !info.Sequence {
		t, err := readTensor(h, info)
		return TensorValue(t), err
	}
	var n C.int64_t
	if err := call("pfw_tensor_sequence_length", func() C.pfw_status { return C.pfw_tensor_sequence_length(h, &n) }); err != nil {
		return Value{}, err
	}
	elements := make([]Tensor, int(n))
	for k := range elements {
		var item *C.pfw_tensor
		if err := call("pfw_tensor_sequence_item", func() C.pfw_status {
			return C.pfw_tensor_sequence_item(h, C.int64_t(k), &item)
		}); err != nil {
			return Value{}, err
		}
		t, err := readTensor(item, info) // a read-only element: readTensor only reads
		if err != nil {
			return Value{}, err
		}
		elements[k] = t
	}
	return SequenceValue(elements...), nil
}

func (info TensorInfo) kind() string {
	if info.Sequence {
		return "a sequence of " + info.DType.String()
	}
	return "a " + info.DType.String() + " tensor"
}

func (v Value) kind() string {
	if v.IsSequence {
		return "a sequence"
	}
	return "a tensor"
}
