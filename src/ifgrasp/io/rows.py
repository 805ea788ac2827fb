"""Row logs: one JSON object per line, appended as an evaluation goes, read back to resume or report."""

from __future__ import annotations

import json
from pathlib import Path


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a JSONL log in order ([] when the file does not exist yet); blank lines are skipped."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_rows(path: str | Path, rows: list[dict]) -> None:
    """Append ``rows`` to a JSONL log, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
