"""The planner's approaches keep the hand off the other objects, judged by MuJoCo's own collision
detection (independent of the planner's model): every plan accepted for the student's mug-handle
grasps on the default scene is replayed kinematically (arm along the approach with the hand opening
into its pre-shape, the hand closing to the squeeze, the lift) and no robot geom may touch a
neighbour. Before the exact hand boxes and the distance-based path sampling, 9 of 40 accepted
plans put the index finger into the box's top (docs/experiments.md)."""

import mujoco
import numpy as np
import pytest

from ifgrasp.paths import MODELS_DIR

STUDENT = MODELS_DIR / "student" / "student.pt"
pytestmark = pytest.mark.skipif(not STUDENT.is_file(), reason="trained student models/student/student.pt missing")


def test_accepted_plans_keep_the_hand_off_the_neighbours(world):
    from ifgrasp.hand.joints import CLOSE_S, pregrasp, squeezed
    from ifgrasp.pipeline.generator import make_generator
    from ifgrasp.pipeline.stages import GenerateStage, PerceiveStage, ground, sim_oracle_backend
    from ifgrasp.planning import GraspPlanner
    from ifgrasp.errors import KinematicsError

    world.reset()
    sc = world.scene
    m = sc.model
    d = mujoco.MjData(m)  # a copy: the world's own data keeps running under its drivers
    with world.lock:
        d.qpos[:] = sc.data.qpos
    g = ground("pick up the mug by its handle")
    target = next(i for i, o in enumerate(sc.objects) if o.category == g.category)
    p = PerceiveStage(sim_oracle_backend(world.objects()))(world.render(), g)
    q0 = world.arm_q()
    arm = np.array([m.jnt_qposadr[m.joint(n).id] for n in sc.arm_joint_names])
    hand = np.array([m.jnt_qposadr[m.joint(n).id] for n in sc.hand_joint_names])
    robot = (sc.geom_object < 0) & (m.geom_bodyid != 0)
    neighbour = (sc.geom_object >= 0) & (sc.geom_object != target)
    qpos0 = d.qpos.copy()

    def touching(q_arm, q_hand) -> set[str]:
        d.qpos[:] = qpos0
        d.qpos[arm], d.qpos[hand] = q_arm, q_hand
        mujoco.mj_forward(m, d)
        g1, g2 = d.contact.geom1[: d.ncon], d.contact.geom2[: d.ncon]
        hit = (robot[g1] & neighbour[g2]) | (robot[g2] & neighbour[g1])
        return {sc.object_names[sc.geom_object[x]] + ":" + mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, m.geom_bodyid[y])
                for a, b in zip(g1[hit], g2[hit]) for x, y in ((a, b) if neighbour[a] else (b, a),)}

    planner = GraspPlanner()
    accepted, bad = 0, []
    for seed in (0, 1):
        gen = make_generator("diffusion", model_path=str(STUDENT), steps=8, seed=seed)
        batch = GenerateStage(gen, 16)(p.cloud, p.T_base_camera)
        for i in range(len(batch)):
            try:
                plan = planner.plan(q0, batch.T_frame_wrist[i:i + 1], batch.joints_rad[i:i + 1], p.scene_base_m)
            except KinematicsError:  # unreachable or blocked
                continue
            accepted += 1
            pre, sq = pregrasp(plan.hand_joints_rad), squeezed(plan.hand_joints_rad)
            open_q = world.hand.q_open_rad
            steps = [(q, open_q + min(t / CLOSE_S, 1.0) * (pre - open_q))
                     for t, q in zip(plan.approach.times_s, plan.approach.q)]
            steps += [(plan.q_grasp, pre + a * (sq - pre)) for a in np.linspace(0, 1, 11)]
            steps += [(q, sq) for q in plan.lift.q]
            hits = set().union(*(touching(qa, qh) for qa, qh in steps))
            if hits:
                bad.append((seed, i, sorted(hits)))
    assert accepted >= 8, f"only {accepted} plans accepted: the check is too strict to test"
    assert not bad, f"{len(bad)} of {accepted} accepted plans touch a neighbour: {bad}"
