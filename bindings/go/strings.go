package pfw

// #include <stdlib.h>
// #include "pfw.h"
import "C"

import (
	"unsafe"
)

// String tensors hold Go strings ([]string), any bytes, UTF-8 or not.
// libpfw copies them in with pfw_tensor_set_strings and out with
// pfw_tensor_copy_strings: the bytes cross in one C block each way.

// setStrings copies data into a STRING input. The pointers go in C memory
// (cgo forbids Go memory that holds Go pointers).
func setStrings(h *C.pfw_tensor, data []string) error {
	n := len(data)
	total := 0
	for _, s := range data {
		total += len(s)
	}
	// One C block: the pointers, the sizes (both aligned from malloc's start), then the bytes.
	ptrSize, sizeSize := unsafe.Sizeof((*C.char)(nil)), unsafe.Sizeof(C.size_t(0))
	block := C.malloc(C.size_t(uintptr(total) + uintptr(n)*(ptrSize+sizeSize) + 1))
	if block == nil {
		return &Error{Status: StatusOutOfMemory, Op: "pfw_tensor_set_strings", Msg: "out of memory for the strings"}
	}
	defer C.free(block)
	ptrs := unsafe.Slice((**C.char)(block), n)
	sizes := unsafe.Slice((*C.size_t)(unsafe.Add(block, uintptr(n)*ptrSize)), n)
	bytes := unsafe.Slice((*byte)(unsafe.Add(block, uintptr(n)*(ptrSize+sizeSize))), total+1)
	at := 0
	for i, s := range data {
		copy(bytes[at:], s)
		ptrs[i] = (*C.char)(unsafe.Pointer(&bytes[at]))
		sizes[i] = C.size_t(len(s))
		at += len(s)
	}
	var p **C.char
	var z *C.size_t
	if n > 0 {
		p, z = &ptrs[0], &sizes[0]
	}
	return call("pfw_tensor_set_strings", func() C.pfw_status {
		return C.pfw_tensor_set_strings(h, p, z, C.int64_t(n))
	})
}

// readStrings copies every string of a STRING tensor into Go strings.
func readStrings(h *C.pfw_tensor, n int) ([]string, error) {
	var size C.size_t
	if err := call("pfw_tensor_strings_size", func() C.pfw_status { return C.pfw_tensor_strings_size(h, &size) }); err != nil {
		return nil, err
	}
	buf := make([]byte, int(size)+1) // Go memory without pointers, written during the call only
	ends := make([]uint64, n+1)
	if err := call("pfw_tensor_copy_strings", func() C.pfw_status {
		return C.pfw_tensor_copy_strings(h, (*C.char)(unsafe.Pointer(&buf[0])), size,
			(*C.uint64_t)(unsafe.Pointer(&ends[0])), C.int64_t(n))
	}); err != nil {
		return nil, err
	}
	out := make([]string, n)
	start := uint64(0)
	for i := range out {
		out[i] = string(buf[start:ends[i]])
		start = ends[i]
	}
	return out, nil
}
