"""Pictures of the pipeline's stages (the demo writes them): grasp candidates and the planned hand
path projected into the camera image, the arm at planned configurations rendered from the overview
camera, and which object parts the robot touches in MuJoCo.

Frames: points are given in the base frame (metres) and projected with the frame's
``T_base_camera`` (optical frame: x right, y down, z forward) and pinhole intrinsics.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from ifgrasp.sim.viz import LABEL_COLORS, caption
from ifgrasp.types import CameraIntrinsics, GraspBatch


def project(points_base_m: np.ndarray, T_base_camera: np.ndarray, k: CameraIntrinsics) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) base-frame points -> (N, 2) pixel (u, v) and (N,) bool in front of the camera and inside."""
    T_cb = np.linalg.inv(T_base_camera)
    p = points_base_m @ T_cb[:3, :3].T + T_cb[:3, 3]  # (N, 3) camera frame
    z = np.where(p[:, 2] > 1e-6, p[:, 2], np.nan)
    uv = np.stack([k.fx * p[:, 0] / z + k.cx, k.fy * p[:, 1] / z + k.cy], -1)  # (N, 2)
    ok = np.isfinite(uv).all(1) & (uv[:, 0] >= 0) & (uv[:, 0] < k.width) & (uv[:, 1] >= 0) & (uv[:, 1] < k.height)
    return uv, ok


def hand_points_base(grasps_base: GraspBatch, n: int, hand=None) -> np.ndarray:
    """(min(n, B), P, 3) LEAP surface points of the first ``n`` grasps, base frame."""
    import torch

    from ifgrasp.hand.model import LeapHandModel

    hand = hand or LeapHandModel(n_surface_points=400)
    g = grasps_base.select(np.arange(min(n, len(grasps_base))))
    with torch.no_grad():
        pts = hand.surface_points(torch.as_tensor(g.wrist_pos_m, dtype=torch.float32),
                                  torch.as_tensor(g.wrist_rot, dtype=torch.float32),
                                  torch.as_tensor(g.joints_rad, dtype=torch.float32))
    return pts.numpy().astype(np.float64)


def draw_grasps(color: np.ndarray, grasps_base: GraspBatch, T_base_camera: np.ndarray, k: CameraIntrinsics,
                n: int = 4, chosen: int | None = None) -> np.ndarray:
    """The colour image with the hand surface of the top ``n`` grasps as dots (one colour each, the
    ``chosen`` one largest), and a legend line with their scores."""
    pts = hand_points_base(grasps_base, n)  # (n, P, 3)
    img = Image.fromarray(color.copy())
    draw = ImageDraw.Draw(img)
    for i in reversed(range(len(pts))):  # best drawn last, on top
        uv, ok = project(pts[i], T_base_camera, k)
        c = tuple(int(v) for v in LABEL_COLORS[i % len(LABEL_COLORS)])
        r = 2.5 if i == chosen else 1.5
        for u, v in uv[ok]:
            draw.ellipse([u - r, v - r, u + r, v + r], fill=c)
    scores = grasps_base.scores if grasps_base.scores is not None else np.full(len(grasps_base), np.nan)
    text = "  ".join(f"#{i} {scores[i]:.2f}" + (" (planned)" if i == chosen else "") for i in range(len(pts)))
    return caption(np.asarray(img), f"top {len(pts)} of {len(grasps_base)} grasp candidates, hand surface; score: {text}")


def draw_path(color: np.ndarray, paths_base: list[tuple[str, np.ndarray]], T_base_camera: np.ndarray,
              k: CameraIntrinsics, title: str) -> np.ndarray:
    """The colour image with each named (M, 3) base-frame polyline (e.g. the hand origin along the
    approach and the lift) drawn in its own colour, with a legend."""
    img = Image.fromarray(color.copy())
    draw = ImageDraw.Draw(img)
    for i, (name, xyz) in enumerate(paths_base):
        uv, ok = project(xyz, T_base_camera, k)
        c = tuple(int(v) for v in LABEL_COLORS[(2 * i + 1) % len(LABEL_COLORS)])
        line = [tuple(p) for p in uv[ok]]
        if len(line) > 1:
            draw.line(line, fill=c, width=3)
        if line:
            draw.ellipse([line[-1][0] - 4, line[-1][1] - 4, line[-1][0] + 4, line[-1][1] + 4], outline=c, width=2)
        draw.rectangle([8, 8 + 18 * i, 20, 20 + 18 * i], fill=c)
        draw.text((26, 8 + 18 * i), name, fill=(255, 255, 255))
    return caption(np.asarray(img), title)


def render_configurations(scene, configs: list[tuple[str, np.ndarray, np.ndarray | None]], camera: str = "overview",
                          size: tuple[int, int] = (480, 360)) -> np.ndarray:
    """Snapshots of the robot at planned configurations, side by side: ``configs`` = (caption, arm q (7,),
    hand q (16,) or None). Rendered on a copy of the scene's state (kinematics only, nothing moves)."""
    import mujoco

    data = mujoco.MjData(scene.model)
    data.qpos[:] = scene.data.qpos
    tiles = []
    with mujoco.Renderer(scene.model, height=size[1], width=size[0]) as r:
        for text, q_arm, q_hand in configs:
            data.qpos[scene.arm_qpos_adr] = q_arm
            if q_hand is not None:
                data.qpos[scene.hand_qpos_adr] = q_hand
            mujoco.mj_forward(scene.model, data)  # kinematics + camera poses
            r.update_scene(data, camera=camera)
            tiles.append(caption(r.render(), text))
    return np.concatenate(tiles, axis=1)
