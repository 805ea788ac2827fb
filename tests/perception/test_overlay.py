"""The perception node's images, drawn without ROS: the part mask image (255 / 128 / 0) and the
debug overlay (same size as the colour image, tinted only on the object, outlines on the border)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ifgrasp.errors import InputError
from ifgrasp.perception.overlay import OBJECT_VALUE, PART_VALUE, debug_overlay, outline, part_mask_image
from ifgrasp.perception.segmentation import make_overlay

masks = st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(
    lambda hw: st.tuples(arrays(bool, hw), arrays(bool, hw)))


@given(masks)
def test_part_mask_image_values(pair):
    obj, part = pair
    img = part_mask_image(obj, part)
    assert img.dtype == np.uint8 and img.shape == obj.shape
    for (i, j), v in np.ndenumerate(img):  # looped reference
        assert v == (PART_VALUE if part[i, j] else OBJECT_VALUE if obj[i, j] else 0)


@given(arrays(bool, st.tuples(st.integers(1, 10), st.integers(1, 10))))
def test_outline_is_the_mask_minus_its_erosion(mask):
    from scipy.ndimage import binary_erosion

    ref = mask & ~binary_erosion(mask, structure=np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]), border_value=0)
    np.testing.assert_array_equal(outline(mask), ref)


def test_debug_overlay_tints_only_the_target_and_keeps_the_size():
    rng = np.random.default_rng(0)
    color = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    obj = np.zeros((48, 64), bool)
    obj[20:40, 10:30] = True
    part = np.zeros_like(obj)
    part[25:35, 12:20] = True
    out = debug_overlay(color, obj, part, text="oracle: mug / handle")
    assert out.shape == color.shape and out.dtype == np.uint8
    tinted = make_overlay(color, obj, part)
    inner = obj & ~outline(obj) & ~outline(part)
    inner[:16] = False  # the caption's rows
    np.testing.assert_array_equal(out[inner], tinted[inner])
    below = np.zeros_like(obj)
    below[16:] = True
    np.testing.assert_array_equal(out[below & ~obj], color[below & ~obj])  # background untouched
    assert (out[outline(part)] == [255, 60, 40]).all()
    assert not np.array_equal(out[:12], color[:12])  # the caption is drawn


def test_bad_sizes_are_named():
    with pytest.raises(InputError, match=r"does not match"):
        debug_overlay(np.zeros((4, 5, 3), np.uint8), np.zeros((4, 4), bool), np.zeros((4, 4), bool))
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        debug_overlay(np.zeros((4, 5), np.uint8), np.zeros((4, 5), bool), np.zeros((4, 5), bool))
    with pytest.raises(InputError, match=r"does not match"):
        part_mask_image(np.zeros((3, 3), bool), np.zeros((3, 4), bool))
