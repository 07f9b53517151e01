#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test twice: a normal build
# and an AddressSanitizer + UndefinedBehaviorSanitizer build. Ends with a line
# "N passed, N failed" and exits non-zero on any failure.
#   VSS_SKIP_INSTALL=1  do not run tools/install-deps.sh
#   VSS_NO_ASAN=1       skip the sanitizer build (local iteration only; CI never sets it)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

if [ "${VSS_SKIP_INSTALL:-0}" != 1 ]; then
  tools/install-deps.sh --tests || { echo "0 passed, 1 failed"; exit 1; }
fi

jobs=$(nproc)
status=0
logs=()

run_build() {
  local dir=$1; shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1 || meson setup --wipe "$dir" "$@" >"$dir.setup.log" 2>&1
  else
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
  fi || { cat "$dir.setup.log"; echo "run-tests: meson setup of $dir failed"; return 1; }
  ninja -C "$dir" || { echo "run-tests: build in $dir failed"; return 1; }
  meson test -C "$dir" --print-errorlogs --num-processes "$jobs" --timeout-multiplier "${VSS_TIMEOUT_MULTIPLIER:-1}"
  logs+=("$dir/meson-logs/testlog.json")
}

echo "=== normal build (build-tests) ==="
run_build build-tests -Dtests=enabled -Dbench=enabled -Dbuildtype=debugoptimized -Dwerror=true || status=1

if [ "${VSS_NO_ASAN:-0}" != 1 ]; then
  echo "=== AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan) ==="
  VSS_TIMEOUT_MULTIPLIER=3 run_build build-asan -Dtests=enabled -Dbench=disabled \
    -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true || status=1
fi

if [ ${#logs[@]} -eq 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
python3 - "${logs[@]}" <<'PY' || status=1
import json, sys
passed = failed = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        print(f"run-tests: no results in {path}")
        continue
    for line in lines:
        r = json.loads(line)
        if r["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
            print(f"run-tests: FAILED {path.split('/')[0]}: {r['name']} ({r['result']})")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
[ $status -eq 0 ] || exit 1
exit 0
