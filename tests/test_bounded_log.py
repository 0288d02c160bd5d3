"""Logging that never blocks: a log stream on a pipe nobody reads stalls nothing but the writer thread."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

import pytest

from engine.bounded_log import install_bounded_logging

LINES = 5000
LINE = "x" * 200  # 5000 lines of ~240 bytes: far more than a 64 KiB pipe buffer holds


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        with contextlib.suppress(OSError):
            os.close(fd)


def _drain(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 65536):
        into.extend(chunk)


def test_unread_pipe_never_blocks_the_caller_and_drops_are_counted(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    stream = os.fdopen(write_fd, "w", closefd=False)
    # More queued lines than the pipe holds (1000 x ~240 bytes > 64 KiB), so the writer ends up stuck
    # on it even when the flood outruns the writer thread from the start (a busy machine).
    handle = install_bounded_logging(stream, capacity=1000)
    logger = logging.getLogger("test.flood")
    try:
        done = threading.Event()

        def flood() -> None:
            for i in range(LINES):
                logger.warning("%d %s", i, LINE)
            done.set()

        thread = threading.Thread(target=flood, daemon=True)
        started = time.monotonic()
        thread.start()
        assert done.wait(10), "logging blocked on the unread pipe"
        flood_seconds = time.monotonic() - started
        assert handle.dropped > 0
        started = time.monotonic()
        assert handle.stop(timeout=0.3) is False  # the writer is stuck on the full pipe ...
        assert time.monotonic() - started < 1.0  # ... and stop() did not wait for it
        assert flood_seconds < 5.0
        output = bytearray()
        reader = threading.Thread(target=_drain, args=(read_fd, output), daemon=True)
        reader.start()  # someone reads at last: everything queued and the final line get out
        assert handle.stop(timeout=10) is True
    finally:
        handle.stop(timeout=0)
        os.close(write_fd)
    reader.join(5)
    lines = output.decode().splitlines()
    assert lines[-1] == f"WARNING engine.bounded_log: {handle.dropped:,} log lines dropped (the log stream was " \
                        f"not read fast enough)"
    written = [line for line in lines if line.startswith("WARNING test.flood: ")]
    assert len(written) + handle.dropped == LINES  # every line either written whole or counted
    assert written[0] == f"WARNING test.flood: 0 {LINE}"


def test_stop_restores_the_root_logger(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    handle = install_bounded_logging(os.fdopen(write_fd, "w", closefd=False))
    assert handle.handler in root.handlers
    logging.getLogger("test.one").warning("one line")
    assert handle.stop(timeout=5) is True
    assert root.level == level and root.handlers == handlers
    assert os.read(read_fd, 1000) == b"WARNING test.one: one line\n"
