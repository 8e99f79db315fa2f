#!/bin/sh
# Builds libpfw_jni for the Maven build: libpfw's release build (`make c-build`
# at the repository root), then this directory's CMake project. Quiet unless a
# step fails, so `mvn -q` stays quiet; a failing step prints its whole log.
# Usage: build.sh ROOT JNI_HEADERS BUILD_DIR OUTPUT_DIR JAVA_HOME
set -u
root=$1 headers=$2 build=$3 output=$4 java_home=$5
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build"
log="$build/build.log"

step() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "libpfw_jni build failed in: $*" >&2
    exit 1
  fi
}

step make --no-print-directory -C "$root" c-build
step cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DJAVA_HOME="$java_home" -DPFW_ROOT="$root" \
  -DPFW_JNI_HEADERS="$headers" -DPFW_JNI_OUTPUT_DIR="$output"
step cmake --build "$build"
