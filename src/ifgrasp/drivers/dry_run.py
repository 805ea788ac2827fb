"""First power-on dry run: connect, read, move nothing.

    python -m ifgrasp.drivers.dry_run hand --port /dev/serial/by-id/usb-FTDI...  # torque off, prints
    python -m ifgrasp.drivers.dry_run hand --emulate                               # against the emulator
    python -m ifgrasp.drivers.dry_run arm --ip 192.168.1.209                       # reads only

The hand is configured (mode, PID, current limit), then torque is turned off so the fingers can
be moved by hand while the joint angles (our convention, rad) and temperatures print.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def run_hand(port: str | None, seconds: float, emulate: bool) -> None:
    from ifgrasp.drivers.leap.backend import LeapConfig, LeapHand

    bus = None
    if emulate:
        from ifgrasp.drivers.emulation.dynamixel_bus import EmulatedDynamixelBus

        bus = EmulatedDynamixelBus(range(16))
        port = bus.port
    try:
        with LeapHand(LeapConfig(port=port)) as hand:
            hand.torque_off()
            t_end = time.monotonic() + seconds
            while time.monotonic() < t_end:
                s = hand.read_state()
                print("q_rad", np.round(s.position_rad, 3).tolist(), "max_temp_c", np.nanmax(s.temperature_c),
                      "errors", list(s.errors) or "none", flush=True)
                time.sleep(0.5)
    finally:
        if bus is not None:
            bus.close()


def run_arm(ip: str, seconds: float) -> None:
    from ifgrasp.drivers.xarm.backend import XArm7, XarmConfig

    with XArm7(XarmConfig(ip=ip)) as arm:
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            s = arm.read_state()
            print("q_rad", np.round(s.position_rad, 3).tolist(), "errors", list(s.errors) or "none", flush=True)
            time.sleep(0.5)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("device", choices=["hand", "arm"])
    p.add_argument("--port", default="/dev/ttyUSB0")
    p.add_argument("--ip", default="192.168.1.209")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--emulate", action="store_true", help="hand only: use the emulated bus")
    a = p.parse_args(argv)
    run_hand(a.port, a.seconds, a.emulate) if a.device == "hand" else run_arm(a.ip, a.seconds)


if __name__ == "__main__":
    main()
