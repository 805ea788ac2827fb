"""Torch FK equals the numpy FK; its autograd gradient equals the analytic geometric Jacobian."""

import numpy as np
import pytest
import torch

from ifgrasp.arm import XARM7_URDF, Xarm7Kinematics
from ifgrasp.arm.chain import SerialChain
from ifgrasp.errors import KinematicsError


@pytest.fixture(scope="module")
def kin():
    return Xarm7Kinematics()


def test_torch_fk_matches_numpy(kin):
    q = np.random.default_rng(6).uniform(kin.lower, kin.upper, size=(32, 7))
    T = kin.torch_fk()(torch.as_tensor(q)).numpy()
    np.testing.assert_allclose(T, kin.fk(q), atol=1e-12)


def test_autograd_position_jacobian_equals_analytic(kin):
    q = torch.as_tensor(np.random.default_rng(7).uniform(kin.lower, kin.upper, size=(4, 7)))
    fk = kin.torch_fk()
    J_auto = torch.autograd.functional.jacobian(lambda x: fk(x)[:, :3, 3], q)  # (4, 3, 4, 7)
    J_auto = torch.stack([J_auto[i, :, i] for i in range(len(q))]).numpy()  # (4, 3, 7)
    np.testing.assert_allclose(J_auto, kin.jacobian(q.numpy())[:, :3], atol=1e-10)


def test_float32_module_runs(kin):
    fk = kin.torch_fk().to(torch.float32)
    assert fk(torch.zeros(2, 7)).dtype == torch.float32


def test_unknown_link_lists_known_links():
    with pytest.raises(KinematicsError, match="known: .*link7"):
        SerialChain.from_urdf(XARM7_URDF, "link_base", "tool0")
