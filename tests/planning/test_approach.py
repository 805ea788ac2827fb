"""Does the opened hand touch its own target on the final approach? A top-down grasp (the hand
comes straight down from its pre-grasp) against horizontal sheets of points, where the answer is
plain geometry against the hand's lowest and highest surface points (sampled independently of the
swept-box test); and the planning order that puts clear grasps first."""

import numpy as np
import pytest
import torch

from ifgrasp.arm import Xarm7Kinematics
from ifgrasp.hand.joints import pregrasp
from ifgrasp.hand.model import LeapHandModel
from ifgrasp.planning.approach import approach_touches, clear_of_target_first
from ifgrasp.types import GraspBatch

Q_READY = np.array([0.0, -0.60, 0.0, 0.915, 0.0, 1.516, 0.0])  # config/scene.yaml
OFFSET = 0.10


@pytest.fixture(scope="module")
def grasp():
    """A palm-down grasp at 0.2 m and the pre-shaped hand's lowest and highest surface z there."""
    T = Xarm7Kinematics().fk_hand(Q_READY)[0]
    T[:3, 3] = [0.45, 0.05, 0.20]
    q = np.full((1, 16), 0.6)
    f = dict(dtype=torch.float32)
    surf = LeapHandModel(n_surface_points=20000).surface_points(
        torch.as_tensor(T[None, :3, 3], **f), torch.as_tensor(T[None, :3, :3], **f),
        torch.as_tensor(pregrasp(q), **f))[0].numpy()
    return T[None], q, float(surf[:, 2].min()), float(surf[:, 2].max())


def sheet(z: float, half: float = 0.2, step: float = 0.004) -> np.ndarray:
    g = np.arange(-half, half + 1e-9, step)
    x, y = np.meshgrid(0.45 + g, 0.05 + g)
    return np.c_[x.ravel(), y.ravel(), np.full(x.size, z)]


def test_a_sheet_just_below_the_grasp_is_touched_only_within_the_margin(grasp):
    T, q, low, _ = grasp
    below = sheet(low - 0.003)
    assert approach_touches(T, q, below, OFFSET, 0.005)[0]
    assert not approach_touches(T, q, below, OFFSET, 0.001)[0]
    assert not approach_touches(T, q, sheet(low - 0.05), OFFSET, 0.005)[0]


def test_points_the_opened_hand_passes_through_count_and_points_it_never_reaches_do_not(grasp):
    T, q, low, high = grasp
    crossed = sheet(low + 0.03)  # the hand's lowest point passes this height on its way down
    assert approach_touches(T, q, crossed, OFFSET, 0.0)[0]
    T_up = T.copy()
    T_up[0, 2, 3] += 0.04  # the same grasp 4 cm higher ends its approach above the sheet
    assert not approach_touches(T_up, q, crossed, OFFSET, 0.0)[0]
    assert approach_touches(T, q, sheet(high + OFFSET - 0.01), OFFSET, 0.0)[0]  # the hand's top at the pre-grasp
    assert not approach_touches(T, q, sheet(high + OFFSET + 0.01), OFFSET, 0.005)[0]
    assert not approach_touches(T, q, np.zeros((0, 3)), OFFSET, 0.005)[0]


def test_clear_grasps_are_planned_first_in_their_own_order(grasp):
    T, q, low, _ = grasp
    pts = sheet(low - 0.05)
    pushed = T.copy()
    pushed[0, 2, 3] -= 0.06  # this one ends its approach 1 cm into the sheet
    Ts = np.concatenate([pushed, T, pushed, T])
    batch = GraspBatch(Ts[:, :3, 3], Ts[:, :3, :3], np.repeat(q, 4, 0), frame="base", scores=np.arange(4.0)[::-1])
    assert clear_of_target_first(batch, pts, OFFSET, 0.005).tolist() == [1, 3, 0, 2]
    assert clear_of_target_first(batch, pts, OFFSET, 0.0).tolist() == [0, 1, 2, 3]  # 0: off
