#!/usr/bin/env bash
# Runs every test: builds the fixtures from source (cached), then the whole xunit suite on real Kestrel and
# real Wasm. Prints one closing line "N passed, N failed, N skipped".
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/build-fixtures.sh || exit 1
log=$(mktemp)
dotnet test --solution Spindle.slnx -c Release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Microsoft.Testing.Platform's summary: "failed: N", "succeeded: N", "skipped: N".
num() { grep -E "^\s+$1: [0-9]+" "$log" | tail -1 | grep -oE '[0-9]+' || echo 0; }
passed=$(num succeeded); failed=$(num failed); skipped=$(num skipped)
rm -f "$log"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
