// Package pfw runs .pfw models with libpfw, the pyfw C runtime, through cgo.
//
// A Model is loaded once and may be shared by any number of Interpreters on
// any goroutines; an Interpreter runs one inference at a time (its methods
// serialize on a mutex). Errors are values: a failed C call gives an *Error
// carrying the pfw_status and libpfw's own message. Close frees the C
// objects; it is idempotent, and any use after Close returns ErrClosed.
// Finalizers free forgotten objects, but only as a safety net: call Close.
package pfw

// #include <stdlib.h>
// #include "pfw.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Status is a pfw_status code.
type Status int32

const (
	StatusOK              Status = C.PFW_OK
	StatusInvalidArgument Status = C.PFW_ERR_INVALID_ARGUMENT
	StatusInvalidModel    Status = C.PFW_ERR_INVALID_MODEL
	StatusUnsupported     Status = C.PFW_ERR_UNSUPPORTED
	StatusOutOfMemory     Status = C.PFW_ERR_OUT_OF_MEMORY
	StatusIO              Status = C.PFW_ERR_IO
	StatusShape           Status = C.PFW_ERR_SHAPE
	StatusNotFound        Status = C.PFW_ERR_NOT_FOUND
	StatusBackend         Status = C.PFW_ERR_BACKEND
	StatusInternal        Status = C.PFW_ERR_INTERNAL
)

// String is the C name of the status ("PFW_ERR_SHAPE").
func (s Status) String() string { return C.GoString(C.pfw_status_name(C.pfw_status(s))) }

// Error is a failure reported by libpfw (Msg is pfw_last_error()) or found
// by this package before calling it (then Status says which kind).
type Error struct {
	Status Status
	Op     string // the call or step that failed, e.g. "pfw_interpreter_invoke"
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("pfw: %s: %s: %s", e.Op, e.Status, e.Msg) }

// Is makes errors.Is(err, &pfw.Error{Status: s}) match any error of status s.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Msg == "" && t.Status == e.Status
}

// ErrClosed is returned by every method of a closed Model or Interpreter.
var ErrClosed = errors.New("pfw: use of a closed Model or Interpreter")

// call runs one fallible C call and reads pfw_last_error() on the same OS
// thread: the message is per thread, so the goroutine stays locked between.
func call(op string, f func() C.pfw_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if st := f(); st != C.PFW_OK {
		return &Error{Status: Status(st), Op: op, Msg: C.GoString(C.pfw_last_error())}
	}
	return nil
}

func argError(op, format string, args ...any) error {
	return &Error{Status: StatusInvalidArgument, Op: op, Msg: fmt.Sprintf(format, args...)}
}

// Version is libpfw's version string ("0.1.0").
func Version() string { return C.GoString(C.pfw_version()) }

// Model is a loaded, immutable .pfw file.
type Model struct {
	mu      sync.Mutex
	ptr     *C.pfw_model
	closed  bool
	interps int // live interpreters; the C model is freed after the last one
}

// LoadModel maps and verifies the .pfw file at path.
func LoadModel(path string) (*Model, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var ptr *C.pfw_model
	if err := call("pfw_model_load_file", func() C.pfw_status {
		return C.pfw_model_load_file(cpath, &ptr)
	}); err != nil {
		return nil, err
	}
	return newModel(ptr), nil
}

// LoadModelFromBytes verifies and loads a .pfw file held in memory; libpfw
// copies the bytes, so data may be reused once this returns.
func LoadModelFromBytes(data []byte) (*Model, error) {
	if len(data) == 0 {
		return nil, &Error{Status: StatusInvalidModel, Op: "pfw_model_load_buffer", Msg: "empty model buffer"}
	}
	var ptr *C.pfw_model
	if err := call("pfw_model_load_buffer", func() C.pfw_status {
		return C.pfw_model_load_buffer(unsafe.Pointer(&data[0]), C.size_t(len(data)), &ptr)
	}); err != nil {
		return nil, err
	}
	return newModel(ptr), nil
}

func newModel(ptr *C.pfw_model) *Model {
	m := &Model{ptr: ptr}
	runtime.SetFinalizer(m, (*Model).Close)
	return m
}

// Metadata returns the value stored under key (e.g. "producer"); an *Error
// with StatusNotFound when the key is absent.
func (m *Model) Metadata(key string) (string, error) {
	if m == nil {
		return "", ErrClosed
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return "", ErrClosed
	}
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	var value *C.char
	if err := call("pfw_model_get_metadata", func() C.pfw_status {
		return C.pfw_model_get_metadata(m.ptr, ckey, &value)
	}); err != nil {
		return "", err
	}
	return C.GoString(value), nil
}

// Close releases the model. Interpreters made from it keep working; the C
// model is freed when the last of them is closed. Calling Close again is a
// no-op.
func (m *Model) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		runtime.SetFinalizer(m, nil)
		m.freeIfUnused()
	}
	return nil
}

// freeIfUnused frees the C model once it is closed and no interpreter
// borrows it (pfw.h: interpreters must be freed before their model).
func (m *Model) freeIfUnused() {
	if m.closed && m.interps == 0 && m.ptr != nil {
		C.pfw_model_free(m.ptr)
		m.ptr = nil
	}
}

// acquire registers a new interpreter and returns the C model it borrows.
func (m *Model) acquire() (*C.pfw_model, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.ptr == nil {
		return nil, ErrClosed
	}
	m.interps++
	return m.ptr, nil
}

func (m *Model) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.interps--
	m.freeIfUnused()
}
