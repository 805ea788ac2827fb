"""xArm round trips through the real ``xarm-python-sdk`` against the controller emulator.

The emulator runs in its own process on loopback, so the numbers are what the SDK and our driver
add per call (a real controller adds the Ethernet hop and its own cycle).

    stats = xarm_roundtrip(n=500)   # {name: LatencyStats}
"""

from __future__ import annotations

import time

import numpy as np

from ifgrasp.timing import LatencyStats, measure

Q0 = np.array([0.0, -0.6, 0.0, 0.915, 0.0, 1.516, 0.0])  # config/scene.yaml ready pose, rad


def xarm_roundtrip(n: int = 500, rates_hz: tuple[float, ...] = (100.0, 250.0)) -> dict[str, LatencyStats]:
    """Per call: SDK ``get_joint_states``, SDK ``set_servo_angle_j``, driver ``read_state`` +
    ``send_command`` (safety filter included); and the tick period of a servo stream (``n`` ticks of
    command + read, a 0.5 Hz sine on joint 1) at each rate in ``rates_hz``."""
    from ifgrasp.drivers.emulation.xarm_controller import EmulatorProcess
    from ifgrasp.drivers.safety import SafetyConfig
    from ifgrasp.drivers.xarm.backend import XArm7, XarmConfig

    out: dict[str, LatencyStats] = {}
    with EmulatorProcess(q0_rad=Q0) as (cmd_port, rep_port):
        cfg = XarmConfig(ip="127.0.0.1", command_port=cmd_port, report_port=rep_port,
                         safety=SafetyConfig(max_step_rad=0.05, velocity_scale=0.5, watchdog_timeout_s=1.0))
        with XArm7(cfg) as arm:
            api = arm.api
            q = arm.read_state().position_rad
            out["sdk get_joint_states"] = measure("sdk get_joint_states",
                                                  lambda: api.get_joint_states(is_radian=True), n)
            out["sdk set_servo_angle_j"] = measure("sdk set_servo_angle_j",
                                                   lambda: api.set_servo_angle_j(q.tolist(), is_radian=True), n)

            def tick():
                arm.send_command(arm.read_state().position_rad)

            out["driver read_state + send_command"] = measure("driver read_state + send_command", tick, n)
            for rate_hz in rates_hz:
                periods = []
                t0 = last = time.perf_counter()
                for i in range(n):
                    arm.send_command(q + 0.05 * np.sin(np.pi * (time.perf_counter() - t0)) * np.eye(7)[0])
                    arm.read_state()
                    time.sleep(max(0.0, t0 + (i + 1) / rate_hz - time.perf_counter()))
                    now = time.perf_counter()
                    periods.append(now - last)
                    last = now
                out[f"servo stream tick at {rate_hz:g} Hz"] = LatencyStats("stream", np.asarray(periods))
    return out
