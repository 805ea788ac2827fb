"""`ifgrasp demo` v0: the default scene rendered to pictures a person can look at."""

import numpy as np
from PIL import Image

from ifgrasp.demo import run_demo


def test_run_demo_writes_the_pictures(tmp_path):
    lines: list[str] = []
    result = run_demo("pick up the mug by its handle", out_dir=tmp_path, seed=1, echo=lines.append)
    sizes = {"color": (640, 480), "depth": (730, 480), "parts": (870, 480), "scene_overview": (960, 744)}
    assert set(result.images) == set(sizes)
    for name, size in sizes.items():
        path = tmp_path / f"{name}.png"
        assert result.images[name] == path and path.stat().st_size > 10_000
        img = np.asarray(Image.open(path))
        assert (img.shape[1], img.shape[0]) == size
        assert img.std() > 10  # not a blank picture
    parts = np.asarray(Image.open(tmp_path / "parts.png"))
    color = np.asarray(Image.open(tmp_path / "color.png"))
    assert np.any(parts[:, :640] != color)  # objects are tinted
    assert any("mug" in n for n in result.object_names)
    assert all(n.endswith("_0001") for n in result.object_names)  # seed 1 varies every object
    text = "\n".join(lines)
    assert "not executed yet" in text and "pick up the mug by its handle" in text
    for stage in ("scene", "render", "overview", "write"):
        assert f"[{stage}" in text and result.durations_s[stage] > 0
