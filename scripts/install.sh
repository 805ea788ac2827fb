#!/usr/bin/env bash
# Install everything ifgrasp needs on a fresh Debian 12 (or Ubuntu 24.04) machine, then run the demo.
#
#   bash scripts/install.sh            # apt packages, ./.venv, ROS 2 Jazzy wheels, colcon build, demo
#   bash scripts/install.sh --no-demo  # the same without running the demo (what scripts/test.sh uses)
#
# Idempotent: a second run with nothing changed takes seconds (a stamp in .venv records the inputs).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_DEMO=1
for arg in "$@"; do
  case "$arg" in
    --no-demo) RUN_DEMO=0 ;;
    *) echo "install.sh: unknown option '$arg' (known: --no-demo)" >&2; exit 2 ;;
  esac
done

# --- system packages: headless OpenGL (OSMesa) for MuJoCo, libusb for open3d, venv support -----------
APT_PACKAGES=(libosmesa6 libgl1 libegl1 libusb-1.0-0 python3-venv python3-dev build-essential git)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "[install] apt: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
else
  echo "[install] no apt-get: make sure OSMesa (libOSMesa.so) and libusb-1.0 are installed" >&2
fi

# --- Python 3.11 virtual environment -------------------------------------------------------------
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON="$cand"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "[install] Python 3.11 is required (ROS 2 Jazzy wheels are cp311)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
VENV="$PWD/.venv"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

# pip, quiet; its output is shown only when it fails (and then the install stops).
pip_install() {
  local log; log="$(mktemp -t ifgrasp-pip.XXXXXX)"
  if ! "${PIP[@]}" install "$@" >"$log" 2>&1; then
    echo "[install] pip install $* failed; its output:" >&2; tail -n 40 "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
}

# Stamps record the inputs of each step, so a second run with nothing changed takes seconds.
py_inputs() { cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16; }
ros_inputs() {
  { cat scripts/install_ros.sh 2>/dev/null
    find ros2_ws/src -type f -not -path '*/__pycache__/*' 2>/dev/null | LC_ALL=C sort | xargs -r sha256sum
  } | sha256sum | cut -c1-16
}
PY_STAMP="$VENV/.ifgrasp-install-stamp"
ROS_STAMP="$VENV/.ifgrasp-ros-stamp"
if [ "$(cat "$PY_STAMP" 2>/dev/null)" != "$(py_inputs)" ]; then
  echo "[install] Python packages into .venv (torch 2.13.0 CPU build, MuJoCo, ...)"
  pip_install --upgrade pip
  # torch first and pinned: an unpinned torch would pull the multi-GB CUDA build.
  pip_install "torch==2.13.0"
  pip_install -e ".[hardware,perception,dev]"
  "$VENV/bin/python" -c "import torch, mujoco, ifgrasp" || { echo "[install] Python install failed" >&2; exit 1; }
  py_inputs >"$PY_STAMP"
  rm -f "$ROS_STAMP"  # the ROS wheels go into the same venv: check them again
else
  echo "[install] .venv is up to date"
fi
if [ -f scripts/install_ros.sh ]; then
  if [ "$(cat "$ROS_STAMP" 2>/dev/null)" != "$(ros_inputs)" ] || [ ! -f install/setup.bash ]; then
    echo "[install] ROS 2 Jazzy wheels and colcon build of ros2_ws/ into install/"
    VIRTUAL_ENV="$VENV" bash scripts/install_ros.sh
    ros_inputs >"$ROS_STAMP"
  else
    echo "[install] ROS 2 workspace is up to date"
  fi
fi

if ((RUN_DEMO)); then
  echo "[install] running the demo: .venv/bin/ifgrasp demo"
  export MUJOCO_GL="${MUJOCO_GL:-osmesa}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-osmesa}"
  "$VENV/bin/ifgrasp" demo
fi
