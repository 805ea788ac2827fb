"""Every node, executable, parameter file and remapping each launch file names exists and matches
the package's entry points; parameter files hold a section for the node that loads them, with only
parameters the node declares (checked against the node's source). The robot launch's apt-ROS nodes
(robot_state_publisher, tf2_ros static_transform_publisher, rviz2) are checked by name, arguments
and files, and skipped, with the reason, where their executables are not installed; every topic the
RViz config shows is one a node of the graph (or the RealSense driver) publishes."""

import re
import shutil
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
        if (node.pkg, node.exe) in APT_NODES:
            continue  # test_robot_launch_apt_nodes
        assert node.pkg == "ifgrasp_ros", f"{path.name}: {node.pkg}/{node.exe} is neither ours nor a known apt node"
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
#: Nodes of the robot launch from apt ROS 2 on the robot PC: (pkg, exec) -> (node name, apt package).
APT_NODES = {
    ("robot_state_publisher", "robot_state_publisher"): ("robot_state_publisher", "ros-jazzy-robot-state-publisher"),
    ("tf2_ros", "static_transform_publisher"): ("camera_static_tf", "ros-jazzy-tf2-ros"),
    ("rviz2", "rviz2"): ("rviz2", "ros-jazzy-rviz2"),
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_each_launch_file_starts_the_split_graph(name):
    pytest.importorskip("ament_index_python", reason="ROS 2 not installed: run scripts/install.sh")
    from ifgrasp_ros.launch_xml import parse_launch

    args, nodes = parse_launch(REPO / "launch" / name, {"bag_path": "/tmp/bag", "model_path": "/m/student.pt",
                                                        "backend": "trained"})
    nodes = [n for n in nodes if (n.pkg, n.exe) not in APT_NODES]
    assert [n.name for n in nodes] == GRAPHS[name] and [n.exe for n in nodes] == GRAPHS[name]
    by_name = {n.name: n for n in nodes}
    # the backend argument goes to the perception node, the model to the generator, and nowhere else
    # sim_world's reliable 2 Hz camera is read reliably (best effort lost most frames under load)
    assert by_name["perception"].params == {"backend": "trained", **({"camera_qos": "reliable"} if name == "sim.launch.xml" else {})}
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


def _robot_nodes(**overrides):
    pytest.importorskip("ament_index_python", reason="ROS 2 not installed: run scripts/install.sh")
    from ifgrasp_ros.launch_xml import parse_launch

    return parse_launch(REPO / "launch" / "robot.launch.xml", overrides)


def test_robot_launch_adds_state_publisher_camera_tf_and_optional_rviz():
    args, nodes = _robot_nodes()
    assert args["rviz"] == "false" and "rviz2" not in [n.exe for n in nodes]
    _, with_rviz = _robot_nodes(rviz="true")
    ext = {(n.pkg, n.exe): n for n in with_rviz if n.pkg != "ifgrasp_ros"}
    assert set(ext) == set(APT_NODES)
    for key, node in ext.items():
        assert node.name == APT_NODES[key][0]
    rsp = ext[("robot_state_publisher", "robot_state_publisher")]
    m = re.fullmatch(r"\$\(command 'cat (\S+)'\)", rsp.params["robot_description"])
    assert m, rsp.params
    urdf = Path(m.group(1))
    assert urdf.parent.name == "urdf" and (REPO / "urdf" / urdf.name).is_file() and urdf.name == "xarm7_leap.urdf"
    text = (PKG / "setup.py").read_text()
    assert "share/{PACKAGE}/urdf" in text and "../../../urdf/*.urdf" in text and "share/{PACKAGE}/rviz" in text
    if urdf.parent.is_dir():  # a built workspace installs the same file
        assert urdf.is_file(), f"{urdf} not installed: rebuild the workspace (colcon build)"
        assert urdf.read_text() == (REPO / "urdf" / urdf.name).read_text()
    rviz = ext[("rviz2", "rviz2")]
    assert rviz.args[0] == "-d" and Path(rviz.args[1]).name == "ifgrasp.rviz"
    assert (PKG / "rviz" / "ifgrasp.rviz").is_file()


def test_camera_static_transform_is_the_calibration_in_the_perception_config():
    """The static transform (launch args) and the perception node's T_base_camera are one calibration."""
    import numpy as np
    from scipy.spatial.transform import Rotation

    from ifgrasp.calibration.writeback import read_launch_args, read_perception_yaml

    _, nodes = _robot_nodes()
    tf = next(n for n in nodes if n.exe == "static_transform_publisher")
    a = dict(zip(tf.args[::2], tf.args[1::2]))
    assert a["--frame-id"] == "link_base" and a["--child-frame-id"] == "camera_color_optical_frame"
    perception = yaml.safe_load((PKG / "config" / "perception.yaml").read_text())["perception"]["ros__parameters"]
    assert perception["camera_frame"] == a["--child-frame-id"] and perception["base_frame"] == a["--frame-id"]
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat([float(a[f"--q{c}"]) for c in "xyzw"]).as_matrix()
    T[:3, 3] = [float(a[f"--{c}"]) for c in "xyz"]
    np.testing.assert_allclose(T, read_perception_yaml(), atol=2e-6)
    np.testing.assert_allclose(T, read_launch_args(), atol=2e-6)
    grasp = yaml.safe_load((PKG / "config" / "grasp_generator.yaml").read_text())["grasp_generator"]["ros__parameters"]
    assert grasp["base_frame"] == a["--frame-id"]
    import xml.etree.ElementTree as ET

    root_links = {lk.get("name") for lk in ET.parse(REPO / "urdf" / "xarm7_leap.urdf").getroot().findall("link")}
    assert a["--frame-id"] in root_links  # robot_state_publisher's tree and the camera's meet at link_base


@pytest.mark.parametrize("key", sorted(APT_NODES), ids=lambda k: k[1])
def test_apt_executable_is_installed_or_skipped_with_reason(key):
    pkg, exe = key
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:
        pytest.skip("ROS 2 not installed: run scripts/install.sh")
    try:
        prefix = Path(get_package_prefix(pkg))
    except PackageNotFoundError:
        pytest.skip(f"{pkg} is not installed here (PyPI ROS wheels have none); on the robot PC: "
                    f"sudo apt install {APT_NODES[key][1]}")
    assert (prefix / "lib" / pkg / exe).is_file() or shutil.which(exe), f"{pkg} is installed but has no {exe}"


def _published_topics() -> dict[str, str]:
    """Topic -> who publishes it, for the robot graph: the *_topic parameters of our nodes' files
    (and the defaults their sources declare), robot_state_publisher, and the RealSense driver."""
    out = {"/robot_description": "robot_state_publisher", "/tf": "robot_state_publisher",
           "/tf_static": "camera_static_tf",
           "/camera/camera/color/image_raw": "realsense2_camera",
           "/camera/camera/color/camera_info": "realsense2_camera",
           "/camera/camera/aligned_depth_to_color/image_raw": "realsense2_camera"}
    for node in ("perception", "grasp_generator", "planner"):
        params = yaml.safe_load((PKG / "config" / f"{node}.yaml").read_text())[node]["ros__parameters"]
        source = (PKG / "ifgrasp_ros" / f"{node}.py").read_text()
        for k, v in params.items():
            # only topics the node creates a publisher on (not the ones it subscribes to)
            if k.endswith("_topic") and re.search(rf'create_publisher\(\w+, p\["{k}"\]', source):
                out[v] = node
    return out


def test_rviz_config_shows_only_topics_the_graph_publishes():
    cfg = yaml.safe_load((PKG / "rviz" / "ifgrasp.rviz").read_text())
    displays = cfg["Visualization Manager"]["Displays"]
    topics = {}
    for d in displays:
        assert d["Class"].startswith(("rviz_default_plugins/", "rviz_common/")), d["Class"]
        for key in ("Topic", "Description Topic"):
            if key in d:
                topics[d["Name"]] = d[key]["Value"]
    published = _published_topics()
    missing = {name: t for name, t in topics.items() if t not in published}
    assert not missing, f"RViz shows topics nobody publishes: {missing}; published: {sorted(published)}"
    shown = {published[t] for t in topics.values()}
    assert {"robot_state_publisher", "perception", "grasp_generator"} <= shown
    assert {"/ifgrasp/perception/debug_image", "/ifgrasp/target_points", "/ifgrasp/grasp_markers",
            "/robot_description"} <= set(topics.values())
    classes = {d["Class"] for d in displays}
    assert {"rviz_default_plugins/RobotModel", "rviz_default_plugins/Image", "rviz_default_plugins/PointCloud2",
            "rviz_default_plugins/MarkerArray"} <= classes
    assert cfg["Visualization Manager"]["Global Options"]["Fixed Frame"] == "link_base"
