"""Every node, executable, parameter file and remapping each launch file names exists and matches
the package's entry points; parameter files hold a section for the node that loads them, with only
parameters the node declares (checked against the node's source)."""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "ros2_ws" / "src" / "ifgrasp_ros"
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.xml"))


def entry_points() -> dict[str, str]:
    text = (PKG / "setup.py").read_text()
    return dict(re.findall(r'f"(\w+) = \{PACKAGE\}\.(\w+):main"', text))


def test_three_launch_files():
    assert [p.name for p in LAUNCH_FILES] == ["replay.launch.xml", "robot.launch.xml", "sim.launch.xml"]


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_names_only_what_exists(path):
    pytest.importorskip("ament_index_python", reason="ROS 2 not installed: run scripts/install.sh")
    from ifgrasp_ros.launch_xml import parse_launch

    args, nodes = parse_launch(path, {"bag_path": "/tmp/bag"})
    assert nodes, f"{path.name} starts no node"
    eps = entry_points()
    installed = REPO / "install" / "ifgrasp_ros"
    for node in nodes:
        assert node.pkg == "ifgrasp_ros"
        assert node.exe in eps, f"{path.name}: executable '{node.exe}' is not an entry point; known: {sorted(eps)}"
        assert (PKG / "ifgrasp_ros" / f"{eps[node.exe]}.py").is_file()
        if installed.is_dir():
            assert (installed / "lib" / "ifgrasp_ros" / node.exe).is_file(), f"{node.exe} not installed: rebuild"
        source = (PKG / "ifgrasp_ros" / f"{eps[node.exe]}.py").read_text()
        for mod in re.findall(r"^from ifgrasp_ros\.(\w+) import", source, re.M):  # shared declarations
            source += (PKG / "ifgrasp_ros" / f"{mod}.py").read_text()
        declared = set(re.findall(r'\("(\w+)", ', source))
        for f in node.param_files:
            rel = f.relative_to(f.parents[1])  # config/<name>.yaml
            src = PKG / rel
            assert src.is_file(), f"{path.name}: parameter file {rel} missing from the package"
            data = yaml.safe_load(src.read_text())
            assert node.name in data, f"{rel} has no section for node '{node.name}'"
            unknown = set(data[node.name]["ros__parameters"]) - declared
            assert not unknown, f"{rel}: parameters {sorted(unknown)} are not declared by {node.exe}"
        unknown = set(node.params) - declared
        assert not unknown, f"{path.name}: {node.exe} does not declare {sorted(unknown)}"
        for a, b in node.remaps.items():
            assert a.startswith("/") and b.startswith("/"), f"{path.name}: remap {a} -> {b} must use absolute names"


def test_launch_files_are_installed_with_the_package():
    text = (PKG / "setup.py").read_text()
    assert "launch/*.launch.xml" in text and "share/{PACKAGE}/launch" in text


def test_perception_extrinsics_match_the_sim_camera():
    import numpy as np

    from ifgrasp.sim.scene_config import SceneConfig

    data = yaml.safe_load((PKG / "config" / "perception.yaml").read_text())
    T = np.asarray(data["perception"]["ros__parameters"]["T_base_camera"]).reshape(4, 4)
    np.testing.assert_allclose(T, SceneConfig.default().camera.T_base_camera, atol=2e-6)


STAGE_NODES = ["grounding", "perception", "grasp_generator", "planner", "commander"]
GRAPHS = {  # the split graph (issue 6): sources, then the stage nodes, then the commander
    "sim.launch.xml": ["sim_world", *STAGE_NODES],
    "replay.launch.xml": ["bag_replay", *STAGE_NODES],
    "robot.launch.xml": ["arm_driver", "hand_driver", *STAGE_NODES],
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_each_launch_file_starts_the_split_graph(name):
    pytest.importorskip("ament_index_python", reason="ROS 2 not installed: run scripts/install.sh")
    from ifgrasp_ros.launch_xml import parse_launch

    args, nodes = parse_launch(REPO / "launch" / name, {"bag_path": "/tmp/bag", "model_path": "/m/student.pt",
                                                        "backend": "trained"})
    assert [n.name for n in nodes] == GRAPHS[name] and [n.exe for n in nodes] == GRAPHS[name]
    by_name = {n.name: n for n in nodes}
    # the backend argument goes to the perception node, the model to the generator, and nowhere else
    assert by_name["perception"].params == {"backend": "trained"}
    assert by_name["grasp_generator"].params == {"model_path": "/m/student.pt"}
    assert all(not n.params.get("backend") == "trained" for n in nodes if n.name != "perception")
    assert "model_path" not in by_name["commander"].params and "backend" not in by_name["commander"].params
    for n in nodes:
        assert [f.name for f in n.param_files] == [f"{n.name}.yaml"]


def test_commander_calls_the_services_the_stage_nodes_offer():
    cfg = {n: yaml.safe_load((PKG / "config" / f"{n}.yaml").read_text())[n]["ros__parameters"] for n in STAGE_NODES}
    cmd = cfg["commander"]
    assert cmd["ground_service"] == cfg["grounding"]["service"]
    assert cmd["perceive_service"] == cfg["perception"]["service"]
    assert cmd["generate_service"] == cfg["grasp_generator"]["service"]
    assert cmd["plan_service"] == cfg["planner"]["service"]
