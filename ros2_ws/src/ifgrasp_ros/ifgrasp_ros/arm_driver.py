"""``arm_driver``: the xArm7 (or a sim arm) behind the driver interface (``driver_node.DriverNode``).

    arm_driver --ros-args -p backend:=xarm -p ip:=192.168.1.209
    arm_driver --ros-args -p backend:=xarm -p emulate:=true      # the faithful XArmAPI fake, no arm

``backend``: ``xarm`` (``ifgrasp.drivers.xarm``: servo mode, payload, collision sensitivity, the
documented recovery sequence on ``/ifgrasp/arm/recover``) or ``sim`` (a MuJoCo arm of the default
scene owned by this node; the sim graph uses ``sim_world`` instead). ``ip`` overrides
``config/drivers.yaml``'s ``arm.xarm.ip``. ``emulate`` runs the xarm backend against
``ifgrasp.drivers.emulation.xarm_fake.FakeXArmAPI`` (dry runs, tests) starting at the scene's ready
pose with controller error ``emulate_error_code`` (1 = e-stop button pressed: start is refused).
Parameters: config/arm_driver.yaml; topics and services: ``driver_node``.
"""

from __future__ import annotations

from ifgrasp_ros.driver_node import DriverNode, build_driver, check_backend
from ifgrasp_ros.node_main import run_node

PARAMS = (
    ("backend", "xarm"),           # xarm | sim
    ("ip", ""),                    # "" = arm.xarm.ip of the drivers YAML
    ("emulate", False),            # xarm backend against the XArmAPI fake (no arm needed)
    ("emulate_error_code", 0),     # controller error of the fake at start (31 collision, 1 e-stop)
)


def emulated_api_factory(error_code: int):
    """``ip -> FakeXArmAPI`` at the scene's ready pose, with ``error_code`` latched (1: e-stop pressed)."""
    from ifgrasp.drivers.emulation.xarm_fake import FakeXArmAPI
    from ifgrasp.drivers.limits import arm_limits
    from ifgrasp.sim.scene_config import SceneConfig

    lim, q0 = arm_limits(), SceneConfig.default().robot.arm_joints_rad
    return lambda ip: FakeXArmAPI(lim.lower_rad, lim.upper_rad, q0_rad=q0, error_code=0 if error_code == 1 else error_code,
                                  estop_button_pressed=error_code == 1)


def build(p: dict):
    check_backend("arm", p["backend"], ("xarm", "sim"))
    if p["backend"] == "sim":
        return build_driver("arm", p)[0], "mujoco"
    kwargs = {"api_factory": emulated_api_factory(int(p["emulate_error_code"]))} if p["emulate"] else {}
    driver = build_driver("arm", p, overrides={"ip": p["ip"]} if p["ip"] else None, **kwargs)[0]
    ip = driver.config.ip
    return driver, f"emulated xArm7 ({ip})" if p["emulate"] else f"xArm7 at {ip}"


class ArmDriverNode(DriverNode):
    def __init__(self) -> None:
        super().__init__("arm_driver", "arm", PARAMS, build)


def main(args=None) -> int:
    return run_node(ArmDriverNode, args, default_params="arm_driver.yaml")


if __name__ == "__main__":
    raise SystemExit(main())
