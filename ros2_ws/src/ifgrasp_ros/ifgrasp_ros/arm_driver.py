"""``arm_driver``: the xArm7 (or a sim arm) behind the driver interface (``driver_node.DriverNode``).

    arm_driver --ros-args -p backend:=xarm -p ip:=192.168.1.209
    arm_driver --ros-args -p backend:=xarm -p emulate:=true      # real SDK + controller emulator, no arm

``backend``: ``xarm`` (``ifgrasp.drivers.xarm``: servo mode, payload, collision sensitivity, the
documented recovery sequence on ``/ifgrasp/arm/recover``) or ``sim`` (a MuJoCo arm of the default
scene owned by this node; the sim graph uses ``sim_world`` instead). ``ip`` overrides
``config/drivers.yaml``'s ``arm.xarm.ip``. ``emulate`` runs the xarm backend, through the real
``xarm-python-sdk``, against ``ifgrasp.drivers.emulation.xarm_controller.XArmControllerEmulator`` on
loopback (dry runs, tests) starting at the scene's ready pose with controller error
``emulate_error_code`` (31 collision, 1 e-stop button held). An arm in error is refused at start
unless ``clear_errors`` is true (1, the held button, cannot be cleared).
Parameters: config/arm_driver.yaml; topics and services: ``driver_node``.
"""

from __future__ import annotations

from ifgrasp_ros.driver_node import DriverNode, build_driver, check_backend
from ifgrasp_ros.node_main import run_node

PARAMS = (
    ("backend", "xarm"),           # xarm | sim
    ("ip", ""),                    # "" = arm.xarm.ip of the drivers YAML
    ("emulate", False),            # xarm backend against the controller emulator (no arm needed)
    ("emulate_error_code", 0),     # controller error of the emulator at start (31 collision, 1 e-stop)
    ("clear_errors", False),       # clear a controller error at start (after fixing its cause)
    ("command_port", 0),           # 0 = drivers.yaml (502); another value only for an emulator
    ("report_port", 0),            # 0 = drivers.yaml (30002)
)


def start_emulator(error_code: int):
    """An ``XArmControllerEmulator`` at the scene's ready pose on free loopback ports, running."""
    from ifgrasp.drivers.emulation.xarm_controller import XArmControllerEmulator
    from ifgrasp.sim.scene_config import SceneConfig

    q0 = SceneConfig.default().robot.arm_joints_rad
    return XArmControllerEmulator(q0_rad=q0, error_code=0 if error_code == 1 else error_code,
                                  estop_button_pressed=error_code == 1).start()


def build(p: dict):
    check_backend("arm", p["backend"], ("xarm", "sim"))
    if p["backend"] == "sim":
        return build_driver("arm", p)[0], "mujoco"
    overrides = {"ip": p["ip"]} if p["ip"] else {}
    overrides.update({k: int(p[k]) for k in ("command_port", "report_port") if int(p[k])})
    emu = None
    if p["emulate"]:
        emu = start_emulator(int(p["emulate_error_code"]))
        overrides.update(ip="127.0.0.1", command_port=emu.command_port, report_port=emu.report_port)
    driver = build_driver("arm", p, overrides=overrides or None, clear_errors=bool(p["clear_errors"]))[0]
    driver.emulator = emu  # lives as long as the driver (the node's process)
    ip = driver.config.ip
    return driver, f"emulated xArm7 ({ip}:{emu.command_port})" if emu else f"xArm7 at {ip}"


class ArmDriverNode(DriverNode):
    def __init__(self) -> None:
        super().__init__("arm_driver", "arm", PARAMS, build)


def main(args=None) -> int:
    return run_node(ArmDriverNode, args, default_params="arm_driver.yaml")


if __name__ == "__main__":
    raise SystemExit(main())
