"""Logging that can never block the caller, however slowly (or never) its stream is read.

A `logging.handlers.QueueHandler` puts records on a bounded queue with `put_nowait`; when the queue
is full the record is dropped and counted. A `QueueListener` thread writes them to the stream's file
descriptor with `os.write`. That thread is a daemon and holds no Python lock while it writes: a
pipe nobody reads stalls only that thread, and interpreter shutdown neither waits for it nor dies on
the stream's buffer lock (CPython aborts if a daemon thread holds `sys.stderr`'s lock at exit).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
import sys
import time
from typing import IO

DEFAULT_CAPACITY = 1000
FORMAT = "%(levelname)s %(name)s: %(message)s"


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    """QueueHandler whose enqueue never waits: a full queue drops the record and counts it."""

    def __init__(self, log_queue: queue.Queue[logging.LogRecord | None]) -> None:
        super().__init__(log_queue)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self.dropped += 1  # a record that cannot be formatted: never logging's synchronous report to stderr


class _FdWriter:
    """The listener's only handler: formats and writes to a file descriptor, unbuffered.

    Deliberately not a `logging.Handler`: handlers are registered with `logging.shutdown()`, which
    takes each handler's lock at exit and would hang on the one a blocked write holds.
    """

    level = logging.NOTSET

    def __init__(self, stream: IO[str], formatter: logging.Formatter) -> None:
        self.stream = stream
        self.formatter = formatter
        try:
            self.fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):  # StringIO and friends: in memory, never blocks
            self.fd = None
        self.failed = 0  # lines lost to a closed stream (EPIPE...)

    def handle(self, record: logging.LogRecord) -> None:
        try:
            text = self.formatter.format(record) + "\n"
        except Exception:  # an exception here would end QueueListener's thread
            self.failed += 1
            return
        self.write(text)

    def write(self, text: str) -> None:
        try:
            if self.fd is None:
                self.stream.write(text)
                return
            data = text.encode("utf-8", "replace")
            while data:
                data = data[os.write(self.fd, data):]
        except (OSError, ValueError):
            self.failed += 1


class BoundedLogging:
    """The handle `install_bounded_logging` returns: counts, and `stop()` at exit."""

    def __init__(self, stream: IO[str], capacity: int, level: int) -> None:
        self.queue: queue.Queue[logging.LogRecord | None] = queue.Queue(maxsize=capacity)
        self.handler = _DroppingQueueHandler(self.queue)
        self.writer = _FdWriter(stream, logging.Formatter(FORMAT))
        self.listener = logging.handlers.QueueListener(self.queue, self.writer)  # type: ignore[arg-type]
        self.level = level
        self._previous_level = logging.NOTSET
        self._final_queued = False  # the "N log lines dropped" line
        self._closing = False  # QueueListener's sentinel (None) is queued: the writer ends after it

    @property
    def dropped(self) -> int:
        """Records lost because the queue was full (the stream was not keeping up)."""
        return self.handler.dropped

    def start(self) -> BoundedLogging:
        root = logging.getLogger()
        self._previous_level = root.level
        root.addHandler(self.handler)
        root.setLevel(self.level)
        self.listener.start()  # its thread is a daemon
        if self.listener._thread is not None:
            self.listener._thread.name = "log-writer"
        return self

    def stop(self, timeout: float = 1.0) -> bool:
        """Detach, then write what is queued and a final "N log lines dropped" line, waiting at most
        `timeout` seconds; True when all of it was written. After False (the stream is stuck) the
        writer stays behind as a daemon, and calling stop again waits for it again."""
        root = logging.getLogger()
        if self.handler in root.handlers:
            root.removeHandler(self.handler)
            root.setLevel(self._previous_level)
        thread = self.listener._thread  # QueueListener keeps no public handle on its thread
        if thread is None:
            return True
        deadline = time.monotonic() + timeout
        try:
            if self.dropped and not self._final_queued:
                self.queue.put(self._dropped_line(), timeout=max(0.0, deadline - time.monotonic()))
                self._final_queued = True
            if not self._closing:
                self.queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
                self._closing = True
        except queue.Full:
            return False  # the writer is stuck on the stream
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            return False
        self.listener._thread = None
        return True

    def _dropped_line(self) -> logging.LogRecord:
        return logging.makeLogRecord({"name": __name__, "levelno": logging.WARNING, "levelname": "WARNING",
                                      "msg": f"{self.dropped:,} log lines dropped (the log stream was not read "
                                             f"fast enough)"})


def install_bounded_logging(stream: IO[str] | None = None, capacity: int = DEFAULT_CAPACITY,
                            level: int = logging.WARNING) -> BoundedLogging:
    """Route the root logger through a bounded queue to `stream` (default: stderr); see the module doc."""
    return BoundedLogging(sys.stderr if stream is None else stream, capacity, level).start()

