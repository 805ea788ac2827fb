"""ament_python package of the ifgrasp ROS 2 nodes. The nodes import the ``ifgrasp`` core, which is
installed into the same Python environment (``pip install -e .`` at the repo root)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "ifgrasp_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/launch", glob("launch/*.xml") + glob("../../../launch/*.launch.xml")),
        # robot_state_publisher's robot_description (robot.launch.xml) and the RViz config
        (f"share/{PACKAGE}/urdf", glob("../../../urdf/*.urdf")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="ifgrasp maintainers",
    maintainer_email="maintainers@ifgrasp.dev",
    description="rclpy nodes of ifgrasp: thin wrappers over the ifgrasp core",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            f"bag_replay = {PACKAGE}.bag_replay:main",
            f"sim_world = {PACKAGE}.sim_world:main",
            f"commander = {PACKAGE}.commander:main",
            f"arm_driver = {PACKAGE}.arm_driver:main",
            f"hand_driver = {PACKAGE}.hand_driver:main",
            f"grounding = {PACKAGE}.grounding:main",
            f"perception = {PACKAGE}.perception:main",
            f"grasp_generator = {PACKAGE}.grasp_generator:main",
            f"planner = {PACKAGE}.planner:main",
        ],
    },
)
