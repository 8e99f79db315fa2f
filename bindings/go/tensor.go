package pfw

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
)

// DType is an element type; the numbers are pfw.h's (and ONNX's).
type DType int32

const (
	Float32  DType = 1
	Uint8    DType = 2
	Int8     DType = 3
	Uint16   DType = 4
	Int16    DType = 5
	Int32    DType = 6
	Int64    DType = 7
	String   DType = 8 // a []string; any bytes, UTF-8 or not
	Bool     DType = 9
	Float16  DType = 10 // held as raw IEEE half bits in a []uint16
	Float64  DType = 11
	Uint32   DType = 12
	Uint64   DType = 13
	BFloat16 DType = 16 // held as raw bfloat16 bits in a []uint16
	// One element per byte in a []uint8, the value in the low bits (pfw.h).
	Float8E4M3FN   DType = 17
	Float8E4M3FNUZ DType = 18
	Float8E5M2     DType = 19
	Float8E5M2FNUZ DType = 20
	Uint4          DType = 21
	Int4           DType = 22
	Float4E2M1     DType = 23
	Float8E8M0     DType = 24
	Uint2          DType = 25
	Int2           DType = 26
)

var dtypeInfo = map[DType]struct {
	name   string
	goType reflect.Type
}{
	Float32:        {"float32", reflect.TypeFor[[]float32]()},
	Uint8:          {"uint8", reflect.TypeFor[[]uint8]()},
	Int8:           {"int8", reflect.TypeFor[[]int8]()},
	Uint16:         {"uint16", reflect.TypeFor[[]uint16]()},
	Int16:          {"int16", reflect.TypeFor[[]int16]()},
	Int32:          {"int32", reflect.TypeFor[[]int32]()},
	Int64:          {"int64", reflect.TypeFor[[]int64]()},
	String:         {"string", reflect.TypeFor[[]string]()},
	Bool:           {"bool", reflect.TypeFor[[]bool]()},
	Float16:        {"float16", reflect.TypeFor[[]uint16]()},
	Float64:        {"float64", reflect.TypeFor[[]float64]()},
	Uint32:         {"uint32", reflect.TypeFor[[]uint32]()},
	Uint64:         {"uint64", reflect.TypeFor[[]uint64]()},
	BFloat16:       {"bfloat16", reflect.TypeFor[[]uint16]()},
	Float8E4M3FN:   {"float8e4m3fn", reflect.TypeFor[[]uint8]()},
	Float8E4M3FNUZ: {"float8e4m3fnuz", reflect.TypeFor[[]uint8]()},
	Float8E5M2:     {"float8e5m2", reflect.TypeFor[[]uint8]()},
	Float8E5M2FNUZ: {"float8e5m2fnuz", reflect.TypeFor[[]uint8]()},
	Uint4:          {"uint4", reflect.TypeFor[[]uint8]()},
	Int4:           {"int4", reflect.TypeFor[[]uint8]()},
	Float4E2M1:     {"float4e2m1", reflect.TypeFor[[]uint8]()},
	Float8E8M0:     {"float8e8m0", reflect.TypeFor[[]uint8]()},
	Uint2:          {"uint2", reflect.TypeFor[[]uint8]()},
	Int2:           {"int2", reflect.TypeFor[[]uint8]()},
}

// String is the name ONNX and NumPy use ("float32").
func (d DType) String() string {
	if info, ok := dtypeInfo[d]; ok {
		return info.name
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// ParseDType maps a NumPy/ONNX name ("float32", "int64", "bool") to a DType.
func ParseDType(name string) (DType, error) {
	for d, info := range dtypeInfo {
		if info.name == name {
			return d, nil
		}
	}
	return 0, fmt.Errorf("pfw: unknown dtype %q", name)
}

// Element is a Go type a tensor's data slice can hold.
type Element interface {
	float32 | float64 | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | bool | string
}

// Tensor is a dense row-major array: Data is a slice whose Go type matches
// DType ([]float32 for Float32, []bool for Bool, []uint16 for Float16 and
// BFloat16) and whose length is the product of Shape.
type Tensor struct {
	DType DType
	Shape []int64
	Data  any
}

// NewTensor makes a tensor of data with the given shape; the dtype follows
// from T. It fails when len(data) does not match the shape.
func NewTensor[T Element](shape []int64, data []T) (Tensor, error) {
	var d DType
	switch any(data).(type) {
	case []float32:
		d = Float32
	case []float64:
		d = Float64
	case []int8:
		d = Int8
	case []int16:
		d = Int16
	case []int32:
		d = Int32
	case []int64:
		d = Int64
	case []uint8:
		d = Uint8
	case []uint16:
		d = Uint16
	case []uint32:
		d = Uint32
	case []uint64:
		d = Uint64
	case []bool:
		d = Bool
	case []string:
		d = String
	}
	t := Tensor{DType: d, Shape: append([]int64(nil), shape...), Data: data}
	return t, t.validate()
}

// Values returns t's data as a []T, or an error naming both types when T
// does not match t's dtype.
func Values[T Element](t Tensor) ([]T, error) {
	v, ok := t.Data.([]T)
	if !ok {
		return nil, fmt.Errorf("pfw: tensor holds %s (%T), not %T", t.DType, t.Data, v)
	}
	return v, nil
}

// ElementCount is the product of the shape (1 for a scalar).
func (t Tensor) ElementCount() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

func (t Tensor) validate() error {
	info, ok := dtypeInfo[t.DType]
	if !ok {
		return fmt.Errorf("pfw: unsupported dtype %s", t.DType)
	}
	if t.Data == nil || reflect.TypeOf(t.Data) != info.goType {
		return fmt.Errorf("pfw: a %s tensor needs %v data, got %T", t.DType, info.goType, t.Data)
	}
	for i, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("pfw: shape %v has a negative dimension %d at %d", t.Shape, d, i)
		}
	}
	if n := reflect.ValueOf(t.Data).Len(); int64(n) != t.ElementCount() {
		return fmt.Errorf("pfw: shape %v needs %d elements, data has %d", t.Shape, t.ElementCount(), n)
	}
	return nil
}

// Bytes returns the data as raw little-endian bytes (the layout of the
// golden files and of libpfw's buffers).
func (t Tensor) Bytes() ([]byte, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	if t.DType == String {
		return nil, fmt.Errorf("pfw: a string tensor has no raw byte form; use its []string")
	}
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, t.Data); err != nil {
		return nil, fmt.Errorf("pfw: encoding %s tensor: %w", t.DType, err)
	}
	return b.Bytes(), nil
}

// TensorFromBytes decodes raw little-endian bytes into a tensor of dtype
// and shape; the byte count must match exactly.
func TensorFromBytes(dtype DType, shape []int64, raw []byte) (Tensor, error) {
	info, ok := dtypeInfo[dtype]
	if !ok || dtype == String {
		return Tensor{}, fmt.Errorf("pfw: unsupported dtype %s for raw bytes", dtype)
	}
	t := Tensor{DType: dtype, Shape: append([]int64(nil), shape...)}
	n := t.ElementCount()
	if n < 0 {
		return Tensor{}, fmt.Errorf("pfw: shape %v has a negative dimension", shape)
	}
	slice := reflect.MakeSlice(info.goType, int(n), int(n))
	if size := int(n) * int(info.goType.Elem().Size()); size != len(raw) {
		return Tensor{}, fmt.Errorf("pfw: %s %v needs %d bytes, got %d", dtype, shape, size, len(raw))
	}
	if dtype == Bool {
		// Any non-zero byte is true; binary.Read would reject other values.
		for i, c := range raw {
			slice.Index(i).SetBool(c != 0)
		}
	} else if err := binary.Read(bytes.NewReader(raw), binary.LittleEndian, slice.Interface()); err != nil {
		return Tensor{}, fmt.Errorf("pfw: decoding %s tensor: %w", dtype, err)
	}
	t.Data = slice.Interface()
	return t, nil
}
