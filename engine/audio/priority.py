"""Scheduling for the decoder thread: ahead of ordinary threads, behind the audio callback.

Two things can starve a Python decoder thread: the CPU (other threads and processes) and the GIL
(a pure-Python thread holds it for whole 5 ms switch intervals). Real-time priority answers the
first where the system allows it (root, or an rtprio limit as JACK setups grant to the audio
group); a shorter switch interval answers the second: the decoder needs the GIL a few times per
frame, and each wait is bounded by the interval.
"""

from __future__ import annotations

import os
import sys

DECODER_RT_PRIORITY = 5  # below JACK's default 10 (and so below the audio callback thread)
SWITCH_INTERVAL_S = 0.0005


def shorten_gil_switch_interval() -> float:
    """Process-wide: returns the previous interval so callers can restore it."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return previous


def raise_current_thread_priority() -> str:
    """Best effort, for the calling thread: SCHED_FIFO, else a lower nice value, else nothing. Says which."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(DECODER_RT_PRIORITY))
        return f"SCHED_FIFO {DECODER_RT_PRIORITY}"
    except (AttributeError, PermissionError, OSError):
        pass
    try:
        tid = getattr(os, "gettid", lambda: 0)()
        os.setpriority(os.PRIO_PROCESS, tid, -10)
        return "nice -10"
    except (AttributeError, PermissionError, OSError):
        return "normal"
