"""HandSelfCollision against MuJoCo's own box-box distance (mj_geomDistance) on the same URDF's
collision geoms, on crafted and random configurations."""

import mujoco
import numpy as np
import pytest
import torch

from ifgrasp.errors import InputError
from ifgrasp.hand import JOINT_NAMES, OPEN_JOINTS_RAD, PREGRASP_JOINTS_RAD, LeapHandModel
from ifgrasp.hand.author_urdf import URDF_PATH
from ifgrasp.hand.self_collision import SELF_PENETRATION_LIMIT_M, HandSelfCollision


@pytest.fixture(scope="module")
def hand():
    return LeapHandModel(dtype=torch.float64)


@pytest.fixture(scope="module")
def sc(hand):
    return HandSelfCollision(hand)


class MujocoReference:
    """Exact per-link-pair penetration from MuJoCo's collision geoms of the committed URDF."""

    def __init__(self, hand):
        self.m = mujoco.MjModel.from_xml_path(str(URDF_PATH))
        self.d = mujoco.MjData(self.m)
        self.adr = [self.m.jnt_qposadr[self.m.joint(n).id] for n in JOINT_NAMES]
        self.geoms: dict[str, list[int]] = {}
        for g in range(self.m.ngeom):
            if self.m.geom_contype[g]:  # collision geoms (the URDF's visuals come in with contype 0)
                self.geoms.setdefault(self.m.body(self.m.geom_bodyid[g]).name, []).append(g)

    def link_pair_depth(self, q: np.ndarray, pair: str) -> float:
        self.d.qpos[self.adr] = q
        mujoco.mj_forward(self.m, self.d)
        a, b = pair.split("|")
        fromto = np.zeros(6)
        dist = min(mujoco.mj_geomDistance(self.m, self.d, ga, gb, 0.05, fromto)
                   for ga in self.geoms[a] for gb in self.geoms[b])
        return max(0.0, -dist)


@pytest.fixture(scope="module")
def ref(hand):
    return MujocoReference(hand)


def _pressed_middle_ring(spread: float, flex: float) -> np.ndarray:
    """Middle finger swung toward the ring finger and the ring toward the middle, both flexed."""
    q = np.zeros(16)
    q[4], q[8] = spread, -spread  # mcp_side: + swings toward the ring side (-y)
    q[5:8] = q[9:12] = flex
    return q


def test_flat_open_and_pregrasp_hands_are_free(sc):
    q = torch.tensor(np.stack([np.zeros(16), OPEN_JOINTS_RAD, PREGRASP_JOINTS_RAD]))
    assert torch.all(sc.max_depth(q) == 0)


def test_middle_and_ring_distal_pressed_together_match_mujoco(sc, ref):
    qs = [_pressed_middle_ring(s, f) for s in (0.2, 0.3) for f in (0.0, 0.6)]
    depth = sc.link_pair_depth(torch.tensor(np.stack(qs)))
    k = sc.pair_names.index("middle_distal|ring_distal")
    for q, ours in zip(qs, depth[:, k].tolist()):
        theirs = ref.link_pair_depth(q, "middle_distal|ring_distal")
        assert theirs > 5e-3  # the crafted poses really press them > 5 mm into each other
        assert ours == pytest.approx(theirs, abs=1e-6)
    assert set(sc.worst_pair(torch.tensor(np.stack(qs[:2])))) <= {"middle_distal|ring_distal", "middle_medial|ring_medial"}


def test_every_pair_matches_mujoco_on_random_configurations(hand, sc, ref):
    g = torch.Generator().manual_seed(7)
    q = hand.lower + torch.rand(6, 16, generator=g, dtype=torch.float64) * (hand.upper - hand.lower)
    ours = sc.link_pair_depth(q).numpy()
    assert (ours > SELF_PENETRATION_LIMIT_M).any()  # random poses do collide
    for b in range(len(q)):
        theirs = np.array([ref.link_pair_depth(q[b].numpy(), p) for p in sc.pair_names])
        np.testing.assert_allclose(ours[b], theirs, atol=1e-6)


def test_adjacent_links_are_never_checked(hand, sc):
    tree = hand.tree
    adjacent = {frozenset((tree.link_names[i], tree.link_names[p])) for i, p in enumerate(tree.parent) if p >= 0}
    assert all(frozenset(p.split("|")) not in adjacent for p in sc.pair_names)
    assert "middle_distal|ring_distal" in sc.pair_names and "palm|thumb_distal" in sc.pair_names


def test_gradient_descent_on_the_energy_separates_the_fingers(sc):
    q = torch.tensor(_pressed_middle_ring(0.3, 0.6))[None].requires_grad_(True)
    assert sc.max_depth(q).item() > 1e-2
    opt = torch.optim.SGD([q], lr=2.0)
    for _ in range(60):
        opt.zero_grad()
        sc.energy(q, margin=5e-4).sum().backward()
        opt.step()
    assert sc.max_depth(q.detach()).item() < SELF_PENETRATION_LIMIT_M


def test_batched_equals_looped_and_float32_agrees(hand, sc):
    g = torch.Generator().manual_seed(3)
    q = hand.lower + torch.rand(5, 16, generator=g, dtype=torch.float64) * (hand.upper - hand.lower)
    batched = sc.link_pair_depth(q)
    for b in range(5):
        torch.testing.assert_close(batched[b:b + 1], sc.link_pair_depth(q[b:b + 1]), atol=1e-12, rtol=0)
    sc32 = HandSelfCollision(LeapHandModel())
    torch.testing.assert_close(sc32.max_depth(q.float()).double(), sc.max_depth(q), atol=2e-5, rtol=0)


def test_bad_joints_are_named(sc):
    with pytest.raises(InputError, match=r"\(B, 16\)"):
        sc.max_depth(torch.zeros(2, 15))
    q = torch.zeros(2, 16)
    q[1, 3] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        sc.max_depth(q)


def test_margin_penalises_near_pairs_and_shifts_depth(sc):
    flat = torch.zeros(1, 16, dtype=torch.float64)
    assert sc.energy(flat).item() == 0 and sc.energy(flat, margin=0.02).item() > 0  # neighbours < 2 cm apart
    q = torch.tensor(_pressed_middle_ring(0.3, 0.0))[None]
    deep = sc.link_pair_depth(q) > 0
    torch.testing.assert_close(sc.link_pair_depth(q, margin=1e-3)[deep], sc.link_pair_depth(q)[deep] + 1e-3)
