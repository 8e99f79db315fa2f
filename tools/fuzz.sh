#!/usr/bin/env bash
# Builds runtime_c/fuzz/fuzz_model and fuzz_image (clang, libFuzzer, ASan + UBSan + LSan),
# replays the crash corpus (runtime_c/fuzz/crashes: every input that ever
# crashed it, kept so the bug stays fixed), then fuzzes for SECONDS from the
# seed corpus (ONNX backend-suite models and the golden models, converted to
# .pfw) and the growing corpus in build/fuzz/corpus. Exits non-zero on any
# crash, leak, timeout or out-of-memory; the input is left in
# build/fuzz/artifacts/ -- add it to runtime_c/fuzz/crashes once fixed.
# fuzz_image then does the same for the image codecs from the golden images
# (runtime_c/tests/data/images).
#
#   tools/fuzz.sh [SECONDS] [JOBS]     (default 60 s, 1 job)
#
# With FUZZ_RUNS=N: N inputs from a fixed seed (FUZZ_SEED, default 1), one
# job, from the seeds alone; SECONDS then only caps the time. FUZZ_RUNS=0
# (make test) replays the crash corpus and every seed and stops: the same
# inputs on every machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
JOBS=${2:-1}
VPY=${VPY:-.venv/bin/python}
OUT=build/fuzz
bash tools/ensure_tools.sh fuzz

cmake -S runtime_c -B "$OUT" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPFW_FUZZ=ON -DPFW_BUILD_TESTS=OFF > /dev/null
cmake --build "$OUT" --target fuzz_model fuzz_image -j "$(nproc)" > /dev/null
# Seeds are remade when seeds.py changes; a half-written set never survives.
if [ ! -f "$OUT/seeds/.done" ] || [ runtime_c/fuzz/seeds.py -nt "$OUT/seeds/.done" ]; then
  rm -rf "$OUT/seeds" "$OUT/seeds.tmp"
  "$VPY" runtime_c/fuzz/seeds.py "$OUT/seeds.tmp" --golden build/testdata
  touch "$OUT/seeds.tmp/.done" && mv "$OUT/seeds.tmp" "$OUT/seeds"
fi
mkdir -p "$OUT/corpus" "$OUT/artifacts" "$OUT/image-corpus"
# The image codecs' seeds: the golden images alone (not their expected pixels).
rm -rf "$OUT/image-seeds" && mkdir "$OUT/image-seeds"
awk '!/^#/ {print $1}' runtime_c/tests/data/images/MANIFEST.txt |
  while read -r f; do cp "runtime_c/tests/data/images/$f" "$OUT/image-seeds/"; done

# An OpenCL ICD loaded under ASan reports its own leaks; the target is the CPU path.
export PFW_OPENCL_LIBRARY=/nonexistent
FLAGS=(-max_len=32768 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix=artifacts/)
crashes=("$PWD"/runtime_c/fuzz/crashes/*)
cd "$OUT"
rm -f fuzz-*.log

if [ -e "${crashes[0]}" ]; then
  echo "fuzz: replaying the crash corpus (${#crashes[@]} inputs)"
  # At the feed size the inputs were found at (the campaigns feed less: fuzz_model.c).
  PFW_FUZZ_MAX_INPUT_ELEMENTS=1048576 ./fuzz_model "${FLAGS[@]}" "${crashes[@]}" > replay.log 2>&1 ||
    { tail -60 replay.log; exit 1; }
fi

if [ -n "${FUZZ_RUNS:-}" ]; then
  echo "fuzz: ${FUZZ_RUNS} inputs from seed ${FUZZ_SEED:-1} (at most ${SECONDS_TO_RUN} s), log in $OUT/fuzz-0.log"
else
  echo "fuzz: ${SECONDS_TO_RUN} s campaign, ${JOBS} job(s), logs in $OUT/fuzz-*.log"
fi
rc=0
if [ -n "${FUZZ_RUNS:-}" ]; then
  rm -rf smoke-corpus && mkdir smoke-corpus
  ./fuzz_model "${FLAGS[@]}" -seed="${FUZZ_SEED:-1}" -runs="$FUZZ_RUNS" -max_total_time="$SECONDS_TO_RUN" \
    -print_final_stats=1 smoke-corpus seeds > fuzz-0.log 2>&1 || rc=$?
elif [ "$JOBS" -gt 1 ]; then  # libFuzzer's workers write fuzz-<n>.log themselves
  ./fuzz_model "${FLAGS[@]}" -jobs="$JOBS" -workers="$JOBS" -max_total_time="$SECONDS_TO_RUN" \
    -print_final_stats=1 corpus seeds > fuzz-main.log 2>&1 || rc=$?
else
  ./fuzz_model "${FLAGS[@]}" -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 corpus seeds \
    > fuzz-0.log 2>&1 || rc=$?
fi
runs=$(awk '/stat::number_of_executed_units/ {n += $2} END {print n + 0}' fuzz-[0-9]*.log)
echo "fuzz: ${runs} executions, exit ${rc}"

# The image codecs (fuzz_image): raw files, no model around them, so the
# fuzzer reaches deep into each format. As many inputs as above in the
# fixed-seed modes; a fifth of SECONDS (one job) in a campaign.
if [ "$rc" -eq 0 ]; then
  if [ -n "${FUZZ_RUNS:-}" ]; then
    rm -rf image-smoke-corpus && mkdir image-smoke-corpus
    ./fuzz_image "${FLAGS[@]}" -seed="${FUZZ_SEED:-1}" -runs="$FUZZ_RUNS" -max_total_time="$SECONDS_TO_RUN" \
      -print_final_stats=1 image-smoke-corpus image-seeds > fuzz-image.log 2>&1 || rc=$?
  else
    ./fuzz_image "${FLAGS[@]}" -max_total_time=$((SECONDS_TO_RUN / 5 + 1)) -print_final_stats=1 \
      image-corpus image-seeds > fuzz-image.log 2>&1 || rc=$?
  fi
  image_runs=$(awk '/stat::number_of_executed_units/ {n += $2} END {print n + 0}' fuzz-image.log)
  echo "fuzz: image codecs: ${image_runs} executions, exit ${rc}"
fi
if [ "$rc" -ne 0 ]; then
  grep -h -B2 -A40 "ERROR: \|runtime error\|deadly signal" fuzz-*.log | head -80
  ls artifacts
  exit "$rc"
fi
