"""kubectl's `-v` for every connection: klog-style lines on stderr.

`-v=6` and up print each request as kubectl does (`GET URL 200 OK in 3 milliseconds`):
method, URL, status and duration, never a body or a header value that could hold a
credential. Lower levels print only warnings worth knowing when debugging a connection.
"""

from __future__ import annotations

import os
import sys
import threading
import time

_level = 0
_LOCK = threading.Lock()


def set_verbosity(level: int) -> None:
    global _level
    _level = level


def enabled(level: int) -> bool:
    return _level >= level


def line(severity: str, source: str, message: str, when: float | None = None) -> str:
    """One klog line: `I1130 14:13:23.161550    1496 client.py:120] message`."""
    when = time.time() if when is None else when
    stamp = time.strftime("%m%d %H:%M:%S", time.localtime(when))
    micros = int((when % 1) * 1_000_000)
    return f"{severity}{stamp}.{micros:06d} {os.getpid():>7} {source}] {message}"


def info(level: int, message: str) -> None:
    if _level >= level:
        _emit(line("I", _caller(), message))


def warning(level: int, message: str) -> None:
    if _level >= level:
        _emit(line("W", _caller(), message))


def request(method: str, url: str, status: str, seconds: float) -> None:
    """kubectl's -v=6 request line; the status is empty when no answer came."""
    if _level >= 6:
        millis = int(seconds * 1000)
        _emit(line("I", _caller(), f"{method} {url} {status} in {millis} milliseconds"))


def _caller() -> str:
    frame = sys._getframe(2)
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def _emit(text: str) -> None:
    with _LOCK:
        print(text, file=sys.stderr, flush=True)
