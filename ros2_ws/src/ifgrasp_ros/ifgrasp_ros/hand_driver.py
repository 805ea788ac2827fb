"""``hand_driver``: the LEAP Hand (or a sim hand) behind the driver interface (``driver_node.DriverNode``).

    hand_driver --ros-args -p backend:=leap -p port:=/dev/serial/by-id/usb-FTDI_...-if00-port0

``backend``: ``leap`` (``ifgrasp.drivers.leap``: 16 Dynamixel motors, current-based position
control, current limit and PID written at connect, temperature and hardware-error status on
/diagnostics; ``/ifgrasp/hand/recover`` reboots motors with a hardware error and configures them
again) or ``sim`` (a MuJoCo hand of the default scene owned by this node). ``port`` overrides
``config/drivers.yaml``'s ``hand.leap.port``; ``current_limit_ma`` (> 0) its current limit (refused
above ``current_hard_max_ma``). A missing motor ID, a busy port or a silent bus refuses the start
with one line naming the IDs / the holder; a hot or overloaded motor at start leaves the node up,
faulted and holding (/diagnostics, then ``recover``). The hand opens only on an empty trajectory
(request); a stop, a fault, the watchdog and shutdown keep a latched grasp's squeeze goal.
Parameters: config/hand_driver.yaml; topics and services: ``driver_node``.
"""

from __future__ import annotations

from ifgrasp_ros.driver_node import DriverNode, build_driver, check_backend
from ifgrasp_ros.node_main import run_node

PARAMS = (
    ("backend", "leap"),           # leap | sim
    ("port", ""),                  # "" = hand.leap.port of the drivers YAML
    ("current_limit_ma", 0),       # 0 = hand.leap.current_limit_ma of the drivers YAML
)


def build(p: dict):
    check_backend("hand", p["backend"], ("leap", "sim"))
    if p["backend"] == "sim":
        return build_driver("hand", p)[0], "mujoco"
    overrides = {k: p[k] for k in ("port", "current_limit_ma") if p[k]}
    driver = build_driver("hand", p, overrides=overrides)[0]
    return driver, f"LEAP Hand on {driver.config.port}"


class HandDriverNode(DriverNode):
    def __init__(self) -> None:
        super().__init__("hand_driver", "hand", PARAMS, build)
        budget = getattr(self.driver, "bus_budget", None)
        if budget is not None:  # LEAP: what the bus allows and the state rate kept to
            self.get_logger().info(f"{budget.describe()}; reading {self.driver.state_rate_hz:.0f} states/s")
            if self.driver.fault:
                self.get_logger().error(f"hand faulted at start, holding: {self.driver.fault}")


def main(args=None) -> int:
    return run_node(HandDriverNode, args, default_params="hand_driver.yaml")


if __name__ == "__main__":
    raise SystemExit(main())
