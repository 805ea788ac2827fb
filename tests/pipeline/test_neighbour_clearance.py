"""The planned approaches keep the hand off the other objects, and the opened hand off its own
target until it closes, judged by MuJoCo's own collision detection (independent of the planner's
model): plans for the student's mug-handle grasps on the default scene are replayed kinematically
(arm along the approach with the hand opening into its pre-shape, the hand closing to the squeeze,
the lift). Before the exact hand boxes and the distance-based path sampling, 9 of 40 accepted plans
put the index finger into the box's top; a grasp whose opened hand meets the mug on the way in
shoves it before closing (the ROS graph's mug-handle lift then jammed: docs/experiments.md)."""

import mujoco
import numpy as np
import pytest

from ifgrasp.paths import MODELS_DIR

# the pipeline's default generator (the distilled flow at its own 4 steps). With student.pt at 8 DDIM steps
# 1 of 23 accepted plans (seed 0, candidate 3) slid index_distal 2 mm into the box's bottom edge on the side
# the camera does not see, in most sessions: a gap the cloud cannot show (docs/experiments.md, third session)
STUDENT = MODELS_DIR / "student" / "student_flow.pt"
SEEDS = range(8)  # student seeds; planned as generated, 2 of 8 first feasible plans push 14-21 mm into the mug
pytestmark = pytest.mark.skipif(not STUDENT.is_file(), reason="trained student models/student/student_flow.pt missing")


class Replay:
    """The world's scene at its start, posed kinematically in a copy of its MuJoCo data."""

    def __init__(self, world, category: str) -> None:
        sc = self.sc = world.scene
        m = self.m = sc.model
        self.d = mujoco.MjData(m)  # a copy: the world's own data keeps running under its drivers
        with world.lock:
            self.d.qpos[:] = sc.data.qpos
        self.qpos0 = self.d.qpos.copy()
        self.target = next(i for i, o in enumerate(sc.objects) if o.category == category)
        self.arm = np.array([m.jnt_qposadr[m.joint(n).id] for n in sc.arm_joint_names])
        self.hand = np.array([m.jnt_qposadr[m.joint(n).id] for n in sc.hand_joint_names])
        self.robot = (sc.geom_object < 0) & (m.geom_bodyid != 0)
        self.open_q = world.hand.q_open_rad

    def contacts(self, q_arm, q_hand, objects: np.ndarray) -> list[tuple[str, str, float]]:
        """(object, robot body, depth m) of the robot's contacts with geoms where ``objects`` (G,) is
        True (an object's name, or for robot geoms their body's)."""
        m, d, sc = self.m, self.d, self.sc
        d.qpos[:] = self.qpos0
        d.qpos[self.arm], d.qpos[self.hand] = q_arm, q_hand
        mujoco.mj_forward(m, d)
        out = []
        for c in d.contact[: d.ncon]:
            for a, b in ((c.geom1, c.geom2), (c.geom2, c.geom1)):
                if objects[a] and self.robot[b]:
                    out.append((sc.object_names[sc.geom_object[a]] if sc.geom_object[a] >= 0 else
                                mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, m.geom_bodyid[a]),
                                mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, m.geom_bodyid[b]), -float(c.dist)))
        return out

    def approach(self, plan):
        """(arm q, hand q) along the approach, the hand opening into its pre-shape over ``CLOSE_S``."""
        from ifgrasp.hand.joints import CLOSE_S, pregrasp

        pre = pregrasp(plan.hand_joints_rad)
        return [(q, self.open_q + min(t / CLOSE_S, 1.0) * (pre - self.open_q))
                for t, q in zip(plan.approach.times_s, plan.approach.q)]


def perceive(world, instruction):
    from ifgrasp.pipeline.stages import PerceiveStage, ground, sim_oracle_backend

    world.reset()
    g = ground(instruction)
    return g, PerceiveStage(sim_oracle_backend(world.objects()))(world.render(), g)


def student_batch(p, seed):
    from ifgrasp.pipeline.generator import make_generator
    from ifgrasp.pipeline.stages import GenerateStage

    gen = make_generator("diffusion", model_path=str(STUDENT), seed=seed)
    return GenerateStage(gen, 16)(p.cloud, p.T_base_camera)


def test_accepted_plans_keep_the_hand_off_the_neighbours_and_the_arm_off_itself(world):
    """Also no arm link against another or the hand: a wrist folded onto the forearm (joint6 at its
    limit, link6 on link4) stopped the lift 0.12-0.15 rad short in 3 of 6 in-process and every
    first ROS mug-handle run before the planner checked the robot's own geometry."""
    from ifgrasp.errors import KinematicsError
    from ifgrasp.hand.joints import pregrasp, squeezed
    from ifgrasp.planning import GraspPlanner

    g, p = perceive(world, "pick up the mug by its handle")
    r = Replay(world, g.category)
    neighbour = (r.sc.geom_object >= 0) & (r.sc.geom_object != r.target)
    names = [mujoco.mj_id2name(r.m, mujoco.mjtObj.mjOBJ_BODY, b) or "" for b in r.m.geom_bodyid]
    arm_link = r.robot & np.array([n.startswith("link") for n in names])  # (G,) xArm link geoms
    q0 = world.arm_q()
    planner = GraspPlanner()
    accepted, bad = 0, []
    for seed in (0, 1):
        batch = student_batch(p, seed)
        for i in range(len(batch)):
            try:
                plan = planner.plan(q0, batch.T_frame_wrist[i:i + 1], batch.joints_rad[i:i + 1], p.scene_base_m)
            except KinematicsError:  # unreachable or blocked
                continue
            accepted += 1
            pre, sq = pregrasp(plan.hand_joints_rad), squeezed(plan.hand_joints_rad)
            steps = r.approach(plan)
            steps += [(plan.q_grasp, pre + a * (sq - pre)) for a in np.linspace(0, 1, 11)]
            steps += [(q, sq) for q in plan.lift.q]
            hits = {f"{o}:{b}" for qa, qh in steps for o, b, _ in r.contacts(qa, qh, neighbour)}
            hits |= {f"{o}:{b}" for qa, _ in steps for o, b, _ in r.contacts(qa, r.open_q * 0, arm_link)}
            if hits:
                bad.append((seed, i, sorted(hits)))
    assert accepted >= 8, f"only {accepted} plans accepted: the check is too strict to test"
    assert not bad, f"{len(bad)} of {accepted} accepted plans touch a neighbour or the arm itself: {bad}"


def test_the_opened_hand_reaches_the_grasp_without_shoving_the_target(world):
    """The pipeline's planning order (clear grasps first, then the planner's first feasible one):
    the pre-shaped hand touches the mug at most 1 mm deep on its way in, for each student seed."""
    from ifgrasp.perception import transform_points
    from ifgrasp.planning import GraspPlanner
    from ifgrasp.planning.approach import clear_of_target_first

    g, p = perceive(world, "pick up the mug by its handle")
    r = Replay(world, g.category)
    mug = r.sc.geom_object == r.target
    target = transform_points(p.T_base_camera, p.cloud.points_m)
    q0, planner = world.arm_q(), GraspPlanner()
    pipe = world.pipeline(None)
    deep = []
    for seed in SEEDS:
        batch = student_batch(p, seed)
        order = clear_of_target_first(batch, target, planner.config.pregrasp_offset_m, pipe.target_margin_m)
        b = batch.select(order)
        plan = planner.plan(q0, b.T_frame_wrist, b.joints_rad, p.scene_base_m)
        depth = max((c[2] for qa, qh in r.approach(plan) for c in r.contacts(qa, qh, mug)), default=0.0)
        if depth > 0.001:
            deep.append((seed, int(order[plan.candidate]), round(1000 * depth, 1)))
    assert not deep, f"(seed, candidate, mm deep) of opened hands pushing into the mug: {deep}"
