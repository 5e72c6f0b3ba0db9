#!/usr/bin/env bash
# A longer, random fuzz campaign for developers (never run by CI, whose
# gate is ci.sh). Usage: ./run-long.sh [SECONDS_PER_TARGET] [TARGET...]
#
# The corpus grows in corpus/TARGET/ and is kept between campaigns. A crash
# leaves its input in artifacts/TARGET/: copy it to regressions/TARGET/
# under a name that says what it found, add a test that reproduces it, and
# fix the cause. Each target's last line (runs, coverage) goes to
# fuzz-long.txt, which docs/fuzzing.md quotes.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-300}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || mapfile -t targets < <(cargo fuzz list)

cargo fuzz build -s none
: >fuzz-long.txt
for target in "${targets[@]}"; do
  inputs=("seeds/$target")
  [[ -d "regressions/$target" ]] && inputs+=("regressions/$target")
  mkdir -p "corpus/$target"
  status=ok
  cargo fuzz run -s none "$target" "corpus/$target" "${inputs[@]}" -- \
    -max_total_time="$seconds" -timeout=10 >"fuzz-$target.log" 2>&1 || status=CRASH
  echo "$target $status $(grep -E '^(Done|#[0-9]+)' "fuzz-$target.log" | tail -n 1)" | tee -a fuzz-long.txt
done
