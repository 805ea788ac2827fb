"""Where the LEAP Hand sits on the xArm7 flange: the fixed transform ``T_FLANGE_HAND``.

``T_FLANGE_HAND`` maps points in the hand's root frame (``palm`` of ``urdf/leap_hand_right.urdf``:
+x toward the fingertips, +y toward the thumb side, +z out of the back of the hand, palm facing -z)
into the flange frame (``link_eef``: z out of the flange face).

The choice, as on the usual LEAP-on-a-flange adapters:
* the back of the hand is bolted to a flat adapter plate ``ADAPTER_THICKNESS_M`` thick on the flange,
  so the palm faces along flange +z (hand z = -flange z): when the flange points down, the palm
  faces the table, ready for top-down grasps;
* the fingers point along flange +x (hand x = flange x, hence hand y = -flange y; a rotation of pi
  about x), so at the arm's zero configuration the fingers point forward (base +x);
* the flange axis passes through the centre of the palm block ``PALM_CENTRE_XY_HAND`` and the
  back face of the palm (hand z = ``PALM_BACK_Z_HAND``) lies on the plate.
Numbers from the palm collision boxes of ``urdf/leap_hand_right.urdf`` (bounding box x -0.100..0.002,
y -0.095..0.025, z -0.0345..0.012 m).
"""

from __future__ import annotations

import numpy as np

ADAPTER_THICKNESS_M = 0.015  # flange face to back of the palm
PALM_CENTRE_XY_HAND = (-0.049, -0.035)  # palm block centre in the hand frame, metres
PALM_BACK_Z_HAND = 0.012  # back face of the palm in the hand frame, metres

#: Rotation of the hand frame in the flange frame: pi about x (hand x = flange x, z = -z).
R_FLANGE_HAND = np.diag([1.0, -1.0, -1.0])


def _mount() -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R_FLANGE_HAND
    mount_point_hand = np.array([*PALM_CENTRE_XY_HAND, PALM_BACK_Z_HAND])
    # the palm's back-face centre lands on the flange axis, ADAPTER_THICKNESS_M out from the face
    T[:3, 3] = np.array([0.0, 0.0, ADAPTER_THICKNESS_M]) - R_FLANGE_HAND @ mount_point_hand
    return T


#: (4, 4) hand root frame (``palm``) in the flange frame (``link_eef``); metres.
T_FLANGE_HAND: np.ndarray = _mount()
T_FLANGE_HAND.flags.writeable = False
