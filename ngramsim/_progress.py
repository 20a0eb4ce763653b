"""A progress bar for long loops of the library (sampling, information measures) on stderr.

Shown only when asked for and stderr is a terminal (logs and pipes stay clean):
tqdm's bar when tqdm is installed (the ``progress`` extra), a one-line bar
otherwise.  Sweeps have their own reporter (:mod:`ngramsim.sweep`: cells, and
plain lines for logs).
"""

from __future__ import annotations

import shutil
import sys
import time

# Redraw the built-in bar at most this often (seconds).
_INTERVAL = 0.2


class _Silent:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int = 1) -> None:
        pass


class _Line(_Silent):
    """``desc [#####.....] 120/400 seq, 3 s elapsed, eta 7 s`` redrawn in place."""

    WIDTH = 20

    def __init__(self, stream, total: int, desc: str, unit: str):
        self.stream, self.total, self.desc, self.unit = stream, total, desc, unit
        self.done = 0
        self.start = self.last = time.monotonic()
        self.shown = 0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= _INTERVAL or self.done >= self.total:
            self.last = now
            self._draw(now)

    def _draw(self, now):
        elapsed = now - self.start
        eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        filled = self.WIDTH * self.done // max(self.total, 1)
        text = (f"{self.desc} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} {self.unit}, "
                f"{elapsed:.0f} s elapsed, eta {eta:.0f} s")
        text = text[: shutil.get_terminal_size().columns - 1]
        self.stream.write("\r" + text.ljust(self.shown))
        self.stream.flush()
        self.shown = len(text)

    def __exit__(self, *exc):
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
        return False


class _Tqdm(_Silent):
    def __init__(self, tqdm, stream, total: int, desc: str, unit: str):
        # Size from shutil (COLUMNS/LINES, the terminal, else 80 x 24): on a terminal that reports
        # no size (a bare pseudo-terminal) tqdm would otherwise draw nothing.
        size = shutil.get_terminal_size()
        self.bar = tqdm(total=total, file=stream, desc=desc, unit=unit, leave=False, ncols=size.columns,
                        nrows=size.lines)

    def update(self, n: int = 1) -> None:
        self.bar.update(n)

    def __exit__(self, *exc):
        self.bar.close()
        return False


def progress_bar(total: int, desc: str, unit: str, *, enabled: bool):
    """A context manager with ``update(n)``: a bar on stderr if ``enabled`` and stderr is a terminal."""
    if enabled is not True and enabled is not False:
        raise TypeError(f"progress must be True or False, got {enabled!r}")
    stream = sys.stderr  # looked up now, so that redirections apply
    isatty = getattr(stream, "isatty", None)
    if not enabled or not (callable(isatty) and isatty()):
        return _Silent()
    try:
        from tqdm import tqdm
    except ImportError:
        return _Line(stream, total, desc, unit)
    return _Tqdm(tqdm, stream, total, desc, unit)
