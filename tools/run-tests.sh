#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test twice: a normal build
# and an AddressSanitizer + UndefinedBehaviorSanitizer build; then the tests
# of threads (suite `tsan`: the index's, the module's in redis-server) once
# more in a ThreadSanitizer build that builds only what they need. Ends with
# a line "N passed, N failed" and exits non-zero on any failure.
#   VSS_SKIP_INSTALL=1  do not run tools/install-deps.sh
#   VSS_NO_ASAN=1       skip the ASan + UBSan build (local iteration only; CI never sets it)
#   VSS_NO_TSAN=1       skip the ThreadSanitizer build (likewise)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

if [ "${VSS_SKIP_INSTALL:-0}" != 1 ]; then
  tools/install-deps.sh --tests || { echo "0 passed, 1 failed"; exit 1; }
fi

jobs=$(nproc)
status=0
logs=()

setup_build() {
  local dir=$1; shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1 || meson setup --wipe "$dir" "$@" >"$dir.setup.log" 2>&1
  else
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
  fi || { cat "$dir.setup.log"; echo "run-tests: meson setup of $dir failed"; return 1; }
}

run_build() {
  local dir=$1; shift
  setup_build "$dir" "$@" || return 1
  ninja -C "$dir" || { echo "run-tests: build in $dir failed"; return 1; }
  meson test -C "$dir" --print-errorlogs --num-processes "$jobs" --timeout-multiplier "${VSS_TIMEOUT_MULTIPLIER:-1}"
  logs+=("$dir/meson-logs/testlog.json")
}

# Builds only the programs and modules the tests of one suite run (from
# meson's introspection), and runs those tests.
run_suite_build() {
  local dir=$1 suite=$2; shift 2
  local targets
  setup_build "$dir" "$@" || return 1
  targets=$(python3 - "$dir" "$suite" <<'PY'
import json, os, subprocess, sys
build, suite = sys.argv[1:]
def introspect(what):
    return json.loads(subprocess.check_output(["meson", "introspect", build, what]))
files = {t["id"]: t["filename"] for t in introspect("--targets")}
need = set()
for test in introspect("--tests"):
    if suite in (s.split(":")[-1] for s in test["suite"]):
        for target in test["depends"]:
            need.update(os.path.relpath(f, os.path.abspath(build)) for f in files[target])
print(" ".join(sorted(need)))
PY
  ) || targets=
  [ -n "$targets" ] || { echo "run-tests: no tests of suite $suite in $dir"; return 1; }
  # shellcheck disable=SC2086  # one target per word
  ninja -C "$dir" $targets || { echo "run-tests: build in $dir failed"; return 1; }
  meson test -C "$dir" --no-rebuild --suite "$suite" --print-errorlogs --num-processes "$jobs" \
    --timeout-multiplier "${VSS_TIMEOUT_MULTIPLIER:-1}"
  logs+=("$dir/meson-logs/testlog.json")
}

echo "=== normal build (build-tests) ==="
run_build build-tests -Dtests=enabled -Dbench=enabled -Dbuildtype=debugoptimized -Dwerror=true || status=1

if [ "${VSS_NO_ASAN:-0}" != 1 ]; then
  echo "=== AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan) ==="
  VSS_TIMEOUT_MULTIPLIER=3 run_build build-asan -Dtests=enabled -Dbench=disabled \
    -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true || status=1
fi

if [ "${VSS_NO_TSAN:-0}" != 1 ]; then
  # debug: the index library is built -O3 in every build type, and that is
  # where TSan spends its time; the rest compiles faster at -O0 with exact
  # stacks in the reports.
  echo "=== ThreadSanitizer build, suite tsan (build-tsan) ==="
  VSS_TIMEOUT_MULTIPLIER=3 run_suite_build build-tsan tsan -Dtests=enabled -Dbench=disabled \
    -Dbuildtype=debug -Db_sanitize=thread -Db_lundef=false -Dwerror=true || status=1
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
