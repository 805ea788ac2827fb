"""A shared simulated world (320x240 camera) and a scripted test generator: a top-down grasp 7 cm
above the instructed part's centroid (test scaffolding, not a grasp generator of the project)."""

import numpy as np
import pytest

from ifgrasp.types import GraspBatch


class TopDownGenerator:
    """``k`` copies of a palm-down grasp over the part centroid, in the camera frame."""

    def __init__(self, T_base_camera: np.ndarray, R_base_hand: np.ndarray, offset_base_m=(0.0, 0.0, 0.07)):
        self.T, self.R, self.offset = T_base_camera, R_base_hand, np.asarray(offset_base_m)

    def generate(self, cloud, k, T_base_camera=None):
        R_cb = self.T[:3, :3].T
        pos = cloud.points_m[cloud.part_mask].mean(0) + R_cb @ self.offset
        return GraspBatch(np.tile(pos, (k, 1)), np.tile(R_cb @ self.R, (k, 1, 1)), np.full((k, 16), 0.6),
                          frame="camera", scores=np.arange(k, dtype=float))


@pytest.fixture(scope="session")
def world():
    from ifgrasp.pipeline.sim import SimWorld

    w = SimWorld.build(width=320, height=240)
    yield w
    w.close()


@pytest.fixture
def topdown(world):
    from ifgrasp.arm import Xarm7Kinematics

    world.reset()
    R = Xarm7Kinematics().fk_hand(world.arm_q())[0][:3, :3]
    return TopDownGenerator(world.scene.cfg.camera.T_base_camera, R)
