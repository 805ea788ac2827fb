"""Test-wide settings: headless rendering, loopback-only DDS, deterministic seeds."""

import os

os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.load_profile("ci")


def pinned_checkpoint(path):
    """A tiny GraspDiffusion whose samples are a palm-down grasp 7 cm above the part centre (camera frame)."""
    import torch

    from ifgrasp.arm import Xarm7Kinematics
    from ifgrasp.geometry import matrix_to_rot6d
    from ifgrasp.grasp.diffusion.policy import GraspDiffusion
    from ifgrasp.grasp.diffusion.train import save_checkpoint
    from ifgrasp.sim.scene_config import SceneConfig

    cfg = SceneConfig.default()
    R_cb = cfg.camera.T_base_camera[:3, :3].T
    R_bh = Xarm7Kinematics().fk_hand(np.asarray(cfg.robot.arm_joints_rad))[0, :3, :3]
    mean = np.concatenate([R_cb @ [0.0, 0.0, 0.07], matrix_to_rot6d(R_cb @ R_bh), np.full(16, 0.5)])
    torch.manual_seed(0)
    model = GraspDiffusion(n_basis=32, width=32, depth=1, num_train_steps=10)
    model.set_normalizer(torch.as_tensor(np.tile(mean, (4, 1)), dtype=torch.float32))  # std clamped to 1e-3
    save_checkpoint(model, path)
    return path


@pytest.fixture
def pinned_model(tmp_path):
    """A tiny student checkpoint whose samples are a palm-down grasp above the part (see above)."""
    return pinned_checkpoint(tmp_path / "pinned.pt")
