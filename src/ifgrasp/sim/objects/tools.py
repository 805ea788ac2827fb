"""Tools: hammer (handle, head), knife (blade, handle), power drill (body, grip, trigger),
spray bottle (body, trigger, nozzle).

Builders take a seeded generator and ``heldout`` (shape variants kept for the held-out family)
and return (convex piece, part name) pairs in a provisional frame (x forward, z up, metres).
Hammer and knife lie flat (handle along x); drill and spray bottle stand upright.
"""

from __future__ import annotations

import numpy as np

from ifgrasp.sim.objects import primitives as P
from ifgrasp.sim.objects.vessels import Pieces


def _x_axis_prism(profile_yz: np.ndarray, x0_m: float, x1_m: float, z_m: float) -> P.trimesh.Trimesh:
    """Extrude a convex (y, z) profile along +x from ``x0`` to ``x1``, centred at height ``z``."""
    R = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # local (x,y,z) -> (y,z,x)
    return P.prism(profile_yz, x0_m, x1_m, P.pose(R, (0.0, 0.0, z_m)))


def hammer(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Claw-less (train) or claw (held-out) hammer lying flat: wooden handle along +x, steel head along y.

    Held-out also has a round instead of an oval handle.
    """
    length = rng.uniform(0.26, 0.32)
    hy, hz = (0.013, 0.013) if heldout else (rng.uniform(0.014, 0.017), rng.uniform(0.010, 0.012))
    zc = 0.014  # handle axis height before the resting shift (m)
    path = np.array([[0.0, 0.0, zc], [length * 0.5, 0.0, zc], [length, 0.0, zc]])
    # oval section: tube radius along z (v direction), squash scales the in-plane (y) half width
    grip = P.tube(path, np.array([hz * 1.1, hz * 0.95, hz]), n=16, up=(0.0, 0.0, 1.0), squash=hy / hz)
    pieces: Pieces = [(g, "handle") for g in grip]
    hl = rng.uniform(0.09, 0.11)  # head length along y
    hs = rng.uniform(0.02, 0.024)  # head square section
    xh = length - hs * 0.5 + 0.004
    y_mid = hy + 0.004  # the main block covers the handle end; the peen continues from there
    pieces.append((P.box((hs, y_mid + hl / 2, hs), (xh, 0.5 * (y_mid - hl / 2), zc)), "head"))
    # striking face: short octagonal cylinder on -y
    face = P.circle(hs * 0.6, 12)
    y_face = -hl * 0.5
    pts = np.concatenate([np.column_stack([face[:, 0] + xh, np.full(12, y), face[:, 1] + zc]) for y in (y_face, y_face + 0.03)])
    pieces.append((P.hull(pts), "head"))
    if heldout:  # claw: a wedge tapering towards +y
        wedge = np.array([[xh - hs / 2, y_mid - 0.002, zc - hs / 2], [xh + hs / 2, y_mid - 0.002, zc - hs / 2],
                          [xh - hs / 2, y_mid - 0.002, zc + hs / 2], [xh + hs / 2, y_mid - 0.002, zc + hs / 2],
                          [xh - hs / 2, hl * 0.5, zc - 0.003], [xh + hs / 2, hl * 0.5, zc - 0.003],
                          [xh - hs / 2, hl * 0.5, zc + 0.003], [xh + hs / 2, hl * 0.5, zc + 0.003]])
        pieces.append((P.hull(wedge), "head"))
    else:  # flat peen on +y
        pieces.append((P.box((hs * 0.85, hl / 2 - y_mid + 0.002, hs * 0.85), (xh, 0.5 * (y_mid + hl / 2), zc)), "head"))
    return pieces


def knife(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Kitchen knife lying flat: handle along x, thin steel blade in the x-y plane.

    Train: chef's knife (edge curving up to the tip). Held-out: sheepsfoot/santoku (spine curving down).
    """
    lh = rng.uniform(0.105, 0.13)  # handle length
    wh, th = rng.uniform(0.021, 0.026), rng.uniform(0.016, 0.02)  # handle width (y), thickness (z)
    zc = th / 2
    pieces: Pieces = [(_x_axis_prism(P.rounded_rect(wh / 2, th / 2, 0.006), 0.0, lh, zc), "handle")]
    lb = rng.uniform(0.15, 0.21)  # blade length
    wb = rng.uniform(0.035, 0.048)  # blade height at the heel
    x0 = lh - 0.008  # tang overlaps the handle
    s = np.linspace(0.0, 1.0, 10)
    xs = x0 + 0.008 + s * lb
    if heldout:
        spine = np.column_stack([xs, wb / 2 - wb * 0.85 * s**3])
        edge = np.array([[xs[-1], -wb / 2], [x0, -wb / 2]])
    else:
        spine = np.array([[x0, wb / 2], [xs[-1], wb / 2 - wb * 0.15]])
        edge = np.column_stack([xs, -wb / 2 + wb * 0.8 * s**3])[::-1]
    profile = np.concatenate([[[x0, wb / 2]], spine, edge])
    y_off = wh * 0.1
    blade = P.prism(profile + [0.0, y_off], zc - 0.001, zc + 0.001)
    return pieces + [(blade, "blade")]


def power_drill(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Cordless drill standing on its battery: motor body along +x, pistol grip, trigger.

    Held-out: boxy body section and a steeper grip.
    """
    bx, by, bh = rng.uniform(0.07, 0.085), rng.uniform(0.06, 0.07), rng.uniform(0.045, 0.06)  # battery
    pieces: Pieces = [(P.box((bx, by, bh), (0.0, 0.0, bh / 2)), "body")]
    lg = rng.uniform(0.095, 0.115)  # grip length
    lean = np.deg2rad(rng.uniform(18.0, 24.0) if heldout else rng.uniform(8.0, 14.0))
    top_x = lg * np.tan(lean)
    grip_bot = P.rounded_rect(0.021, 0.016, 0.008)  # (x depth, y width) half sizes
    grip_top = P.rounded_rect(0.019, 0.015, 0.008)
    pieces.append((P.tapered_prism(grip_bot, bh - 0.005, grip_top + [top_x, 0.0], bh + lg + 0.01), "grip"))
    rb = rng.uniform(0.027, 0.032)  # motor body radius
    zb = bh + lg + rb - 0.006
    x_rear, x_front = top_x - rng.uniform(0.055, 0.07), top_x + rng.uniform(0.09, 0.11)
    sec = P.rounded_rect(rb * 0.95, rb, 0.01) if heldout else P.circle(rb, 24)
    pieces.append((_x_axis_prism(sec, x_rear, x_front, zb), "body"))
    chuck = np.array([[rb * 0.7, 0.0], [0.012, rng.uniform(0.035, 0.045)]])  # (radius, length) at both ends
    cr = np.concatenate([np.column_stack([np.full(16, x_front - 0.002 + l), c[:, 0], c[:, 1] + zb])
                         for (r, l) in chuck for c in [P.circle(r, 16)]])
    pieces.append((P.hull(cr), "body"))
    # trigger: a small block on the grip's front face, just under the body
    tz1 = zb - rb + 0.002
    tz0 = tz1 - rng.uniform(0.022, 0.028)
    tx0 = top_x * ((tz0 - bh) / lg) + 0.015
    pieces.append((P.box((0.02, 0.012, tz1 - tz0), (tx0 + 0.01, 0.0, 0.5 * (tz0 + tz1))), "trigger"))
    return pieces


def spray_bottle(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Trigger spray bottle: liquid body and neck, sprayer head (body), curved trigger, nozzle (+x).

    Train: round body. Held-out: flat oval body.
    """
    hb = rng.uniform(0.14, 0.18)
    r = rng.uniform(0.03, 0.035)
    sec = P.ellipse(r * 1.2, r * 0.75, 32) if heldout else P.circle(r, 32)
    pieces: Pieces = [(P.prism(sec, 0.0, hb), "body")]
    pieces.append((P.tapered_prism(sec * 0.98, hb - 0.001, P.circle(0.014, 24), hb + 0.02), "body"))
    z_neck = hb + 0.02
    pieces.append((P.cylinder(0.014, z_neck - 0.002, z_neck + 0.03, 24), "body"))
    zh0, zh1 = z_neck + 0.026, z_neck + rng.uniform(0.06, 0.07)  # sprayer head
    front = rng.uniform(0.055, 0.065)
    head = P.rounded_rect(0.5 * (front + 0.02), 0.014, 0.006) + [0.5 * (front - 0.02), 0.0]
    pieces.append((P.tapered_prism(head, zh0, head * [1.0, 0.85], zh1), "body"))
    zn = zh1 - rng.uniform(0.01, 0.014)
    rn = rng.uniform(0.006, 0.0075)
    pieces.append((_x_axis_prism(P.circle(rn, 12) + [0.0, 0.0], front - 0.004, front + 0.012, zn), "nozzle"))
    # trigger: a curved lever hanging under the front of the head, with a finger gap to the neck
    xt = front - 0.012
    lt = zh0 + 0.004 - (z_neck - rng.uniform(0.004, 0.008))  # ends just above the shoulder
    a = np.linspace(0.0, 1.0, 5)
    path = np.column_stack([xt + 0.012 * np.sin(a * np.pi * 0.8), np.zeros(5), zh0 + 0.004 - a * lt])
    lever = P.tube(path, 0.008, n=10, up=(0.0, 1.0, 0.0), squash=0.65)
    return pieces + [(p, "trigger") for p in lever]
