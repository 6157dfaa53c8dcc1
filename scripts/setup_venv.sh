#!/usr/bin/env bash
# Creates/updates .venv: pinned Python deps, interhand_msgs built into the venv, this package
# installed (editable). Idempotent: each step re-runs only when its inputs changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$root/.venv}"
python="${PYTHON:-python3}"
stamps="$venv/.interhand_stamps"

digest() { cat "$@" | sha256sum | cut -c1-16; }
up_to_date() { [ -f "$stamps/$1" ] && [ "$(cat "$stamps/$1")" = "$2" ]; }
mark_done() { mkdir -p "$stamps"; echo "$2" >"$stamps/$1"; }

if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating $venv"
  "$python" -m venv "$venv"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"

req_digest=$(digest "$root/requirements.txt" "$root/requirements-nodeps.txt")
if ! up_to_date requirements "$req_digest"; then
  echo "[setup] installing pinned requirements"
  pip install --disable-pip-version-check -q -r "$root/requirements.txt"
  pip install --disable-pip-version-check -q --no-deps -r "$root/requirements-nodeps.txt"
  mark_done requirements "$req_digest"
fi

msgs_digest=$(digest $(find "$root/interhand_msgs" -type f | sort) "$root/requirements.txt")
if ! up_to_date interhand_msgs "$msgs_digest"; then
  echo "[setup] building interhand_msgs into the venv"
  build="$root/build/interhand_msgs_venv"; log="$root/build/interhand_msgs_venv.log"
  rm -rf "$build"; mkdir -p "$build"
  export CMAKE_PREFIX_PATH="$VIRTUAL_ENV" AMENT_PREFIX_PATH="$VIRTUAL_ENV"
  cmake -S "$root/interhand_msgs" -B "$build" -DCMAKE_INSTALL_PREFIX="$VIRTUAL_ENV" \
    -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python" >"$log" 2>&1 \
    || { cat "$log"; exit 1; }
  cmake --build "$build" -j "$(nproc)" >>"$log" 2>&1 || { cat "$log"; exit 1; }
  cmake --install "$build" >>"$log" 2>&1 || { cat "$log"; exit 1; }
  mark_done interhand_msgs "$msgs_digest"
fi

pkg_digest=$(digest "$root/setup.py" "$root/setup.cfg" "$root/package.xml")
if ! up_to_date package "$pkg_digest"; then
  echo "[setup] installing interhand_ros (editable)"
  pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e "$root"
  mark_done package "$pkg_digest"
fi
echo "[setup] venv ready: $venv"
