"""First power-on dry run: connect, read, move nothing.

    python -m ifgrasp.drivers.dry_run hand --port /dev/serial/by-id/usb-FTDI...  # torque off, prints
    python -m ifgrasp.drivers.dry_run hand --emulate                               # against the emulator
    python -m ifgrasp.drivers.dry_run arm --ip 192.168.1.209                       # reads only
    python -m ifgrasp.drivers.dry_run arm --emulate          # real SDK against the controller emulator

The hand is configured (mode, Return Delay Time 0, PID, current limit), then torque is turned off
so the fingers can be moved by hand while the joint angles (our convention, rad) and temperatures
print. First it prints the bus: the USB latency timer read from sysfs (with the command that sets
it to 1 ms), the Return Delay Time, the bus budget (seconds per state read and per goal write from
the baud, packet sizes, return delay and latency timer) and the state rate the driver keeps to.
The arm is connected read-only: nothing is enabled, configured or cleared (``--clear-errors``
clears a controller error after you fixed its cause).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from ifgrasp.drivers.leap import control_table as ct


def bus_report(hand) -> list[str]:
    """Lines on the hand's bus: USB latency timer (sysfs), Return Delay Time, the bus budget, the state rate."""
    from ifgrasp.drivers.leap.bus_budget import DEFAULT_LATENCY_TIMER_MS

    cfg = hand.config
    tty = os.path.basename(os.path.realpath(cfg.port))
    lt = hand.latency_timer_ms
    if lt is None:
        given = f"{cfg.latency_timer_ms:g} ms as configured" if cfg.latency_timer_ms else \
            f"{DEFAULT_LATENCY_TIMER_MS:g} ms (the FTDI default)"
        lines = [f"USB latency timer: {cfg.port} is not a USB serial adapter (no /sys/bus/usb-serial/devices/{tty}); "
                 f"the budget assumes {given}"]
    elif lt > 1:
        lines = [f"USB latency timer: {lt:g} ms (/sys/bus/usb-serial/devices/{tty}/latency_timer): too slow, each "
                 f"state read waits up to {lt:g} ms; set 1 ms: echo 1 | sudo tee "
                 f"/sys/bus/usb-serial/devices/{tty}/latency_timer (docs/hardware.md: the udev rule keeps it)"]
    else:
        lines = [f"USB latency timer: {lt:g} ms (/sys/bus/usb-serial/devices/{tty}/latency_timer): ok"]
    changed = [c for c in hand.eeprom_changes if f"address {ct.RETURN_DELAY_TIME[0]} " in c]
    lines.append(f"Return Delay Time: {cfg.return_delay_time} (x 2 us) on every motor"
                 + (f"; set now on {len(changed)} motors (was {changed[0].split()[-3]})" if changed else ", already set"))
    lines.append(hand.bus_budget.describe())
    lines.append(f"state rate: {hand.state_rate_hz:.0f} states/s (configured {cfg.state_rate_hz:g}, capped by the budget)")
    return lines


def run_hand(port: str | None, seconds: float, emulate: bool) -> None:
    from ifgrasp.drivers.leap.backend import LeapConfig, LeapHand

    bus, extra = None, {}
    if emulate:
        from ifgrasp.drivers.emulation.dynamixel_bus import EmulatedDynamixelBus

        bus = EmulatedDynamixelBus(range(16), wire_timing=True)
        port, extra = bus.port, {"latency_timer_ms": bus.latency_timer_ms}
    try:
        with LeapHand(LeapConfig(port=port, **extra)) as hand:
            hand.torque_off()
            for line in bus_report(hand):
                print(line, flush=True)
            t_end = time.monotonic() + seconds
            while time.monotonic() < t_end:
                s = hand.read_state()
                print("q_rad", np.round(s.position_rad, 3).tolist(), "max_temp_c", np.nanmax(s.temperature_c),
                      "errors", list(s.errors) or "none", flush=True)
                time.sleep(0.5)
    finally:
        if bus is not None:
            bus.close()


def run_arm(ip: str, seconds: float, emulate: bool = False, clear_errors: bool = False) -> None:
    """Connect read-only (no enable, no mode change, no motion) and print joints and controller errors.

    An arm in error is refused with its code unless ``clear_errors`` (``--clear-errors``).
    ``emulate`` runs the real SDK against ``XArmControllerEmulator`` on loopback.
    """
    from ifgrasp.drivers.xarm.backend import XArm7, XarmConfig

    emu = None
    cfg = XarmConfig(ip=ip)
    if emulate:
        from ifgrasp.drivers.emulation.xarm_controller import XArmControllerEmulator

        emu = XArmControllerEmulator(q0_rad=[0.0, -0.6, 0.0, 0.915, 0.0, 1.516, 0.0]).start()
        cfg = XarmConfig(ip="127.0.0.1", command_port=emu.command_port, report_port=emu.report_port)
    try:
        with XArm7(cfg, read_only=True, clear_errors=clear_errors) as arm:
            t_end = time.monotonic() + seconds
            while True:
                s = arm.read_state()
                print("q_rad", np.round(s.position_rad, 3).tolist(), "errors", list(s.errors) or "none", flush=True)
                if time.monotonic() >= t_end:
                    break
                time.sleep(0.5)
    finally:
        if emu is not None:
            emu.close()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("device", choices=["hand", "arm"])
    p.add_argument("--port", default="/dev/ttyUSB0")
    p.add_argument("--ip", default="192.168.1.209")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--emulate", action="store_true", help="use the emulated bus / controller")
    p.add_argument("--clear-errors", action="store_true", help="arm: clear a controller error on connect")
    a = p.parse_args(argv)
    run_hand(a.port, a.seconds, a.emulate) if a.device == "hand" else run_arm(a.ip, a.seconds, a.emulate,
                                                                              a.clear_errors)


if __name__ == "__main__":
    main()
