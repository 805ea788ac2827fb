"""The IK benchmark runs on a few poses and reports consistent numbers."""

from ifgrasp.arm.bench import ik_benchmark


def test_ik_benchmark_small():
    out = ik_benchmark(n_poses=12, seed=3)
    assert out["n_poses"] == 12
    assert out["solve_rate"] == 1.0 and out["batched_solve_rate"] == 1.0
    assert 0 < out["median_ms"] <= out["p95_ms"]
    assert out["max_pos_err_m"] <= 1e-3 and out["max_rot_err_rad"] <= 1e-2
    assert out["batched_s_per_1000"] > 0 and out["fk_us_per_pose"] > 0
