"""An upload's progress bar: tqdm when it is installed (a widget in a notebook with ipywidgets),
else one plain line rewritten in place."""

import sys
import time
from typing import Any, Optional, TextIO

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def fmt_bytes(n: float) -> str:
    """Sizes as src/core/bytes.ts writes them: 1536 -> "1.50 KiB", three significant digits."""
    if n < 0:
        return "?"
    i = 0
    while n >= 1024 and i < len(_UNITS) - 1:
        n /= 1024
        i += 1
    if i == 0:
        return f"{round(n)} B"
    return f"{n:.0f} {_UNITS[i]}" if n >= 100 else f"{n:.1f} {_UNITS[i]}" if n >= 10 else f"{n:.2f} {_UNITS[i]}"


class PlainBar:
    """``<name>: 12.0 MiB / 40.0 MiB (30%)``, rewritten with a carriage return at most every 0.2 s."""

    kind = "plain"

    def __init__(self, total: int, desc: str, file: TextIO) -> None:
        self.total, self.desc, self.file = total, desc, file
        self.n = 0
        self._shown = -1.0
        self._last = 0.0

    def update_to(self, n: int) -> None:
        self.n = n
        now = time.monotonic()
        if now - self._last >= 0.2 or n >= self.total:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        pct = 100 * self.n / self.total if self.total else 100.0
        self.file.write(f"\r{self.desc}: {fmt_bytes(self.n)} / {fmt_bytes(self.total)} ({pct:.0f}%)")
        self.file.flush()
        self._shown = self.n

    def close(self) -> None:
        if self._shown != self.n:
            self._draw()
        self.file.write("\n")
        self.file.flush()


class TqdmBar:
    kind = "tqdm"

    def __init__(self, tqdm: Any, total: int, desc: str, file: TextIO) -> None:
        self._bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, file=file)

    def update_to(self, n: int) -> None:
        if n > self._bar.n:
            self._bar.update(n - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def progress_bar(total: int, desc: str, file: Optional[TextIO] = None) -> Any:
    """tqdm's bar when tqdm can be imported, the plain line otherwise; both have update_to(n) and close()."""
    file = sys.stderr if file is None else file
    try:
        from tqdm import tqdm
    except ImportError:
        return PlainBar(total, desc, file)
    try:
        # The notebook widget needs ipywidgets; without it tqdm.auto warns and falls back to text.
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        pass
    return TqdmBar(tqdm, total, desc, file)
