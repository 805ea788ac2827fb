"""IK benchmark: solve rate and time on random reachable flange poses (FK of random q in limits).

    python -m ifgrasp.arm.bench            # 1,000 poses, prints the dict
"""

from __future__ import annotations

import time

import numpy as np

from ifgrasp.arm.kinematics import Xarm7Kinematics


def ik_benchmark(n_poses: int = 1000, seed: int = 0, kin: Xarm7Kinematics | None = None) -> dict:
    """Solve each pose alone (latency) and all at once (throughput); times in milliseconds / seconds.

    Returns ``solve_rate`` (single calls), ``median_ms`` / ``p95_ms`` per single pose,
    ``batched_solve_rate``, ``batched_s_per_1000`` (one call for all poses, scaled to 1,000),
    ``max_pos_err_m`` / ``max_rot_err_rad`` over the solved poses, and ``fk_us_per_pose``
    (FK of the whole batch, per pose).
    """
    kin = kin or Xarm7Kinematics()
    rng = np.random.default_rng(seed)
    q = rng.uniform(kin.lower, kin.upper, size=(n_poses, kin.dof))  # (N, 7)
    t0 = time.perf_counter()
    T = kin.fk(q)  # (N, 4, 4)
    fk_s = time.perf_counter() - t0

    times, ok, pos, rot = np.empty(n_poses), np.empty(n_poses, bool), np.empty(n_poses), np.empty(n_poses)
    for i in range(n_poses):  # latency: one target per call, as the planner asks
        t0 = time.perf_counter()
        res = kin.ik(T[i], seed=seed + i)
        times[i] = time.perf_counter() - t0
        ok[i], pos[i], rot[i] = res.success[0], res.pos_err_m[0], res.rot_err_rad[0]

    t0 = time.perf_counter()
    batch = kin.ik(T, seed=seed)
    batched_s = time.perf_counter() - t0
    return {
        "n_poses": n_poses,
        "solve_rate": float(ok.mean()),
        "median_ms": float(np.median(times) * 1e3),
        "p95_ms": float(np.percentile(times, 95) * 1e3),
        "max_pos_err_m": float(pos[ok].max()) if ok.any() else float("nan"),
        "max_rot_err_rad": float(rot[ok].max()) if ok.any() else float("nan"),
        "batched_solve_rate": float(batch.success.mean()),
        "batched_s_per_1000": float(batched_s * 1000.0 / n_poses),
        "fk_us_per_pose": float(fk_s * 1e6 / n_poses),
    }


if __name__ == "__main__":  # pragma: no cover
    for key, value in ik_benchmark().items():
        print(f"{key:>20}: {value:.4g}" if isinstance(value, float) else f"{key:>20}: {value}")
