"""Grasp planning on the xArm7 + LEAP: reachable grasps give trajectories that start at the current
configuration, reach the grasp pose (checked by FK), stay inside the limits and lift by the asked
height; unreachable and blocked grasps raise their own errors; collisions against independent
geometry (spheres vs the table plane and points placed on the arm)."""

import numpy as np
import pytest

from ifgrasp.errors import KinematicsError
from ifgrasp.planning import (ArmCollisionModel, CloudObstacle, CollisionError, GraspPlanner, PlannerConfig,
                              UnreachableGraspError)

Q_READY = np.array([0.0, -0.60, 0.0, 0.915, 0.0, 1.516, 0.0])  # config/scene.yaml


@pytest.fixture(scope="module")
def planner():
    return GraspPlanner(PlannerConfig(dt_s=0.02))


def top_down_grasp(planner, xyz):
    T = planner.kin.fk_hand(Q_READY)[0]  # palm facing down at the ready pose
    T[:3, 3] = xyz
    return T[None]


def test_plan_reaches_grasp_and_lifts(planner):
    T = top_down_grasp(planner, [0.45, 0.05, 0.12])
    plan = planner.plan(Q_READY, T, np.zeros((1, 16)), lift_height_m=0.15)
    np.testing.assert_allclose(plan.approach.q[0], Q_READY)
    np.testing.assert_allclose(plan.approach.q[-1], plan.q_grasp)
    np.testing.assert_allclose(plan.lift.q[0], plan.q_grasp)
    T_g = planner.kin.fk_hand(plan.q_grasp)[0]
    T_l = planner.kin.fk_hand(plan.q_lift)[0]
    T_p = planner.kin.fk_hand(plan.q_pregrasp)[0]
    assert np.linalg.norm(T_g[:3, 3] - T[0, :3, 3]) < 0.004
    assert T_l[2, 3] - T_g[2, 3] == pytest.approx(0.15, abs=0.008)
    # pre-grasp is backed off along +z_hand (the palm faces -z): above the grasp for a top-down grasp
    assert T_p[2, 3] - T_g[2, 3] == pytest.approx(planner.config.pregrasp_offset_m, abs=0.008)
    for traj in (plan.approach, plan.lift):
        assert planner.kin.within_limits(traj.q).all()
        assert np.all(np.abs(traj.velocities()) <= planner.v_max * (1 + 1e-6))
        assert np.all(np.abs(traj.accelerations()) <= planner.a_max * (1 + 1e-6))
        assert not planner.collision.check(traj.q).any.any()


def test_candidates_tried_best_first_until_feasible(planner):
    T = np.concatenate([top_down_grasp(planner, [2.0, 0.0, 0.1]),  # out of reach
                        top_down_grasp(planner, [0.40, -0.1, 0.15])])
    plan = planner.plan(Q_READY, T, np.arange(32.0).reshape(2, 16) * 0.01)
    assert plan.candidate == 1
    np.testing.assert_allclose(plan.hand_joints_rad, np.arange(16, 32) * 0.01)


def test_unreachable_raises(planner):
    with pytest.raises(UnreachableGraspError, match="none of 1 grasp candidates is reachable"):
        planner.plan(Q_READY, top_down_grasp(planner, [1.5, 0.0, 0.2]), np.zeros((1, 16)))
    assert issubclass(UnreachableGraspError, KinematicsError)


def test_grasp_below_table_collides(planner):
    with pytest.raises(CollisionError, match="collide"):
        planner.plan(Q_READY, top_down_grasp(planner, [0.45, 0.0, 0.0]), np.zeros((1, 16)))


def test_cloud_wall_blocks_approach_but_target_points_do_not(planner):
    T = top_down_grasp(planner, [0.45, 0.05, 0.12])
    # a full scene cloud (the target's own points included) needs the exclusion ball: plan succeeds
    rng = np.random.default_rng(0)
    target = T[0, :3, 3] + rng.uniform(-0.03, 0.03, size=(300, 3))
    GraspPlanner(PlannerConfig(exclude_radius_m=0.12)).plan(Q_READY, T, np.zeros((1, 16)), cloud_base_m=target)
    # a slab of points between the ready pose and the pre-grasp blocks every path
    gx, gy = np.meshgrid(np.linspace(0.2, 0.7, 60), np.linspace(-0.3, 0.3, 60))
    slab = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, 0.32)], axis=1)
    with pytest.raises(CollisionError):
        planner.plan(Q_READY, T, np.zeros((1, 16)), cloud_base_m=slab)


def test_sphere_model_matches_link_frames_and_detects_points():
    model = ArmCollisionModel()
    rng = np.random.default_rng(1)
    q = rng.uniform(-1, 1, size=(5, 7))
    c = model.sphere_centres(q)  # (5, S, 3)
    frames, _ = model.kin.joint_frames(q)
    # link2's collision sphere sits at link2's origin (urdf/xarm7.urdf): frame 1 of the chain
    i = int(np.flatnonzero(np.isclose(model.radii_m, 0.06))[0])
    np.testing.assert_allclose(c[:, i], frames[:, 1, :3, 3], atol=1e-12)
    # batched == looped
    np.testing.assert_allclose(c, np.concatenate([model.sphere_centres(qi) for qi in q]), atol=1e-12)
    # a point at a sphere centre collides; the same cloud shifted 2 m away does not
    pts = c[0, [3, 20]]
    assert model.check(q[:1], CloudObstacle(pts)).cloud[0]
    assert not model.check(q[:1], CloudObstacle(pts + [2.0, 0.0, 0.0])).cloud[0]
    # table clearance equals the lowest sphere bottom
    rep = model.check(q)
    np.testing.assert_allclose(rep.min_table_clearance_m, (c[..., 2] - model.radii_m).min(axis=1))


def test_self_filter_drops_points_on_the_robot(planner):
    c = planner.collision.sphere_centres(Q_READY)[0]  # (S, 3)
    far = np.array([[0.3, 0.5, 0.2], [0.6, -0.4, 0.1]])
    kept = planner.self_filter(Q_READY, np.concatenate([c, far]))
    np.testing.assert_allclose(kept, far)
    # the arm's own points do not block its plan
    T = top_down_grasp(planner, [0.45, 0.05, 0.12])
    planner.plan(Q_READY, T, np.zeros((1, 16)), cloud_base_m=c)


def test_a_neighbour_next_to_the_grasp_is_an_obstacle(planner):
    """The scene cloud holds every object but the target (PerceiveStage leaves the target out), so
    no ball around the grasp is dropped: a neighbour 5 cm from the grasp, in the hand's way, blocks it, where
    the old 12 cm exclusion ball hid it (issue 24: the box knocked over beside the mug)."""
    T = top_down_grasp(planner, [0.45, 0.05, 0.12])
    rng = np.random.default_rng(2)
    neighbour = T[0, :3, 3] + [0.0, 0.0, 0.05] + rng.uniform(-0.01, 0.01, size=(200, 3))  # where the hand goes
    with pytest.raises(CollisionError):
        planner.plan(Q_READY, T, np.full((1, 16), 0.3), cloud_base_m=neighbour)
    GraspPlanner(PlannerConfig(exclude_radius_m=0.12)).plan(Q_READY, T, np.full((1, 16), 0.3), cloud_base_m=neighbour)


def test_fill_below_makes_the_unseen_underside_an_obstacle():
    from ifgrasp.planning.planner import fill_below

    top = np.array([[0.4, -0.2, 0.10], [0.5, 0.0, 0.003]])
    out = fill_below(top, 0.02)
    col = out[np.isclose(out[:, 0], 0.4)]
    assert len(out) == 2 + 4 and np.allclose(sorted(col[:, 2]), [0.02, 0.04, 0.06, 0.08, 0.10])
    assert np.array_equal(fill_below(top, 0.0), top)


def test_a_wrist_folded_onto_the_forearm_is_refused(planner):
    """joint6 at its lower limit with the elbow bent puts link6 on link4 (the robot's own URDF
    geometry, as MuJoCo compiles it): the simulated arm then stopped its lift 0.12-0.15 rad short.
    A grasp whose nearest IK solution folds the wrist so is refused, naming the arm."""
    from ifgrasp.planning.collision import SelfCollision

    folded = np.array([0.4845, 1.3933, -1.2844, 1.3953, -1.347, -1.69, -1.0484])
    check = SelfCollision()
    assert check.contacts(folded)[0] == [("link4", "link6")]
    assert not check.collides(Q_READY[None])[0]
    start = folded + np.array([0, 0, 0, 0, 0, 0.3, 0])  # the wrist a little less folded: free
    assert not check.collides(start[None])[0]
    with pytest.raises(CollisionError, match="arm against itself"):
        planner.plan(start, planner.kin.fk_hand(folded), np.zeros((1, 16)))
