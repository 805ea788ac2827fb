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

stamp_inputs() { cat pyproject.toml scripts/install.sh scripts/install_ros.sh 2>/dev/null | sha256sum | cut -c1-16; }
STAMP="$VENV/.ifgrasp-install-stamp"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$(stamp_inputs)" ]; then
  echo "[install] Python packages into .venv (torch 2.13.0 CPU build, MuJoCo, ...)"
  "${PIP[@]}" install --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  # torch first and pinned: an unpinned torch would pull the multi-GB CUDA build.
  "${PIP[@]}" install "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
  "${PIP[@]}" install -e ".[hardware,perception,dev]" 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import torch, mujoco, ifgrasp" || { echo "[install] Python install failed" >&2; exit 1; }
  if [ -f scripts/install_ros.sh ]; then
    echo "[install] ROS 2 Jazzy wheels and colcon build of ros2_ws/"
    VIRTUAL_ENV="$VENV" bash scripts/install_ros.sh
  fi
  stamp_inputs >"$STAMP"
else
  echo "[install] .venv is up to date"
fi

if ((RUN_DEMO)); then
  echo "[install] running the demo: .venv/bin/ifgrasp demo"
  export MUJOCO_GL="${MUJOCO_GL:-osmesa}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-osmesa}"
  "$VENV/bin/ifgrasp" demo
fi
