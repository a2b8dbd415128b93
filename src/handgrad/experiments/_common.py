"""What every experiment shares: output folders, metrics.json, progress bars, plots."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np


def make_out_dir(out: str | os.PathLike | None, prefix: str) -> Path:
    """The run's output folder: ``out`` if given, else ``runs/<prefix>-<timestamp>/``."""
    if out is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{prefix}-{stamp}"
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out: {path} exists and is not a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def to_jsonable(value: Any) -> Any:
    """NumPy scalars/arrays and paths to plain JSON; NaN/Inf to None (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)
    return path


def write_metrics(out_dir: Path, metrics: dict[str, Any]) -> Path:
    return write_json(Path(out_dir) / "metrics.json", metrics)


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (imported only when plotting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, out_dir: Path, name: str) -> Path:
    path = Path(out_dir) / name
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return path


def progress(iterable: Iterable[Any], total: int | None = None, desc: str = "",
             disable: bool | None = None, unit: str = "it") -> Any:
    """A tqdm progress bar on stderr (silent when stderr is not a terminal and
    HANDGRAD_PROGRESS is unset, so logs and tests stay clean)."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not (sys.stderr.isatty() or os.environ.get("HANDGRAD_PROGRESS"))
    return tqdm(iterable, total=total, desc=desc, disable=disable, unit=unit,
                leave=True, dynamic_ncols=True)


def print_table(rows: list[dict[str, Any]], columns: list[str] | None = None,
                file: Any = None) -> str:
    """Print rows as an aligned plain-text table; returns the text."""
    if not rows:
        return ""
    columns = columns or list(rows[0])

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    text = "\n".join(lines)
    print(text, file=file or sys.stdout)
    return text
