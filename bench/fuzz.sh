#!/usr/bin/env bash
# A long fuzzing run: the property-based tests of test/fuzz/ (the ones npm test
# runs with a small budget), each property given up to SECONDS of runs.
#
#   bench/fuzz.sh [SECONDS] [NAME...]     e.g. bench/fuzz.sh 600 http1 fastcgi
#
# SECONDS per property (default 60; about 31 properties in all); NAME picks
# test/fuzz/NAME.test.ts files (default: all). Environment: FUZZ_RUNS caps the
# runs per property (default 200000), FUZZ_SEED fixes the seed (default random).
# A failure prints the seed, fast-check's path and the shrunk counterexample;
# rerun with the same FUZZ_SEED and FUZZ_RUNS (and no time limit) to replay it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
export FUZZ_TIME=$seconds
export FUZZ_RUNS=${FUZZ_RUNS:-200000}
export FUZZ_SEED=${FUZZ_SEED:-$(( (RANDOM << 15 | RANDOM) ))}

files=()
if [ $# -eq 0 ]; then
  files=(dist/test/fuzz/)
else
  for name in "$@"; do files+=("dist/test/fuzz/$name.test.js"); done
fi

npx tsc -p tsconfig.json
echo "fuzz: FUZZ_SEED=$FUZZ_SEED FUZZ_RUNS=$FUZZ_RUNS, at most ${seconds}s per property: ${files[*]}" >&2
exec node --test --test-concurrency=1 "${files[@]}"
