#!/usr/bin/env bash
# Run the whole test suite (installs first if needed; a no-op when .venv is up to date).
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh tests/hand # a part; any pytest arguments pass through
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --no-demo
export MUJOCO_GL="${MUJOCO_GL:-osmesa}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-osmesa}"
# Every DDS process stays on loopback (tests also give each graph its own ROS_DOMAIN_ID).
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
if [ -f install/setup.bash ]; then
  set +u; . install/setup.bash; set -u
fi
exec .venv/bin/python -m pytest "$@"
