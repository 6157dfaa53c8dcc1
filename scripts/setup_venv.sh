#!/usr/bin/env bash
# Creates/updates .venv: pinned Python deps, interhand_msgs built into the venv, this package
# installed (editable) with its entry points in .venv/bin and registered in the venv's ament
# index. Where ../shared/vendor/ros2 exists (tests only), also the ROS 2 packages PyPI's wheels
# lack: launch, launch_xml, launch_yaml, launch_ros, message_filters, composition_interfaces,
# tf2_msgs. Works from any directory. Idempotent: each step re-runs only when its inputs
# changed, so a finished venv costs well under a second.
# Environment: VENV (default <repo>/.venv), PYTHON (default python3.11, else python3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(realpath -m "${VENV:-$root/.venv}")"
python="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
stamps="$venv/.interhand_stamps"
scripts=(hands_node fusion_node interhand-run interhand-export interhand-quantize retarget_node interhand-calibrate extrinsics_publisher)

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

# Builds and installs one rosidl interface package (CMake) into the venv prefix.
# Usage: build_interfaces NAME SOURCE_DIR [extra cmake arguments...]
build_interfaces() {
  local name="$1" source="$2"; shift 2
  echo "[setup] building $name into the venv"
  require_build_tools
  local build="$root/build/${name}_venv" log="$root/build/${name}_venv.log"
  rm -rf "$build"; mkdir -p "$build"; : >"$log"
  export CMAKE_PREFIX_PATH="$VIRTUAL_ENV" AMENT_PREFIX_PATH="$VIRTUAL_ENV"
  logged "$log" cmake -S "$source" -B "$build" -DCMAKE_INSTALL_PREFIX="$VIRTUAL_ENV" \
    -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python" "$@"
  logged "$log" cmake --build "$build" -j "$(nproc)"
  logged "$log" cmake --install "$build"
}

wheel_fix="$root/interhand_msgs/cmake/drop_missing_wheel_include_dirs.cmake"
msgs_digest=$(digest $(find "$root/interhand_msgs" -type f | sort) "$root"/requirements{,-lock}.txt)
if ! up_to_date interhand_msgs "$msgs_digest"; then
  build_interfaces interhand_msgs "$root/interhand_msgs"
  mark_done interhand_msgs "$msgs_digest"
fi

# Upstream ROS 2 sources for the tests (launch file, message_filters, /tf); a ROS install has
# them already. The folder is read-only and not ours: Python packages are staged in build/
# before pip builds them, interface packages get the wheel include fix through
# CMAKE_PROJECT_INCLUDE instead of an edit of their CMakeLists.txt.
vendor="$root/../shared/vendor/ros2"
vendor_files() { find "$vendor/$1" -type f -not -path '*/build/*' -not -path '*.egg-info/*' | sort; }
if [ -d "$vendor" ]; then
  launch_pkgs=(launch launch_xml launch_yaml launch_ros)
  launch_digest=$(digest $(for pkg in "${launch_pkgs[@]}" message_filters; do vendor_files "$pkg"; \
    done) "$root"/requirements{,-lock}.txt)
  if ! up_to_date vendor_python "$launch_digest"; then
    echo "[setup] installing ${launch_pkgs[*]} and message_filters from $vendor"
    stage="$root/build/vendor_python"; log="$root/build/vendor_python.log"
    rm -rf "$stage"; mkdir -p "$stage"; : >"$log"
    for pkg in "${launch_pkgs[@]}"; do
      cp -r "$vendor/$pkg" "$stage/$pkg"
      chmod -R u+w "$stage/$pkg"
      rm -rf "$stage/$pkg/build" "$stage/$pkg"/*.egg-info
      logged "$log" pip install --disable-pip-version-check --no-deps --no-build-isolation \
        "$stage/$pkg"
    done
    # message_filters has no setup.py: its package is copied into site-packages.
    site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    rm -rf "$site/message_filters"
    cp -r "$vendor/message_filters/src/message_filters" "$site/message_filters"
    chmod -R u+w "$site/message_filters"
    mark_done vendor_python "$launch_digest"
  fi
  for pkg in composition_interfaces tf2_msgs; do
    iface_digest=$(digest $(vendor_files "$pkg") "$wheel_fix" "$root"/requirements{,-lock}.txt)
    if ! up_to_date "$pkg" "$iface_digest"; then
      build_interfaces "$pkg" "$vendor/$pkg" -DCMAKE_PROJECT_INCLUDE="$wheel_fix"
      mark_done "$pkg" "$iface_digest"
    fi
  done
fi

pkg_digest=$(digest "$root/setup.py" "$root/setup.cfg" "$root/package.xml")
if ! up_to_date package "$pkg_digest"; then
  echo "[setup] installing interhand_ros (editable)"
  pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e "$root" \
    || fail "pip install -e $root failed"
  mark_done package "$pkg_digest"
fi

# Register the package in the venv's ament index the way `colcon build --symlink-install`
# does (links into this repository, so edits to launch/ and config/ need no re-run):
# get_package_share_directory('interhand_ros') and `ros2 launch`-style lookups then work.
share="$venv/share/interhand_ros"
mkdir -p "$share" "$venv/share/ament_index/resource_index/packages"
cp "$root/resource/interhand_ros" "$venv/share/ament_index/resource_index/packages/interhand_ros"
for item in package.xml launch config; do
  ln -sfn "$root/$item" "$share/$item"
done

# setup.cfg puts console scripts in lib/interhand_ros (where `ros2 run` looks); a venv user
# expects them in .venv/bin, so link them there as well.
for script in "${scripts[@]}"; do
  if [ -x "$venv/lib/interhand_ros/$script" ] && [ ! -e "$venv/bin/$script" ]; then
    ln -sfn "../lib/interhand_ros/$script" "$venv/bin/$script"
  fi
  [ -x "$venv/bin/$script" ] || fail "entry point $venv/bin/$script missing after install"
done
echo "[setup] venv ready: $venv"
