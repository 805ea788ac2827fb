"""One hardware-or-sim device behind the driver interface: the body of ``arm_driver`` and ``hand_driver``.

A ``DriverNode`` builds a driver with ``ifgrasp.drivers.make_driver(kind, backend, section)``
(section = ``config/drivers.yaml``'s ``<kind>.<backend>``, with the node's ``ip`` / ``port``
overrides), connects it in the constructor (a missing motor, a busy port, an unreachable or
e-stopped controller -> ``DriverError`` -> one line on stderr, exit 1: ``node_main.run_node``), and
offers:

    /joint_states                    sensor_msgs/JointState of its own joints (arm: joint1..7;
                                     hand: the 16 LEAP joints in motor-ID order), effort in A / N*m
    /diagnostics                     diagnostic_msgs/DiagnosticArray: one device status (backend,
                                     fault, streaming) and one per joint (temperature_c, effort,
                                     position); ERROR on a fault or a device error, WARN when stopped
    <prefix>/joint_trajectory, status, stop, recover   ``ifgrasp_ros.driver_interface.DriverEndpoint``
                                     (the interface ``sim_world`` offers; the commander drives either)

Everything runs on one executor thread (timers), so the device is never touched concurrently.
A failing read (cable pulled) is reported on /diagnostics, the driver holds, and the node keeps
running so ``recover`` can bring it back. Nodes never import an SDK: the backends do, lazily.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import JointState

from ifgrasp.drivers import make_driver
from ifgrasp.errors import ConfigError, IfgraspError, known

from ifgrasp_ros.conversions import joint_state_msg
from ifgrasp_ros.driver_interface import DriverEndpoint

#: Parameters shared by both driver nodes: (name, default). Each node adds its own.
COMMON_PARAMS = (
    ("drivers_yaml", ""),          # "" = the repo's config/drivers.yaml
    ("rate_hz", 100.0),            # streaming / watchdog tick, Hz
    ("joint_state_rate_hz", 50.0),
    ("diagnostics_rate_hz", 1.0),
    ("joint_states_topic", "/joint_states"),
    ("diagnostics_topic", "/diagnostics"),
)
OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


def load_section(kind: str, backend: str, drivers_yaml: str) -> dict:
    """``<kind>.<backend>`` of the drivers YAML (``config/drivers.yaml`` when ``drivers_yaml`` is "")."""
    from ifgrasp.paths import CONFIG_DIR

    path = Path(drivers_yaml) if drivers_yaml else CONFIG_DIR / "drivers.yaml"
    if not path.is_file():
        raise ConfigError(f"drivers config not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    return dict((data.get(kind) or {}).get(backend) or {})


def sim_kwargs(kind: str) -> dict:
    """``model``/``data``/names for a sim backend: the default scene, owned by this node alone."""
    from ifgrasp.sim.scene import build_scene
    from ifgrasp.sim.scene_config import SceneConfig

    scene = build_scene(SceneConfig.default())
    names = list(scene.arm_joint_names if kind == "arm" else scene.hand_joint_names)
    return {"model": scene.model, "data": scene.data, "joint_names": names, "actuator_names": names}


class DriverNode(Node):
    """``kind`` (arm/hand) device node; ``params`` = the node's extra (name, default) declarations;
    ``build(params) -> (driver, hardware_id)`` makes the (unconnected) driver for the chosen backend."""

    def __init__(self, name: str, kind: str, params, build) -> None:
        super().__init__(name)
        p = {n: self.declare_parameter(n, d).value for n, d in (*COMMON_PARAMS, *params)}
        for key in ("rate_hz", "joint_state_rate_hz", "diagnostics_rate_hz"):
            if p[key] <= 0:
                raise ConfigError(f"parameter '{key}' must be > 0, got {p[key]}")
        self.p, self.kind = p, kind
        self.driver, self.hardware_id = build(p)
        self.driver.connect()  # DriverError here: run_node prints one line and exits 1
        self.state = None  # last good ifgrasp.drivers.JointState
        self.read_error: str | None = None
        qos = QoSProfile(depth=10)
        self.pub_joints = self.create_publisher(JointState, p["joint_states_topic"], qos)
        self.pub_diag = self.create_publisher(DiagnosticArray, p["diagnostics_topic"], qos)
        self.endpoint = DriverEndpoint(self, self.driver, f"/ifgrasp/{kind}", kind, p["rate_hz"])
        self.create_timer(1.0 / p["joint_state_rate_hz"], self.publish_joint_states)
        self.create_timer(1.0 / p["diagnostics_rate_hz"], self.publish_diagnostics)
        self.get_logger().info(f"{name}: {p['backend']} {kind} on {self.hardware_id} connected; "
                               f"/ifgrasp/{kind}/{{joint_trajectory,status,stop,recover}}")

    def publish_joint_states(self) -> None:
        try:
            s = self.driver.read_state()
        except IfgraspError as exc:  # the driver holds and records the fault; report, keep running
            if self.read_error != str(exc):
                self.get_logger().error(f"{self.kind} read failed: {exc}")
            self.read_error = str(exc)
            return
        self.state, self.read_error = s, None
        self.pub_joints.publish(joint_state_msg(s.names, s.position_rad, s.velocity_rad_s,
                                                self.get_clock().now().to_msg(), effort=s.effort))

    def diagnostics(self) -> DiagnosticArray:
        """The device status and one status per joint, from the last reading."""
        d, s = self.driver, self.state
        problems = [m for m in (d.fault, self.read_error) if m] + (list(s.errors) if s is not None else [])
        stopped = not d.safety.enabled
        level = ERROR if problems else (WARN if stopped else OK)
        message = "; ".join(dict.fromkeys(problems)) or ("stopped: call recover" if stopped else "ok")
        active = self.endpoint.active
        device = DiagnosticStatus(level=level, name=f"ifgrasp/{self.kind}", message=message,
                                  hardware_id=self.hardware_id, values=[
                                      KeyValue(key="backend", value=self.p["backend"]),
                                      KeyValue(key="fault", value=d.fault or ""),
                                      KeyValue(key="stopped", value=str(stopped).lower()),
                                      KeyValue(key="command_id", value=str(active["id"]) if active else "")])
        out = DiagnosticArray(status=[device])
        out.header.stamp = self.get_clock().now().to_msg()
        if s is None:
            return out
        ids = getattr(getattr(d, "config", None), "motor_ids", None)  # LEAP: errors name "motor <id>:"
        tags = [f"motor {i}:" for i in ids] if ids else [f"{n}:" for n in s.names]
        for name, tag, q, eff, temp in zip(s.names, tags, s.position_rad, s.effort, s.temperature_c):
            errs = [e for e in s.errors if e.startswith(tag)]
            out.status.append(DiagnosticStatus(
                level=ERROR if errs else OK, name=f"ifgrasp/{self.kind}/{name}", message="; ".join(errs) or "ok",
                hardware_id=self.hardware_id, values=[
                    KeyValue(key="position_rad", value=f"{q:.4f}"),
                    KeyValue(key=f"effort_{s.effort_unit}", value=f"{eff:.4f}"),
                    KeyValue(key="temperature_c", value="" if np.isnan(temp) else f"{temp:.1f}")]))
        return out

    def publish_diagnostics(self) -> None:
        self.pub_diag.publish(self.diagnostics())

    def destroy_node(self) -> None:
        try:
            self.driver.disconnect()  # holds (torque stays on), releases the port / socket
        except IfgraspError as exc:
            self.get_logger().error(f"{self.kind} disconnect: {exc}")
        super().destroy_node()


def check_backend(kind: str, backend: str, allowed: tuple[str, ...]) -> None:
    if backend not in allowed:
        raise ConfigError(f"unknown {kind} backend '{backend}'; known: {known(allowed)}")


def build_driver(kind: str, p: dict, overrides: dict | None = None, **kwargs):
    """``make_driver`` for ``p['backend']`` with the YAML section updated by ``overrides``; sim
    backends get their own scene. Returns the (unconnected) driver and the section used."""
    section = {**load_section(kind, p["backend"], p["drivers_yaml"]), **(overrides or {})}
    if p["backend"] == "sim":
        kwargs.update(sim_kwargs(kind))
    return make_driver(kind, p["backend"], section, **kwargs), section
