package pfw

// #include <stdlib.h>
// #include "pfw.h"
import "C"

import (
	"reflect"
	"runtime"
	"sync"
	"unsafe"
)

// Options configure an Interpreter. Zero values take libpfw's defaults.
type Options struct {
	Threads    int    // intra-op threads (>= 1; 0 means 1); results do not depend on it
	Backend    string // "cpu" (the default for ""), "opencl" or "auto"
	ArenaLimit uint64 // most bytes the plan may take (arena, inputs, planned values); 0 means physical memory
	LoopLimit  int64  // most Loop/Scan body runs per Run, nested ones included; 0 means no limit
	Seed       uint64 // seed of the random ops without a seed attribute of their own (default 0)
}

// Option changes one field of Options, for Model.NewInterpreter.
type Option func(*Options)

// WithThreads sets the number of intra-op threads.
func WithThreads(n int) Option { return func(o *Options) { o.Threads = n } }

// WithBackend picks "cpu", "opencl" or "auto".
func WithBackend(name string) Option { return func(o *Options) { o.Backend = name } }

// WithArenaLimit caps the bytes a plan may take: the activation arena, the
// input buffers and the values computed while planning.
func WithArenaLimit(bytes uint64) Option { return func(o *Options) { o.ArenaLimit = bytes } }

// WithLoopLimit caps how many times one Run may run Loop and Scan bodies,
// all such nodes and nested ones together: for models from untrusted sources,
// whose trip counts come from the file.
func WithLoopLimit(n int64) Option { return func(o *Options) { o.LoopLimit = n } }

// WithSeed seeds the random ops (RandomNormal, RandomUniform, Bernoulli,
// Dropout in training mode...) that have no seed attribute: every Run draws
// new values, and an interpreter with the same seed repeats them.
func WithSeed(seed uint64) Option { return func(o *Options) { o.Seed = seed } }

// TensorInfo describes an input or output as the model declares it; a -1 in
// Shape marks a dynamic dimension. A Sequence holds tensors of DType and
// Shape (nil Shape: their rank is open); an Optional may hold no value. Such
// inputs and outputs go through RunValues.
type TensorInfo struct {
	Name     string
	DType    DType
	Shape    []int64
	Sequence bool
	Optional bool
}

// Interpreter runs a model's main graph. Its methods may be called from any
// goroutine but run one at a time.
type Interpreter struct {
	mu      sync.Mutex
	ptr     *C.pfw_interpreter
	model   *Model
	ins     []*C.pfw_tensor
	outs    []*C.pfw_tensor
	inputs  []TensorInfo
	outputs []TensorInfo
}

// NewInterpreter creates an interpreter for m with the given options.
func (m *Model) NewInterpreter(opts ...Option) (*Interpreter, error) {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	return NewInterpreter(m, o)
}

// NewInterpreter creates an interpreter for model: shape inference, kernel
// choice and memory planning happen here.
func NewInterpreter(model *Model, o Options) (*Interpreter, error) {
	if model == nil {
		return nil, argError("NewInterpreter", "model is nil")
	}
	if o.Threads == 0 {
		o.Threads = 1
	}
	if o.Backend == "" {
		o.Backend = "cpu"
	}
	mptr, err := model.acquire()
	if err != nil {
		return nil, err
	}
	it, err := create(mptr, o)
	if err != nil {
		model.release()
		return nil, err
	}
	it.model = model
	runtime.SetFinalizer(it, (*Interpreter).Close)
	return it, nil
}

func create(mptr *C.pfw_model, o Options) (*Interpreter, error) {
	var opts *C.pfw_options
	if err := call("pfw_options_create", func() C.pfw_status { return C.pfw_options_create(&opts) }); err != nil {
		return nil, err
	}
	defer C.pfw_options_free(opts)
	if int64(o.Threads) != int64(int32(o.Threads)) {
		return nil, argError("Options.Threads", "threads must fit in int32, got %d", o.Threads)
	}
	backend := C.CString(o.Backend)
	defer C.free(unsafe.Pointer(backend))
	it := &Interpreter{}
	err := call("pfw_options_set_num_threads", func() C.pfw_status {
		return C.pfw_options_set_num_threads(opts, C.int32_t(o.Threads))
	})
	if err == nil {
		err = call("pfw_options_set_backend", func() C.pfw_status { return C.pfw_options_set_backend(opts, backend) })
	}
	if err == nil {
		err = call("pfw_options_set_arena_limit", func() C.pfw_status {
			return C.pfw_options_set_arena_limit(opts, C.uint64_t(o.ArenaLimit))
		})
	}
	if err == nil {
		err = call("pfw_options_set_loop_limit", func() C.pfw_status {
			return C.pfw_options_set_loop_limit(opts, C.int64_t(o.LoopLimit))
		})
	}
	if err == nil {
		err = call("pfw_options_set_seed", func() C.pfw_status { return C.pfw_options_set_seed(opts, C.uint64_t(o.Seed)) })
	}
	if err == nil {
		err = call("pfw_interpreter_create", func() C.pfw_status { return C.pfw_interpreter_create(mptr, opts, &it.ptr) })
	}
	if err == nil {
		it.ins, it.inputs, err = it.tensors("pfw_interpreter_get_input", int(C.pfw_interpreter_input_count(it.ptr)),
			func(i C.int32_t, t **C.pfw_tensor) C.pfw_status { return C.pfw_interpreter_get_input(it.ptr, i, t) })
	}
	if err == nil {
		it.outs, it.outputs, err = it.tensors("pfw_interpreter_get_output", int(C.pfw_interpreter_output_count(it.ptr)),
			func(i C.int32_t, t **C.pfw_tensor) C.pfw_status { return C.pfw_interpreter_get_output(it.ptr, i, t) })
	}
	if err != nil {
		C.pfw_interpreter_free(it.ptr) // NULL is a no-op
		return nil, err
	}
	return it, nil
}

func (it *Interpreter) tensors(op string, n int, get func(C.int32_t, **C.pfw_tensor) C.pfw_status) ([]*C.pfw_tensor, []TensorInfo, error) {
	handles := make([]*C.pfw_tensor, n)
	infos := make([]TensorInfo, n)
	for i := range handles {
		if err := call(op, func() C.pfw_status { return get(C.int32_t(i), &handles[i]) }); err != nil {
			return nil, nil, err
		}
		t := handles[i]
		var shape []int64
		if rank := int(C.pfw_tensor_model_rank(t)); rank >= 0 {
			shape = make([]int64, rank)
		}
		for k := range shape {
			shape[k] = int64(C.pfw_tensor_model_dim(t, C.int32_t(k)))
		}
		infos[i] = TensorInfo{Name: C.GoString(C.pfw_tensor_name(t)), DType: DType(C.pfw_tensor_dtype(t)), Shape: shape,
			Sequence: C.pfw_tensor_kind(t) == C.PFW_KIND_SEQUENCE, Optional: C.pfw_tensor_is_optional(t) != 0}
	}
	return handles, infos, nil
}

func copyInfos(infos []TensorInfo) []TensorInfo {
	out := make([]TensorInfo, len(infos))
	for i, info := range infos {
		out[i] = info
		out[i].Shape = append([]int64(nil), info.Shape...)
	}
	return out
}

// Inputs describes the model's inputs in order.
func (it *Interpreter) Inputs() []TensorInfo { return copyInfos(it.inputs) }

// Outputs describes the model's outputs in order.
func (it *Interpreter) Outputs() []TensorInfo { return copyInfos(it.outputs) }

// Backend reports what the interpreter runs on: name is "cpu" or "opencl";
// info names the device and how many nodes run there, or, for "auto" on the
// CPU, why. Both are "" once closed.
func (it *Interpreter) Backend() (name, info string) {
	if it == nil {
		return "", ""
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.ptr == nil {
		return "", ""
	}
	return C.GoString(C.pfw_interpreter_backend(it.ptr)), C.GoString(C.pfw_interpreter_backend_info(it.ptr))
}

// Close frees the interpreter (and the model, if it was closed and this was
// its last interpreter). Calling Close again is a no-op.
func (it *Interpreter) Close() error {
	if it == nil {
		return nil
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.ptr == nil {
		return nil
	}
	runtime.SetFinalizer(it, nil)
	C.pfw_interpreter_free(it.ptr)
	it.ptr, it.ins, it.outs = nil, nil, nil
	it.model.release()
	return nil
}

// RunNamed runs one inference with inputs given by name; every input of
// the model must be present.
func (it *Interpreter) RunNamed(feeds map[string]Tensor) ([]Tensor, error) {
	if it == nil {
		return nil, ErrClosed
	}
	ordered := make([]Tensor, len(it.inputs))
	for name := range feeds {
		if it.inputIndex(name) < 0 {
			return nil, argError("Run", "unknown input %q; the model's inputs are %v", name, it.inputNames())
		}
	}
	for i, info := range it.inputs {
		t, ok := feeds[info.Name]
		if !ok {
			return nil, argError("Run", "missing input %q (%s %v)", info.Name, info.DType, info.Shape)
		}
		ordered[i] = t
	}
	return it.Run(ordered...)
}

func (it *Interpreter) inputIndex(name string) int {
	for i, info := range it.inputs {
		if info.Name == name {
			return i
		}
	}
	return -1
}

func (it *Interpreter) inputNames() []string {
	names := make([]string, len(it.inputs))
	for i, info := range it.inputs {
		names[i] = info.Name
	}
	return names
}

// Run runs one inference with one tensor per input, in order, resizing
// inputs whose shape changed. It returns new tensors, one per output.
func (it *Interpreter) Run(inputs ...Tensor) ([]Tensor, error) {
	values := make([]Value, len(inputs))
	for i, t := range inputs {
		values[i] = TensorValue(t)
	}
	res, err := it.run("Run", values, true)
	if err != nil {
		return nil, err
	}
	out := make([]Tensor, len(res))
	for i, v := range res {
		out[i] = v.Tensor
	}
	return out, nil
}

// feed checks input i's dtype and data, resizes it when its shape changed
// (libpfw checks the shape against the model) and copies the data in.
func (it *Interpreter) feed(i int, t Tensor) error {
	info, h := it.inputs[i], it.ins[i]
	if t.DType != info.DType {
		return argError("Run", "input %q expects %s, got %s", info.Name, info.DType, t.DType)
	}
	if err := t.validate(); err != nil {
		return argError("Run", "input %q: %v", info.Name, err)
	}
	if !sameShape(h, t.Shape) {
		dims := t.Shape
		if len(dims) == 0 {
			dims = []int64{0} // C wants a valid pointer even for rank 0
		}
		if err := call("pfw_interpreter_resize_input", func() C.pfw_status {
			return C.pfw_interpreter_resize_input(it.ptr, C.int32_t(i), (*C.int64_t)(unsafe.Pointer(&dims[0])), C.int32_t(len(t.Shape)))
		}); err != nil {
			return err
		}
	}
	if t.DType == String {
		return setStrings(h, t.Data.([]string))
	}
	v := reflect.ValueOf(t.Data)
	size := uintptr(v.Len()) * v.Type().Elem().Size()
	var src unsafe.Pointer
	if v.Len() > 0 {
		src = v.UnsafePointer() // Go memory without pointers, read during the call only
	}
	return call("pfw_tensor_copy_from_buffer", func() C.pfw_status {
		return C.pfw_tensor_copy_from_buffer(h, src, C.size_t(size))
	})
}

func sameShape(h *C.pfw_tensor, shape []int64) bool {
	if int(C.pfw_tensor_rank(h)) != len(shape) {
		return false
	}
	for k, d := range shape {
		if int64(C.pfw_tensor_dim(h, C.int32_t(k))) != d {
			return false
		}
	}
	return true
}

// readTensor copies an output's current shape and data into a new Tensor.
func readTensor(h *C.pfw_tensor, info TensorInfo) (Tensor, error) {
	shape := make([]int64, int(C.pfw_tensor_rank(h)))
	for k := range shape {
		shape[k] = int64(C.pfw_tensor_dim(h, C.int32_t(k)))
	}
	goType, ok := dtypeInfo[info.DType]
	if !ok {
		return Tensor{}, &Error{Status: StatusUnsupported, Op: "Run", Msg: "output " + info.Name + " has " + info.DType.String() + ", which Go cannot hold"}
	}
	n := int(C.pfw_tensor_element_count(h))
	size := C.pfw_tensor_byte_size(h)
	if info.DType == String {
		data, err := readStrings(h, n)
		return Tensor{DType: String, Shape: shape, Data: data}, err
	}
	if info.DType == Bool {
		// Read as bytes so any non-zero byte becomes a valid Go true.
		raw := make([]byte, n)
		if err := copyOut(h, raw, size); err != nil {
			return Tensor{}, err
		}
		data := make([]bool, n)
		for i, c := range raw {
			data[i] = c != 0
		}
		return Tensor{DType: Bool, Shape: shape, Data: data}, nil
	}
	slice := reflect.MakeSlice(goType.goType, n, n)
	if err := copyOut(h, slice.Interface(), size); err != nil {
		return Tensor{}, err
	}
	return Tensor{DType: info.DType, Shape: shape, Data: slice.Interface()}, nil
}

func copyOut(h *C.pfw_tensor, dst any, size C.size_t) error {
	v := reflect.ValueOf(dst)
	if uintptr(v.Len())*v.Type().Elem().Size() != uintptr(size) {
		return &Error{Status: StatusInternal, Op: "pfw_tensor_copy_to_buffer", Msg: "output byte size does not match its shape"}
	}
	if v.Len() == 0 {
		return nil
	}
	ptr := v.UnsafePointer()
	return call("pfw_tensor_copy_to_buffer", func() C.pfw_status { return C.pfw_tensor_copy_to_buffer(h, ptr, size) })
}
