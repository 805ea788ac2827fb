#!/usr/bin/env bash
# Dataset v3 (issue 21, item 4): the teacher's functional tasks, synthesised with synthesis v3 and
# labelled by the judge in ifgrasp.grasp.validate, into data/teacher_v3. Resumable and idempotent:
# every round adds one shard per (object, task) of each group before the next round starts, so a run
# stopped at any point (Ctrl-C, kill: finished shards stay) leaves every task with about as many
# shards, and the same command resumes. Background use on a shared machine:
#   nohup nice -n 19 bash scripts/teacher_v3.sh > out/teacher_v3.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MUJOCO_GL=${MUJOCO_GL:-osmesa}
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-data/teacher_v3}
ROUNDS=${ROUNDS:-40}
# (categories, parts): the functional tasks of issue 21
TASK_GROUPS=("knife,hammer,frying_pan,teapot,mug handle" "spray_bottle trigger" "power_drill grip" "bottle body,cap")
for r in $(seq 1 "$ROUNDS"); do
  for g in "${TASK_GROUPS[@]}"; do
    set -- $g
    echo "== round $r: $1 / $2 ($(date -u +%H:%M:%S))"
    PYTHONPATH=src $PY -m ifgrasp.cli synth --out "$OUT" --rounds "$r" --categories "$1" --parts "$2"
  done
done
