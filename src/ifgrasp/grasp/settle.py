"""Close synthesised fingers onto the object in MuJoCo, so a grasp's joints are where its fingers stop.

The optimiser's joints come from sampled surface points and a grid SDF: its fingers overlap the
object by millimetres here and hover short of it there. Executed, an overlapping finger shoves the
object as it closes and a hovering one never presses. Settling replays the closing protocol with the
object held still (welded to the world, the table present) and the fingers current-limited to a
light touch: each closing joint ramps from the pre-grasp toward ``close_past_rad`` beyond the grasp
and stops where its link meets the object (or the table), as a real hand's fingers do under current
control. The settled joints replace the grasp's: penetration is the light touch's (a fraction of a
millimetre), every finger touches at the same point of the closing ramp, and a finger that found
nothing ends ``close_past_rad`` further closed. A finger the dynamics left deeper than
``max_penetration_m`` (wedged, or pressed by a neighbour) then opens its closing joints in small steps,
measured with MuJoCo's exact collision, until it is not. The wrist pose is unchanged: a palm that
overlaps the object stays the judge's to reject.

Batched: all grasps of a call are copies in one MuJoCo model (:class:`ifgrasp.grasp.validate._Batch`).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ifgrasp.config import Config
from ifgrasp.grasp.validate import ValidationConfig, _Batch, _chunks
from ifgrasp.hand.joints import CLOSING_MASK, JOINT_FINGER, LOWER_RAD, UPPER_RAD, pregrasp
from ifgrasp.types import GraspBatch


class SettleConfig(Config):
    """Settling of synthesised grasps (:func:`settle`)."""

    enabled: bool = Field(True, description="replace the optimiser's joints by where the fingers stop")
    touch_torque_nm: float = Field(0.03, gt=0, description="finger torque limit while settling (N m): a light touch")
    close_past_rad: float = Field(0.4, ge=0, description="closing joints ramp this far beyond the grasp")
    close_s: float = Field(0.6, gt=0, description="ramp from the pre-grasp to the closing target (s)")
    hold_s: float = Field(0.2, gt=0, description="settle after the ramp (s)")
    max_penetration_m: float = Field(0.0005, gt=0, description="a finger deeper than this in the object after "
                                     "settling opens its closing joints in steps until it is not")
    open_step_rad: float = Field(0.01, gt=0, description="opening step of a finger still in the object")
    open_steps: int = Field(20, ge=0, description="most opening steps")


def settle(obj, grasps: GraspBatch, cfg: SettleConfig | None = None,
           validation: ValidationConfig | None = None) -> GraspBatch:
    """Grasps (object frame) with their joints replaced by where the fingers stop on ``obj`` held still.

    ``validation`` gives the hand's gains and contact model (default: the judge's). Adds ``extras``:
    ``settle_links_touching`` (hand links touching the object at the end) and ``settle_shift_rad``
    (largest joint change, rad)."""
    cfg = cfg or SettleConfig()
    if grasps.frame != "object":
        raise ValueError(f"grasps must be in the object frame, got '{grasps.frame}'")
    vcfg = (validation or ValidationConfig()).model_copy(update={"joint_force_limit_nm": cfg.touch_torque_nm})
    q = np.asarray(grasps.joints_rad, dtype=float)
    settled = q.copy()
    touching = np.zeros(len(grasps), dtype=np.int32)
    for idx in _chunks(len(grasps), vcfg.max_copies):
        sub = grasps.select(idx)
        batch = _Batch(obj, len(idx), vcfg, table=True, fixed_object=True)
        pre = pregrasp(sub.joints_rad, vcfg.pregrasp_open_rad)
        target = np.clip(sub.joints_rad + cfg.close_past_rad * CLOSING_MASK, LOWER_RAD, UPPER_RAD)
        batch.place(sub.T_frame_wrist, pre)
        batch.run(cfg.close_s, vcfg, ctrl_fn=lambda a: pre + a * (target - pre))
        batch.run(cfg.hold_s, vcfg)
        reached = batch.data.qpos[batch.hand_qpos]
        # side-to-side and thumb-rotation joints keep the optimiser's values; closing joints where they stopped
        q_sub = np.clip(np.where(CLOSING_MASK, reached, sub.joints_rad), LOWER_RAD, UPPER_RAD)
        for _ in range(cfg.open_steps):
            batch.place(sub.T_frame_wrist, q_sub)
            deep = batch.finger_penetrations() > cfg.max_penetration_m  # (n, fingers)
            if not deep.any():
                break
            opening = deep[:, JOINT_FINGER] & CLOSING_MASK
            q_sub = np.clip(q_sub - cfg.open_step_rad * opening, LOWER_RAD, UPPER_RAD)
        else:  # the last opening step is not placed yet
            batch.place(sub.T_frame_wrist, q_sub)
        settled[idx] = q_sub
        touching[idx] = batch.links_touching_object()
    out = GraspBatch(wrist_pos_m=grasps.wrist_pos_m.copy(), wrist_rot=grasps.wrist_rot.copy(),
                     joints_rad=settled, frame=grasps.frame,
                     extras=dict(grasps.extras))
    out.extras["settle_links_touching"] = touching
    out.extras["settle_shift_rad"] = np.abs(out.joints_rad - q).max(axis=1)
    return out
