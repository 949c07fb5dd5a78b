#!/usr/bin/env bash
# Builds the example application (examples/hello) from source and serves it with `spindle up`.
#   bash scripts/run-example.sh [extra spindle up flags, e.g. --listen 127.0.0.1:3001]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
app="$root/examples/hello"
bash "$root/scripts/build-fixtures.sh" >/dev/null   # installs the guest toolchains and builds the example (cached)
exec dotnet run --project "$root/src/Spindle.Cli" -c Release -- up -f "$app/spin.toml" "$@"
