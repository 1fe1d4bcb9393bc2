"""Small helpers the pages and the results share (no other autograder imports: no cycles)."""
from __future__ import annotations

import html
import os
import threading
from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def esc(text) -> str:
    return html.escape(str(text), quote=True)
