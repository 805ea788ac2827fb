"""LeapHandModel against independent references: MuJoCo's FK, pytorch_kinematics, float64 finite
differences, per-sample loops, and geometric facts about boxes."""

import mujoco
import numpy as np
import pytest
import pytorch_kinematics as pk
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from ifgrasp.errors import InputError, KinematicsError
from ifgrasp.hand import JOINT_NAMES, OPEN_JOINTS_RAD, PREGRASP_JOINTS_RAD, LeapHandModel
from ifgrasp.hand.author_urdf import URDF_PATH
from ifgrasp.hand.bench import fk_throughput
from ifgrasp.timing import LatencyStats


@pytest.fixture(scope="module")
def hand():
    return LeapHandModel(dtype=torch.float64)


def _random_joints(hand, n, seed):
    g = torch.Generator().manual_seed(seed)
    return hand.lower + torch.rand(n, 16, generator=g, dtype=torch.float64) * (hand.upper - hand.lower)


def _random_pose(n, seed):
    rng = np.random.default_rng(seed)
    pos = torch.tensor(rng.uniform(-0.5, 0.5, (n, 3)))
    rot = torch.tensor(Rotation.random(n, random_state=seed).as_matrix())
    return pos, rot


def test_fk_matches_mujoco_on_random_configurations(hand):
    model = mujoco.MjModel.from_xml_path(str(URDF_PATH))
    data = mujoco.MjData(model)
    joints = _random_joints(hand, 12, seed=1)
    poses = hand.link_poses(joints)
    adr = [model.jnt_qposadr[model.joint(n).id] for n in JOINT_NAMES]
    for b in range(len(joints)):
        data.qpos[adr] = joints[b].numpy()
        mujoco.mj_forward(model, data)
        for name, T in poses.items():
            body = data.body(name)  # the root 'palm' body sits at the world origin
            np.testing.assert_allclose(T[b, :3, 3].numpy(), body.xpos, atol=1e-9, err_msg=name)
            np.testing.assert_allclose(T[b, :3, :3].numpy(), body.xmat.reshape(3, 3), atol=1e-9, err_msg=name)


def test_fk_matches_pytorch_kinematics(hand):
    chain = pk.build_chain_from_urdf(URDF_PATH.read_bytes()).to(dtype=torch.float64)
    joints = _random_joints(hand, 8, seed=2)
    order = [JOINT_NAMES.index(n) for n in chain.get_joint_parameter_names()]
    theirs = chain.forward_kinematics(joints[:, order])
    ours = hand.link_poses(joints)
    for name in ("index_tip", "middle_medial", "ring_proximal", "thumb_tip", "thumb_base"):
        torch.testing.assert_close(ours[name], theirs[name].get_matrix(), atol=1e-6, rtol=0)  # pk parses origins in float32


def test_batched_equals_looped(hand):
    joints = _random_joints(hand, 5, seed=3)
    pos, rot = _random_pose(5, seed=3)
    pts = pos[:, None] + torch.randn(5, 40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 0.08
    batched = (hand.surface_points(pos, rot, joints), *hand.contact_candidates(pos, rot, joints),
               hand.signed_distance(pts, pos, rot, joints), hand.self_penetration(joints),
               hand.fingertips(pos, rot, joints))
    for b in range(5):
        s = slice(b, b + 1)
        looped = (hand.surface_points(pos[s], rot[s], joints[s]), *hand.contact_candidates(pos[s], rot[s], joints[s]),
                  hand.signed_distance(pts[s], pos[s], rot[s], joints[s]), hand.self_penetration(joints[s]),
                  hand.fingertips(pos[s], rot[s], joints[s]))
        for x, y in zip(batched, looped):
            torch.testing.assert_close(x[s], y, atol=1e-12, rtol=0)


def test_signed_distance_sign_at_known_points(hand):
    pos, rot = _random_pose(1, seed=4)
    joints = torch.tensor(PREGRASP_JOINTS_RAD)[None]
    R, t = hand.link_transforms(joints)
    k = hand._box_link
    centres_hand = torch.einsum("kij,kj->ki", R[0, k], hand._T_link_box[:, :3, 3]) + t[0, k]  # (K, 3)
    centres = (rot[0] @ centres_hand.T).T + pos[0]
    sd = hand.signed_distance(centres[None], pos, rot, joints)[0]
    # a box centre is at least its smallest half extent deep
    assert torch.all(sd <= -hand._box_half.min(-1).values + 1e-12)
    far = pos + rot[:, :, 0] * 1.0  # 1 m along the fingers from the palm origin
    d_far = hand.signed_distance(far[:, None], pos, rot, joints)[0, 0]
    assert 0.8 < d_far < 1.0


def test_signed_distance_gradients_match_finite_differences(hand):
    joints = _random_joints(hand, 2, seed=5).requires_grad_(True)
    pos, rot = _random_pose(2, seed=5)
    pos.requires_grad_(True)
    g = torch.Generator().manual_seed(1)
    local = torch.randn(2, 30, 3, dtype=torch.float64, generator=g) * 0.06
    points = (pos[:, None] + local).detach().requires_grad_(True)

    def f(q, p, x):
        return hand.signed_distance(x, p, rot, q)

    assert torch.autograd.gradcheck(f, (joints, pos, points), eps=1e-7, atol=1e-6)


def test_surface_points_lie_on_their_link_surface(hand):
    joints = _random_joints(hand, 3, seed=6)
    pos, rot = _random_pose(3, seed=6)
    pts = hand.surface_points(pos, rot, joints)  # (B, P, 3)
    assert pts.shape == (3, len(hand.surface_point_link), 3)
    per_box = hand.link_signed_distance(pts, pos, rot, joints)  # (B, P, K)
    own = hand._box_link[None, :] == hand.surface_point_link[:, None]  # (P, K)
    own_sdf = per_box.masked_fill(~own, float("inf")).min(-1).values
    assert own_sdf.abs().max() < 1e-9
    # uniform-ish: every link with boxes gets points
    assert set(hand.surface_point_link.tolist()) == set(hand._box_link.tolist())


def test_contact_candidates_have_outward_unit_normals(hand):
    joints = _random_joints(hand, 2, seed=7)
    pos, rot = _random_pose(2, seed=7)
    pts, nrm = hand.contact_candidates(pos, rot, joints)
    C = len(hand.contact_candidate_link)
    assert 50 <= C <= 150 and pts.shape == nrm.shape == (2, C, 3)
    torch.testing.assert_close(nrm.norm(dim=-1), torch.ones(2, C, dtype=torch.float64))
    own = hand._box_link[None, :] == torch.tensor([hand.link_index(n) for n in hand.contact_candidate_link])[:, None]

    def own_sdf(x):
        return hand.link_signed_distance(x, pos, rot, joints).masked_fill(~own, float("inf")).min(-1).values

    assert own_sdf(pts).abs().max() < 1e-9
    assert torch.all(own_sdf(pts + 1e-3 * nrm) > 0) and torch.all(own_sdf(pts - 1e-3 * nrm) < 0)
    fingers = hand.contact_candidate_finger
    assert set(fingers.tolist()) == {0, 1, 2, 3, 4}
    for name, f in zip(hand.contact_candidate_link, fingers.tolist()):
        assert name.startswith(("index", "middle", "ring", "thumb", "palm")[f])


def test_contact_normals_face_the_grasp_at_the_pregrasp(hand):
    """At the pregrasp every palmar candidate faces the space in front of the palm."""
    joints = torch.tensor(PREGRASP_JOINTS_RAD)[None]
    pos, rot = torch.zeros(1, 3, dtype=torch.float64), torch.eye(3, dtype=torch.float64)[None]
    pts, nrm = hand.contact_candidates(pos, rot, joints)
    palm = hand.contact_candidate_finger == 4
    assert torch.all(nrm[0, palm] @ torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64) > 0.99)


def test_self_penetration(hand):
    zero = hand.self_penetration(torch.tensor(np.stack([OPEN_JOINTS_RAD, PREGRASP_JOINTS_RAD])))
    assert torch.all(zero == 0)
    # fingers spread into each other collide; spread apart they do not
    q = torch.zeros(2, 16, dtype=torch.float64)
    q[0, 0] = 0.8  # positive mcp_side swings a finger toward -y (ring side): index into middle
    q[1, 0] = -0.8  # index spread away from the middle finger, toward the thumb side
    q.requires_grad_(True)
    pen = hand.self_penetration(q)
    assert pen[0] > 1e-3 and pen[1] == 0
    pen.sum().backward()
    assert q.grad[0, 0].abs() > 0


@given(st.lists(st.floats(0.0, 1.0), min_size=16, max_size=16), st.integers(0, 15), st.floats(1e-3, 1.0))
def test_joint_limit_violation_property(hand, u, j, excess):
    q = hand.lower + torch.tensor(u, dtype=torch.float64) * (hand.upper - hand.lower)
    assert hand.joint_limit_violation(q[None]).item() == 0.0
    q_hi, q_lo = q.clone(), q.clone()
    q_hi[j], q_lo[j] = hand.upper[j] + excess, hand.lower[j] - excess
    assert hand.joint_limit_violation(q_hi[None]).item() == pytest.approx(excess)
    assert hand.joint_limit_violation(q_lo[None]).item() == pytest.approx(excess)


def test_errors_name_the_problem(hand):
    with pytest.raises(InputError, match=r"\(B, 16\)"):
        hand.link_poses(torch.zeros(3, 15, dtype=torch.float64))
    with pytest.raises(KinematicsError, match="known: .*thumb_tip"):
        hand.link_index("pinky_tip")


def test_to_moves_dtype_and_bench_runs():
    hand = LeapHandModel(n_surface_points=300).to(dtype=torch.float64)
    assert hand.lower.dtype == torch.float64 and hand._surface_X.dtype == torch.float64
    stats = fk_throughput(batch=16, repeats=2, model=hand)
    assert isinstance(stats, LatencyStats) and stats.samples_s.shape == (2,) and stats.median_s > 0
