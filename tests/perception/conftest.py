"""Synthetic RGB-D scenes by exact ray casting (table plane + axis-aligned boxes), with ground-truth
object / part labels: an independent reference for the perception code. Also tiny random OWLv2 / SAM
checkpoints saved to a temporary folder (no downloads)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from ifgrasp.types import CameraIntrinsics, RGBDFrame


@dataclass
class Box:
    """Axis-aligned box in the base frame: object ``oid``, part ``pid`` (global id), RGB colour."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    oid: int
    pid: int
    rgb: tuple[int, int, int]


def look_at(eye, target) -> np.ndarray:
    """T_base_camera of an optical frame (x right, y down, z forward) at ``eye`` looking at ``target``."""
    f = np.asarray(target, float) - eye
    f /= np.linalg.norm(f)
    right = np.cross(f, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(f, right)
    T = np.eye(4)
    T[:3, :3] = np.stack([right, down, f], axis=1)
    T[:3, 3] = eye
    return T


def render(boxes: list[Box], intr: CameraIntrinsics, T_base_camera: np.ndarray) -> RGBDFrame:
    """Ray-cast the table (z = 0, grey) and the boxes; depth is the optical z of the first hit."""
    v, u = np.mgrid[0:intr.height, 0:intr.width]
    rays_c = np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, np.ones_like(u, float)], -1)  # (H, W, 3)
    d = rays_c @ T_base_camera[:3, :3].T  # (H, W, 3) base frame, optical z = 1 per unit t
    o = T_base_camera[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_table = np.where(d[..., 2] < 0, -o[2] / d[..., 2], np.inf)
        best_t, oid, pid = t_table, np.full(u.shape, -1), np.full(u.shape, -1)
        color = np.full((*u.shape, 3), 128, np.uint8)
        for b in boxes:
            t1, t2 = (np.asarray(b.lo) - o) / d, (np.asarray(b.hi) - o) / d
            tmin, tmax = np.minimum(t1, t2).max(-1), np.maximum(t1, t2).min(-1)
            hit = (tmax >= tmin) & (tmin > 0) & (tmin < best_t)
            best_t = np.where(hit, tmin, best_t)
            oid, pid = np.where(hit, b.oid, oid), np.where(hit, b.pid, pid)
            color[hit] = b.rgb
    depth = np.where(np.isfinite(best_t), best_t, 0.0).astype(np.float32)
    return RGBDFrame(color=color, depth_m=depth, intrinsics=intr, T_base_camera=T_base_camera,
                     object_ids=oid.astype(np.int32), part_ids=pid.astype(np.int32))


def mug(oid: int, x: float, y: float, rgb, size: float = 0.08) -> list[Box]:
    """A box "mug" body with a thin "handle" box on its -y side; part ids 10 * oid (body), + 1 (handle)."""
    s = size / 2
    return [Box((x - s, y - s, 0), (x + s, y + s, 2 * s * 1.2), oid, 10 * oid, rgb),
            Box((x - s / 3, y - s - 0.025, 0.03), (x + s / 3, y - s, 0.08), oid, 10 * oid + 1, rgb)]


@pytest.fixture(scope="session")
def intr() -> CameraIntrinsics:
    return CameraIntrinsics(width=160, height=120, fx=150.0, fy=150.0, cx=80.0, cy=60.0)


@pytest.fixture(scope="session")
def T_cam() -> np.ndarray:
    return look_at(np.array([0.0, 0.0, 0.55]), np.array([0.45, 0.0, 0.0]))


@pytest.fixture(scope="session")
def scene(intr, T_cam):
    """Two mugs (red at y = +0.12, blue at y = -0.12) and a green 'bottle' box in the middle."""
    boxes = (mug(1, 0.45, 0.12, (220, 30, 30)) + mug(2, 0.45, -0.12, (30, 40, 220))
             + [Box((0.42, -0.03, 0), (0.48, 0.03, 0.15), 3, 30, (30, 200, 40))])
    frame = render(boxes, intr, T_cam)
    tables = dict(object_categories={1: "mug", 2: "mug", 3: "bottle"},
                  part_names={10: "body", 11: "handle", 20: "body", 21: "handle", 30: "body"})
    return frame, boxes, tables


@pytest.fixture(scope="session")
def render_fn():
    return render


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Tiny random OWLv2 + SAM saved with ``save_pretrained`` into ``<tmp>/owlv2`` and ``<tmp>/sam``."""
    import torch
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import (CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessorPil,
                              Owlv2Processor, SamConfig, SamImageProcessorPil, SamModel, SamProcessor)

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("pretrained")
    vocab: dict[str, int] = {}
    for c in ByteLevel.alphabet():  # byte-level characters, no merges: every word spells out
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    vocab["<|startoftext|>"] = len(vocab)  # OWLv2 masks queries whose first id is 0: keep specials last
    vocab["<|endoftext|>"] = len(vocab)
    tok = CLIPTokenizer(vocab=vocab, merges=[])
    owl_cfg = Owlv2Config(
        text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=64, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=64, patch_size=16),
        projection_dim=32)
    Owlv2ForObjectDetection(owl_cfg).save_pretrained(root / "owlv2")
    Owlv2Processor(image_processor=Owlv2ImageProcessorPil(size={"height": 64, "width": 64}),
                   tokenizer=tok).save_pretrained(root / "owlv2")
    sam_cfg = SamConfig(
        vision_config=dict(hidden_size=32, output_channels=32, num_hidden_layers=1, num_attention_heads=2,
                           mlp_dim=64, image_size=64, patch_size=16, num_pos_feats=16, global_attn_indexes=[0],
                           window_size=2),
        prompt_encoder_config=dict(hidden_size=32, image_size=64, patch_size=16, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=64, num_hidden_layers=1, num_attention_heads=2,
                                 iou_head_hidden_dim=32))
    SamModel(sam_cfg).save_pretrained(root / "sam")
    SamProcessor(image_processor=SamImageProcessorPil(size={"longest_edge": 64},
                                                      pad_size={"height": 64, "width": 64})).save_pretrained(root / "sam")
    return root
