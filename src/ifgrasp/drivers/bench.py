"""LEAP part of ``ifgrasp bench drivers`` (``ifgrasp.bench.bench_drivers``): bus time per LEAP state read and per goal write on the
emulated Dynamixel bus, whose timing is the wire's (baud, Return Delay Time, USB latency timer; see
``ifgrasp.drivers.emulation.dynamixel_bus``), beside the bus budget's prediction
(``ifgrasp.drivers.leap.bus_budget``) and the e3ac308 read path (two sync reads per state at the
factory Return Delay Time) measured in the same run.
"""

from __future__ import annotations

import numpy as np

from ifgrasp.bench import BenchRow
from ifgrasp.timing import measure


def hand_bus_rows(reads: int = 200, latency_timer_ms: float = 1.0, baud: int = 4_000_000) -> list[BenchRow]:
    """Rows: a state read on the e3ac308 path, with one Sync Read and with one Fast Sync Read (Return
    Delay Time 0), a goal write, the driver's state rate inside the budget, and the fast sync read
    without wire timing (the host's own cost on this machine)."""
    import dynamixel_sdk as dxl

    from ifgrasp.drivers.emulation.dynamixel_bus import EmulatedDynamixelBus
    from ifgrasp.drivers.leap import control_table as ct
    from ifgrasp.drivers.leap.backend import LeapConfig, LeapHand
    from ifgrasp.drivers.limits import JointLimits

    ids = list(range(16))
    lim = JointLimits(tuple(f"j{i}" for i in ids), np.full(16, -1.0), np.full(16, 1.6), np.full(16, 8.0),
                      np.full(16, np.inf))
    rows, fast_budget_ms = [], []
    with EmulatedDynamixelBus(ids, baud=baud, wire_timing=True, latency_timer_ms=latency_timer_ms) as bus:
        def hand_with(**cfg) -> LeapHand:
            return LeapHand(LeapConfig(port=bus.port, baud=baud, latency_timer_ms=latency_timer_ms,
                                       bus_watchdog_ms=0, **cfg), limits=lim).connect()

        # e3ac308: the state block and the Hardware Error Status as two sync reads, factory delay
        hand = hand_with(return_delay_time=ct.FACTORY_RETURN_DELAY_TIME, fast_sync_read=False)
        err_reader = dxl.GroupSyncRead(hand._port, hand._ph, *ct.HARDWARE_ERROR_STATUS)
        for i in ids:
            err_reader.addParam(i)
        old = measure("old", lambda: (hand._reader.txRxPacket(), err_reader.txRxPacket()), reads)
        old_budget = hand.budget()
        hand.disconnect()
        rows.append(BenchRow("LEAP state, e3ac308: 2 sync reads, return delay 500 us", old.median_s * 1e3,
                             old.p95_s * 1e3, 1 / old.median_s, "reads/s",
                             f"model (one of the two reads) {old_budget.read_s * 1e3:.2f} ms"))
        for fast in (False, True):
            hand = hand_with(fast_sync_read=fast)
            s = measure("new", hand._read_block, reads)
            b = hand.budget()
            kind = "fast sync read" if fast else "sync read"
            rows.append(BenchRow(f"LEAP state, one {kind}, return delay 0", s.median_s * 1e3, s.p95_s * 1e3,
                                 1 / s.median_s, "reads/s", f"model {b.read_s * 1e3:.2f} ms ({b.read_bytes} B); "
                                 f"{old.median_s / s.median_s:.1f}x faster than e3ac308"))
            if fast:
                fast_budget_ms.append(b.read_s * 1e3)
                q = hand.read_state().position_rad
                w = measure("write", lambda: hand._write(q), reads)
                rows.append(BenchRow("LEAP goal write (one sync write, host side)", w.median_s * 1e3, w.p95_s * 1e3,
                                     1 / w.median_s, "writes/s", f"bus time (model) {b.write_s * 1e3:.2f} ms, "
                                     f"{b.write_bytes} B"))
                rows.append(BenchRow("LEAP driver state rate (bus budget)", float("nan"), float("nan"),
                                     hand.state_rate_hz, "states/s", f"budget max {b.max_state_rate_hz:.0f}/s at "
                                     f"{100 * b.bus_share:.0f}% of the bus; configured "
                                     f"{hand.config.state_rate_hz:.0f}/s; latency timer {latency_timer_ms:g} ms"))
            hand.disconnect()
    # the same fast sync read with the wire timing off: what the host, the SDK and the emulator process
    # cost on this machine (scheduling), to tell bus time from overhead on a loaded machine
    with EmulatedDynamixelBus(ids, baud=baud) as bus:
        hand = LeapHand(LeapConfig(port=bus.port, baud=baud, latency_timer_ms=latency_timer_ms, bus_watchdog_ms=0),
                        limits=lim).connect()
        floor = measure("floor", hand._read_block, reads)
        hand.disconnect()
    fast = rows[2]
    rows.append(BenchRow("LEAP state, fast sync read, no wire timing (host floor)", floor.median_s * 1e3,
                         floor.p95_s * 1e3, 1 / floor.median_s, "reads/s",
                         f"wire timing adds {fast.median_ms - floor.median_s * 1e3:.2f} ms median (model "
                         f"{fast_budget_ms[0]:.2f} ms)"))
    return rows
