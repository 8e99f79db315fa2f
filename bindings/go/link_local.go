//go:build !pfw_pkgconfig

package pfw

// By default the package links the repository's own release build
// (`make c-build` writes build/release/libpfw.so) and records its directory as
// an rpath, so tests and programs run without LD_LIBRARY_PATH. Build with
// `-tags pfw_pkgconfig` to use an installed libpfw through pkg-config instead.

// #cgo CFLAGS: -I${SRCDIR}/../../runtime_c/include
// #cgo LDFLAGS: -L${SRCDIR}/../../build/release -lpfw -Wl,-rpath,${SRCDIR}/../../build/release
import "C"
