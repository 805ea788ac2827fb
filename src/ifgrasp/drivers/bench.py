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
    Delay Time 0), a goal write, and the driver's state rate inside the budget."""
    import dynamixel_sdk as dxl

    from ifgrasp.drivers.emulation.dynamixel_bus import EmulatedDynamixelBus
    from ifgrasp.drivers.leap import control_table as ct
    from ifgrasp.drivers.leap.backend import LeapConfig, LeapHand
    from ifgrasp.drivers.limits import JointLimits

    ids = list(range(16))
    lim = JointLimits(tuple(f"j{i}" for i in ids), np.full(16, -1.0), np.full(16, 1.6), np.full(16, 8.0),
                      np.full(16, np.inf))
    rows = []
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
    return rows
