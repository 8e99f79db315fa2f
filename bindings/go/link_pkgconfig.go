//go:build pfw_pkgconfig

package pfw

// An installed libpfw (`cmake --install`), found through its pfw.pc; set
// PKG_CONFIG_PATH to <prefix>/lib/pkgconfig when the prefix is not a default.

// #cgo pkg-config: pfw
import "C"
