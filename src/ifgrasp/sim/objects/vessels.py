"""Vessels: mug (body, handle), teapot (body, handle, spout), bottle (body, cap), frying pan (pan, handle).

Each builder takes a seeded generator and ``heldout`` (shape variants kept for the held-out family)
and returns (convex piece, part name) pairs in a provisional frame (x forward, z up, metres);
``base.assemble`` moves them to the resting frame. Sizes follow typical kitchenware.
"""

from __future__ import annotations

import numpy as np
import trimesh

from ifgrasp.sim.objects import primitives as P

Pieces = list[tuple[trimesh.Trimesh, str]]


def handle_loop(
    x_in_m: float,
    x_out_m: float,
    z_top_m: float,
    z_bot_m: float,
    reach_m: float,
    exponent: float,
    radius_m: float,
    squash: float = 0.8,
    m: int = 11,
) -> list[trimesh.Trimesh]:
    """A loop handle on the +x side in the x-z plane, as convex tube segments.

    Starts inside the wall at (x_in, z_top), leaves it at x_out, bulges out by ``reach`` along a
    superellipse half (``exponent`` 2: round C handle; 4-6: squarish D handle) and re-enters at
    (x_in, z_bot). ``radius_m`` is the half width across (y); ``squash`` thins it in-plane.
    """
    zc, b = 0.5 * (z_top_m + z_bot_m), 0.5 * (z_top_m - z_bot_m)
    th = np.linspace(np.pi / 2, -np.pi / 2, m)  # (m,)
    c, s = np.cos(th), np.sin(th)
    e = 2.0 / exponent
    x = x_out_m + reach_m * np.abs(c) ** e
    z = zc + b * np.sign(s) * np.abs(s) ** e
    loop = np.column_stack([x, np.zeros(m), z])
    path = np.concatenate([[[x_in_m, 0.0, z_top_m]], loop, [[x_in_m, 0.0, z_bot_m]]])
    return P.tube(path, radius_m, n=12, up=(0.0, 1.0, 0.0), squash=squash)


def mug(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Open ceramic cup (hollow: base plate + wall sectors) with a loop handle a finger fits through.

    Train: straight wall, round C handle. Held-out: tapered wall, squarish D handle.
    """
    r = rng.uniform(0.037, 0.044)  # outer radius at the bottom (m)
    h = rng.uniform(0.085, 0.105)
    t = rng.uniform(0.004, 0.0055)  # wall thickness
    flare = rng.uniform(0.004, 0.008) if heldout else 0.0
    n = 20
    pieces: Pieces = [(P.prism(P.circle(r, n), 0.0, 0.007), "body")]
    pieces += [(w, "body") for w in P.annular_sectors(r - t, r, 0.0, r + flare - t, r + flare, h, n)]
    z_top, z_bot = h * rng.uniform(0.78, 0.84), h * rng.uniform(0.22, 0.3)
    r_mid = r + flare * 0.5  # wall outer radius near the handle (flat side of the polygon ~ cos(pi/n))
    wall_x = r_mid * np.cos(np.pi / n)
    loop = handle_loop(
        x_in_m=wall_x - t * 0.5,
        x_out_m=wall_x - 0.001,
        z_top_m=z_top,
        z_bot_m=z_bot,
        reach_m=rng.uniform(0.028, 0.034),
        exponent=5.0 if heldout else 2.0,
        radius_m=rng.uniform(0.0055, 0.007),
    )
    return pieces + [(s, "handle") for s in loop]


def teapot(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Closed round teapot: body of revolution with lid knob, loop handle (-x), tapered spout (+x).

    Held-out: taller body and a squarish handle.
    """
    rb = rng.uniform(0.065, 0.08)  # body radius at the equator (m)
    hb = rb * (rng.uniform(1.45, 1.6) if heldout else rng.uniform(1.15, 1.3))  # body height
    z = np.linspace(0.0, hb, 12)
    zc = 0.45 * hb
    u = (z - zc) / np.where(z > zc, hb - zc, zc)  # -1 at the bottom, +1 at the top
    rz = rb * np.sqrt(np.clip(1.0 - (0.85 * u) ** 2, 0.0, None))  # concave profile: convex solid

    def radius_at(zq: float) -> float:
        return float(np.interp(zq, z, rz))

    pieces: Pieces = [(P.revolve(np.column_stack([rz, z]), n=32), "body")]
    lid_r = radius_at(hb) * 0.9
    pieces.append((P.revolve(np.array([[lid_r, hb - 0.003], [lid_r * 0.8, hb + 0.01], [0.0, hb + 0.014]]), 24), "body"))
    pieces.append((P.ellipsoid((0.012, 0.012, 0.01), (0.0, 0.0, hb + 0.018), subdivisions=2), "body"))
    z_top, z_bot = hb * 0.78, hb * 0.25
    x_attach = min(radius_at(z_top), radius_at(z_bot))
    loop = handle_loop(
        x_in_m=x_attach - 0.012,
        x_out_m=x_attach - 0.003,
        z_top_m=z_top,
        z_bot_m=z_bot,
        reach_m=rng.uniform(0.035, 0.045),
        exponent=5.0 if heldout else 2.0,
        radius_m=rng.uniform(0.006, 0.0075),
    )
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    pieces += [(s.copy().apply_transform(mirror), "handle") for s in loop]
    # spout: quadratic Bezier from inside the body, out and up, tapering
    z0 = hb * 0.3
    p0 = np.array([radius_at(z0) - 0.015, 0.0, z0])
    p2 = np.array([rb + rng.uniform(0.05, 0.065), 0.0, hb * rng.uniform(0.8, 0.95)])
    p1 = np.array([rb + 0.02, 0.0, z0 + 0.01])
    s = np.linspace(0.0, 1.0, 6)[:, None]
    path = (1 - s) ** 2 * p0 + 2 * (1 - s) * s * p1 + s**2 * p2  # (6, 3)
    spout = P.tube(path, np.linspace(0.015, rng.uniform(0.006, 0.008), 6), n=12)
    return pieces + [(p, "spout") for p in spout]


def bottle(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Capped drinks bottle (solid, as if full): body with shoulder and neck, screw cap.

    Train: round body. Held-out: square body with rounded corners.
    """
    r = rng.uniform(0.029, 0.036)
    hb = rng.uniform(0.13, 0.17)  # straight body height
    hs = rng.uniform(0.03, 0.045)  # shoulder height
    rn = rng.uniform(0.012, 0.0145)  # neck radius
    hn = rng.uniform(0.015, 0.022)
    if heldout:
        base = P.rounded_rect(r * 0.92, r * 0.92, 0.008)
        pieces: Pieces = [(P.prism(base, 0.0, hb), "body")]
        pieces.append((P.tapered_prism(base, hb, P.circle(rn, 24), hb + hs), "body"))
    else:
        pieces = [(P.revolve(np.array([[r, 0.0], [r, hb], [rn, hb + hs]]), 32), "body")]
    top = hb + hs + hn
    pieces.append((P.cylinder(rn, hb + hs - 0.002, top, 24), "body"))
    hc = rng.uniform(0.016, 0.022)
    pieces.append((P.cylinder(rn + 0.0025, top - hc + 0.004, top + 0.004, 24), "cap"))
    return pieces


def frying_pan(rng: np.random.Generator, heldout: bool) -> Pieces:
    """Open pan (base plate + flared wall sectors) with a long handle rising from the rim.

    Train: flared wall, flat handle. Held-out: straight (saute) wall, round tube handle.
    """
    rb = rng.uniform(0.085, 0.11)  # bottom radius (m)
    hw = rng.uniform(0.035, 0.05)  # wall height
    flare = 0.0 if heldout else rng.uniform(0.015, 0.025)
    t, n = 0.004, 24
    pieces: Pieces = [(P.prism(P.circle(rb, n), 0.0, 0.005), "pan")]
    pieces += [(w, "pan") for w in P.annular_sectors(rb - t, rb, 0.0, rb + flare - t, rb + flare, hw, n)]
    zh = hw * 0.75
    x0 = (rb + flare * 0.75) * np.cos(np.pi / n) - t * 0.5  # inside the wall at the handle height
    length = rng.uniform(0.16, 0.2)
    tilt = np.deg2rad(rng.uniform(8.0, 15.0))
    d = np.array([np.cos(tilt), 0.0, np.sin(tilt)])  # handle axis
    if heldout:
        path = np.array([x0, 0.0, zh]) + np.linspace(0.0, length, 4)[:, None] * d
        handle = P.tube(path, np.linspace(0.009, 0.011, 4), n=12)
    else:
        T = P.pose(P.rot_y(np.pi / 2 - tilt), (x0, 0.0, zh))  # local z -> handle axis
        prof0, prof1 = P.rounded_rect(0.006, 0.011, 0.004), P.rounded_rect(0.008, 0.014, 0.005)
        handle = [P.tapered_prism(prof0, 0.0, prof1, length, T)]
    return pieces + [(p, "handle") for p in handle]
