"""cffi build script: compiles libpfw's sources into the `pyfw._libpfw`
extension (API mode), so `pip install .` needs only a C compiler.

The cdef is read from runtime_c/include/pfw.h itself (preprocessor lines
dropped), so the binding cannot drift from the contract."""
from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent.parent
RUNTIME = ROOT / "runtime_c"


def cdef_from_header(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"#ifdef __cplusplus.*?#endif", "", text, flags=re.S)
    out = []
    for line in text.splitlines():
        m = re.match(r"#define\s+(PFW_\w+)\s+(\d+)\s*$", line)
        if m:
            out.append(f"#define {m.group(1)} {m.group(2)}")
        elif not line.startswith("#"):
            out.append(line.replace("PFW_API ", ""))
    return "\n".join(out)


def sources() -> list[str]:
    src = RUNTIME / "src"
    files = sorted(src.glob("*.c")) + sorted((src / "ops").glob("*.c")) + sorted((src / "image").glob("*.c"))
    files += sorted((src / "kernels").glob("*.c")) + sorted((src / "kernels").glob("*/*.c"))
    files += sorted((src / "backends").glob("*/*.c"))
    return [os.path.relpath(f, ROOT) for f in files]


ffi = FFI()
ffi.cdef(cdef_from_header((RUNTIME / "include" / "pfw.h").read_text()))
ffi.set_source(
    "pyfw._libpfw",
    '#include "pfw.h"',
    sources=sources(),
    include_dirs=[os.path.relpath(RUNTIME / "include", ROOT), os.path.relpath(RUNTIME / "src", ROOT)],
    define_macros=[("_POSIX_C_SOURCE", "200809L")],
    extra_compile_args=["-std=c11", "-O3", "-fvisibility=hidden"],
    libraries=["m", "pthread", "dl"],
)

if __name__ == "__main__":
    ffi.compile(verbose=True)
