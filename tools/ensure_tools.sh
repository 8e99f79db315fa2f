#!/usr/bin/env bash
# Installs, through apt, the toolchains make demo / make test need when they are
# missing. `ensure_tools.sh` (default): a JDK with Maven (Java binding) and Go
# (Go binding). `ensure_tools.sh aarch64`: the AArch64 cross compiler, its libc
# and qemu-user, which runs the cross-built C tests. `ensure_tools.sh opencl`:
# an OpenCL ICD loader with PoCL's CPU device, which the OpenCL backend's
# tests run on (libpfw itself only dlopens libOpenCL.so.1). `fuzz`: clang with
# libFuzzer. `checkers`: valgrind. Machines of this project's
# kind have them; a fresh Debian/Ubuntu box gets them here. Does nothing when
# everything is present.
set -euo pipefail
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
case "${1:-bindings}" in
  bindings)
    command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
    command -v mvn >/dev/null 2>&1 || need+=(maven)
    command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || need+=(golang-go)
    ;;
  aarch64)
    command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need+=(gcc-aarch64-linux-gnu)
    # The target's headers and libraries, which qemu also loads through -L.
    [ -e /usr/aarch64-linux-gnu/include/stdio.h ] || need+=(libc6-dev-arm64-cross)
    command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
    ;;
  opencl)
    [ -e /usr/lib/x86_64-linux-gnu/libOpenCL.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libOpenCL.so.1 ] ||
      need+=(ocl-icd-opencl-dev)
    ls /etc/OpenCL/vendors/*pocl* >/dev/null 2>&1 || need+=(pocl-opencl-icd)
    command -v clinfo >/dev/null 2>&1 || need+=(clinfo)
    ;;
  fuzz)
    command -v clang >/dev/null 2>&1 || need+=(clang)
    # libFuzzer and clang's sanitizer runtimes (the default clang's, as `clang` is).
    ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || need+=(libclang-rt-dev)
    ;;
  checkers)
    command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
    ;;
  *)
    echo "usage: $0 [bindings|aarch64|opencl|fuzz|checkers]" >&2
    exit 2
    ;;
esac
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing missing tools: ${need[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing ${need[*]} and no apt-get to install them; install them and run make again" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
