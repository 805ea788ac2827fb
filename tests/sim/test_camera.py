"""Simulated RGB-D camera: intrinsics, extrinsics and depth checked together by back-projection
against geometry placed at known poses; object and part labels per pixel."""

import numpy as np
import pytest
import trimesh

from ifgrasp.sim.camera import SimRGBDCamera
from ifgrasp.sim.frames import look_at_T_base_camera
from ifgrasp.sim.objects import make_object
from ifgrasp.sim.scene import build_scene
from ifgrasp.sim.scene_config import SceneConfig
from ifgrasp.types import CameraIntrinsics, RGBDFrame


def _cfg(objects=(), robot=False) -> SceneConfig:
    base = SceneConfig.default()
    return base.replace(objects=list(objects), robot={**base.robot.model_dump(), "enabled": robot})


def _backproject(frame: RGBDFrame, mask: np.ndarray) -> np.ndarray:
    """(N, 3) base-frame points of the masked valid pixels: independent pinhole reference."""
    k = frame.intrinsics
    v, u = np.nonzero(mask & (frame.depth_m > 0))
    z = frame.depth_m[v, u].astype(np.float64)
    p = np.stack([(u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z], axis=1)  # (N, 3) optical
    return p @ frame.T_base_camera[:3, :3].T + frame.T_base_camera[:3, 3]


def _to_object(points_base: np.ndarray, T_base_object: np.ndarray) -> np.ndarray:
    T_inv = np.linalg.inv(T_base_object)
    return points_base @ T_inv[:3, :3].T + T_inv[:3, 3]


def test_table_plane_with_off_centre_intrinsics():
    """fx != fy and a principal point 20 px off centre: table pixels back-project onto z = 0."""
    scene = build_scene(_cfg())
    k = CameraIntrinsics(width=320, height=240, fx=300.0, fy=320.0, cx=140.0, cy=135.0)
    T = look_at_T_base_camera([0.9, -0.3, 0.5], [0.4, 0.05, 0.0])
    frame = SimRGBDCamera(scene, k, T).render()
    pts = _backproject(frame, frame.object_ids == -1)
    on_table = pts[(pts[:, 2] > -0.2) & (pts[:, 0] < 0.85) & (np.abs(pts[:, 1]) < 0.65)]
    assert len(on_table) > 0.5 * k.width * k.height
    assert np.abs(on_table[:, 2]).max() < 2e-3
    # the image centre row/column really is at (cx, cy): the optical axis hits the look-at target
    z0 = frame.depth_m[int(k.cy), int(k.cx)]
    hit = T[:3, :3] @ np.array([0.0, 0.0, z0]) + T[:3, 3]
    assert np.linalg.norm(hit - [0.4, 0.05, 0.0]) < 3e-3


def test_box_points_lie_on_box_surface_and_top_face():
    box = make_object("box", 0)
    lo, hi = box.mesh.bounds
    scene = build_scene(_cfg([{"category": "box", "seed": 0, "x_m": 0.45, "y_m": -0.05, "yaw_rad": 0.3}]))
    frame = SimRGBDCamera(scene).render()
    mask = frame.object_ids == 0
    assert mask.sum() > 500
    p = _to_object(_backproject(frame, mask), scene.object_pose(scene.object_names[0]))
    c, h = (lo + hi) / 2, (hi - lo) / 2
    sdf = np.max(np.abs(p - c) - h, axis=1)  # box signed distance for points near the surface, (N,)
    assert np.percentile(np.abs(sdf), 95) < 2e-3
    assert np.abs(sdf).max() < 6e-3
    top = np.abs(p[:, 2] - hi[2]) < 2e-3
    assert top.sum() > 200  # the camera looks down on the top face
    assert np.all(np.abs(p[top, :2] - c[:2]) <= h[:2] + 2e-3)


def test_mug_handle_pixels_carry_handle_part():
    mug = make_object("mug", 0)
    # Handle along the mug's +x? find its direction from the handle pieces and turn it to the camera.
    handle = mug.part_index("handle")
    hpts = np.concatenate([m.vertices for m, part in mug.collision_pieces if part == handle])
    handle_dir = np.arctan2(hpts[:, 1].mean(), hpts[:, 0].mean())
    cam_dir = np.arctan2(-0.5 - 0.0, 1.05 - 0.45)  # from the mug towards the default camera
    placement = {"category": "mug", "seed": 0, "x_m": 0.45, "y_m": 0.0, "yaw_rad": float(cam_dir - handle_dir)}
    scene = build_scene(_cfg([placement]))
    frame = SimRGBDCamera(scene).render()
    is_handle = (frame.object_ids == 0) & (frame.part_ids == handle)
    assert is_handle.sum() > 100
    assert ((frame.object_ids == 0) & (frame.part_ids == mug.part_index("body"))).sum() > is_handle.sum()
    p = _to_object(_backproject(frame, is_handle), scene.object_pose(scene.object_names[0]))
    handle_mesh = trimesh.util.concatenate([m for m, part in mug.collision_pieces if part == handle])
    body_mesh = trimesh.util.concatenate([m for m, part in mug.collision_pieces if part != handle])
    p = p[:: max(1, len(p) // 300)]
    d_handle = trimesh.proximity.closest_point(handle_mesh, p)[1]
    d_body = trimesh.proximity.closest_point(body_mesh, p)[1]
    assert np.median(d_handle) < 2e-3
    assert np.mean(d_handle < d_body) > 0.9
    assert np.all(frame.part_ids[frame.object_ids == -1] == -1)


def test_object_ids_match_object_names():
    placements = [
        {"category": "box", "seed": 0, "x_m": 0.40, "y_m": -0.18, "yaw_rad": 0.0},
        {"category": "cylinder", "seed": 1, "x_m": 0.50, "y_m": 0.15, "yaw_rad": 0.0},
    ]
    scene = build_scene(_cfg(placements))
    frame = SimRGBDCamera(scene).render()
    assert set(np.unique(frame.object_ids)) == {-1, 0, 1}
    for i, name in enumerate(scene.object_names):
        assert name.startswith(placements[i]["category"])
        centre = _backproject(frame, frame.object_ids == i)[:, :2].mean(axis=0)
        assert np.linalg.norm(centre - scene.object_pose(name)[:2, 3]) < 0.06


def test_frame_shapes_dtypes_and_robot_is_unlabelled():
    scene = build_scene(_cfg(robot=True))
    frame = SimRGBDCamera(scene).render()
    assert frame.color.shape == (480, 640, 3) and frame.color.dtype == np.uint8
    assert frame.depth_m.shape == (480, 640) and frame.depth_m.dtype == np.float32
    assert frame.object_ids.dtype == np.int32 and frame.part_ids.dtype == np.int32
    assert np.all(frame.object_ids == -1) and np.all(frame.part_ids == -1)
    assert frame.depth_m.min() >= 0 and 0.3 < np.median(frame.depth_m[frame.depth_m > 0]) < 3.0
    np.testing.assert_allclose(frame.T_base_camera, scene.cfg.camera.T_base_camera)


def test_bad_pose_and_unknown_camera_are_refused():
    scene = build_scene(_cfg())
    with pytest.raises(Exception, match="rigid transform"):
        SimRGBDCamera(scene, T_base_camera=np.diag([1.0, 1.0, -1.0, 1.0]))
    with pytest.raises(Exception, match="known: overview, realsense"):
        SimRGBDCamera(scene, camera_name="kinect")
