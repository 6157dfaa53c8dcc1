#!/usr/bin/env bash
# Creates/updates .venv: pinned Python deps, interhand_msgs built into the venv, this package
# installed (editable) with its entry points in .venv/bin. Works from any directory. Idempotent:
# each step re-runs only when its inputs changed, so a finished venv costs well under a second.
# Environment: VENV (default <repo>/.venv), PYTHON (default python3.11, else python3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(realpath -m "${VENV:-$root/.venv}")"
python="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
stamps="$venv/.interhand_stamps"
scripts=(hands_node interhand-run interhand-export interhand-quantize retarget_node)

fail() { echo "[setup] ERROR: $*" >&2; exit 1; }
digest() { cat "$@" | sha256sum | cut -c1-16; }
up_to_date() { [ -f "$stamps/$1" ] && [ "$(cat "$stamps/$1")" = "$2" ]; }
mark_done() { mkdir -p "$stamps"; echo "$2" >"$stamps/$1"; }
# Runs a build step with its output in a log; shows the log only when the step fails.
logged() { local log="$1"; shift; "$@" >>"$log" 2>&1 || { cat "$log" >&2; fail "failed: $*"; }; }

# Only pip, cmake and a C/C++ compiler are needed from the machine; say which one is missing.
require_build_tools() {
  command -v cmake >/dev/null || fail "cmake >= 3.21 not found (apt install cmake)"
  local version
  version="$(cmake --version | head -n1 | awk '{print $3}')"
  printf '3.21\n%s\n' "$version" | sort -C -V || fail "cmake $version is too old: need >= 3.21"
  command -v "${CC:-cc}" >/dev/null || fail "no C compiler (apt install build-essential)"
  command -v "${CXX:-c++}" >/dev/null || fail "no C++ compiler (apt install build-essential)"
}

# One set-up at a time per venv: a second `make test` waits instead of installing alongside.
mkdir -p "$venv"
exec 9>"$venv/.setup.lock"
flock 9

if [ ! -x "$venv/bin/python" ]; then
  [ -n "$python" ] || fail "no python3 found; set PYTHON=/path/to/python3.11"
  echo "[setup] creating $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv" || fail "could not create $venv with $python (apt install python3-venv)"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"

req_digest=$(digest "$root"/requirements{,-lock,-nodeps}.txt)
if ! up_to_date requirements "$req_digest"; then
  echo "[setup] installing pinned requirements (into a new venv: a few minutes, about 1.5 GB)"
  pip_install() {
    pip install --disable-pip-version-check -qq "$@" \
      || fail "pip install $* failed; the pins are tested on CPython 3.11 ($(python --version))"
  }
  pip_install -r "$root/requirements.txt" -c "$root/requirements-lock.txt"
  pip_install --no-deps -r "$root/requirements-nodeps.txt"
  mark_done requirements "$req_digest"
fi

msgs_digest=$(digest $(find "$root/interhand_msgs" -type f | sort) "$root"/requirements{,-lock}.txt)
if ! up_to_date interhand_msgs "$msgs_digest"; then
  echo "[setup] building interhand_msgs into the venv"
  require_build_tools
  build="$root/build/interhand_msgs_venv"; log="$root/build/interhand_msgs_venv.log"
  rm -rf "$build"; mkdir -p "$build"; : >"$log"
  export CMAKE_PREFIX_PATH="$VIRTUAL_ENV" AMENT_PREFIX_PATH="$VIRTUAL_ENV"
  logged "$log" cmake -S "$root/interhand_msgs" -B "$build" -DCMAKE_INSTALL_PREFIX="$VIRTUAL_ENV" \
    -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python"
  logged "$log" cmake --build "$build" -j "$(nproc)"
  logged "$log" cmake --install "$build"
  mark_done interhand_msgs "$msgs_digest"
fi

pkg_digest=$(digest "$root/setup.py" "$root/setup.cfg" "$root/package.xml")
if ! up_to_date package "$pkg_digest"; then
  echo "[setup] installing interhand_ros (editable)"
  pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e "$root" \
    || fail "pip install -e $root failed"
  mark_done package "$pkg_digest"
fi

# setup.cfg puts console scripts in lib/interhand_ros (where `ros2 run` looks); a venv user
# expects them in .venv/bin, so link them there as well.
for script in "${scripts[@]}"; do
  if [ -x "$venv/lib/interhand_ros/$script" ] && [ ! -e "$venv/bin/$script" ]; then
    ln -sfn "../lib/interhand_ros/$script" "$venv/bin/$script"
  fi
  [ -x "$venv/bin/$script" ] || fail "entry point $venv/bin/$script missing after install"
done
echo "[setup] venv ready: $venv"
