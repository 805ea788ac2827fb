"""RViz markers of grasp candidates: for each of the top ``n``, the wrist frame as three axis arrows
(x red, y green, z blue) and the four fingertips (index, middle, ring, thumb; ``LeapHandModel.fingertips``)
as spheres, in the candidates' frame (the base frame), the best drawn most opaque.

``visualization_msgs`` is imported by the caller (an optional wheel on the PyPI install).
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header

from ifgrasp.types import GraspBatch

AXIS_LENGTH_M, AXIS_WIDTH_M, TIP_DIAMETER_M = 0.05, 0.006, 0.015
NAMESPACE = "grasp_candidates"


def fingertips_m(batch: GraspBatch, hand=None) -> np.ndarray:
    """(B, 4, 3) fingertip points (index, middle, ring, thumb) in ``batch.frame``, metres."""
    import torch

    from ifgrasp.hand.model import shared_hand_model

    hand = hand or shared_hand_model()  # built once per process, not per request
    with torch.no_grad():
        tips = hand.fingertips(torch.as_tensor(batch.wrist_pos_m, dtype=torch.float32),
                               torch.as_tensor(batch.wrist_rot, dtype=torch.float32),
                               torch.as_tensor(batch.joints_rad, dtype=torch.float32))
    return tips.numpy().astype(np.float64)


def grasp_marker_array(batch: GraspBatch, header: Header, n: int = 5, hand=None):
    """visualization_msgs/MarkerArray: a DELETEALL, then per candidate ``i < n`` three ARROW markers
    (ids 4i..4i+2) and one SPHERE_LIST of fingertips (id 4i+3)."""
    from visualization_msgs.msg import Marker, MarkerArray

    top = batch.select(np.arange(min(n, len(batch))))
    out = MarkerArray(markers=[Marker(header=header, ns=NAMESPACE, action=Marker.DELETEALL)])
    if len(top) == 0:
        return out
    tips = fingertips_m(top, hand)  # (n, 4, 3)
    ends = top.wrist_pos_m[:, None, :] + AXIS_LENGTH_M * np.swapaxes(top.wrist_rot, 1, 2)  # (n, 3 axes, 3)
    rgb = np.eye(3)
    for i in range(len(top)):  # messages are built one by one; the geometry above is batched
        alpha = float(1.0 - 0.7 * i / max(len(top) - 1, 1))
        start = Point(x=float(top.wrist_pos_m[i, 0]), y=float(top.wrist_pos_m[i, 1]), z=float(top.wrist_pos_m[i, 2]))
        for a in range(3):
            m = Marker(header=header, ns=NAMESPACE, id=4 * i + a, type=Marker.ARROW, action=Marker.ADD)
            m.points = [start, Point(x=float(ends[i, a, 0]), y=float(ends[i, a, 1]), z=float(ends[i, a, 2]))]
            m.scale.x, m.scale.y, m.scale.z = AXIS_WIDTH_M, 2 * AXIS_WIDTH_M, 0.0
            m.pose.orientation.w = 1.0
            m.color = ColorRGBA(r=float(rgb[a, 0]), g=float(rgb[a, 1]), b=float(rgb[a, 2]), a=alpha)
            out.markers.append(m)
        m = Marker(header=header, ns=NAMESPACE, id=4 * i + 3, type=Marker.SPHERE_LIST, action=Marker.ADD)
        m.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in tips[i]]
        m.scale.x = m.scale.y = m.scale.z = TIP_DIAMETER_M
        m.pose.orientation.w = 1.0
        m.color = ColorRGBA(r=1.0, g=0.8, b=0.1, a=alpha)
        out.markers.append(m)
    return out
