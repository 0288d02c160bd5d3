"""The MIDI control surface: ports, decoder, router, learn, clock and feedback on one thread.

One thread polls the input every 2 ms (rtmidi queues between polls, with the port's own
timestamps), decodes, routes through the controller map, feeds clock in, sends feedback at its
rate and checks twice a second that the ports are still there. Clock out has its own thread,
because its ticks need their own schedule. Nothing here can stop the engine: every bad message
or lost port is counted and reported through `hub.report_error` (whose log is rate-limited, so a
flood of junk costs a few lines and a summary).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.control.hub import ControlHub
from engine.control.midi_clock import ClockIn, ClockOut
from engine.control.midi_decode import MidiDecoder
from engine.control.midi_feedback import MidiFeedback
from engine.control.midi_learn import MidiLearn
from engine.control.midi_ports import CLIENT_NAME, MidiPort
from engine.control.midi_router import MidiRouter
from engine.presets.controller_maps import CONTROLLERS_DIR, DEFAULT_MIDI_MAP, load_controller_map

log = logging.getLogger(__name__)

POLL_SECONDS = 0.002
CHECK_SECONDS = 0.5
MAX_MESSAGES_PER_POLL = 512  # a flood is drained over several polls so the port checks still run


@dataclass
class MidiConfig:
    midi_in: str | None = None  # port name substring
    midi_out: str | None = None
    virtual: bool = False  # open virtual ports (named `rave-engine-in:in`, `rave-engine-out:out`) instead
    map_name: str = DEFAULT_MIDI_MAP
    clock_in: bool = False
    clock_out: bool = False
    feedback: bool = True
    controllers_dir: Path = CONTROLLERS_DIR
    learn_path: Path | None = None  # default: learned.toml beside the map
    client: str = CLIENT_NAME
    api: int | None = None
    beat_now: Callable[[], tuple[float, float] | None] | None = None  # Link's (beat, bpm): clock out follows it


class MidiControl:
    def __init__(self, hub: ControlHub, config: MidiConfig) -> None:
        self.hub = hub
        self.config = config
        skipped: list[str] = []
        cmap = load_controller_map(config.map_name, config.controllers_dir, hub.store.addresses, skipped)
        if skipped:
            log.info("MIDI map %s: %d mappings to latent dimensions this model lacks left out", config.map_name,
                     len(skipped))
        self.decoder = MidiDecoder()
        self.input: MidiPort | None = None
        self.output: MidiPort | None = None
        if config.midi_in or config.virtual:
            self.input = MidiPort("in", config.midi_in or "in", virtual=config.virtual and not config.midi_in,
                                  client=config.client, api=config.api)
        if config.midi_out or (config.virtual and (config.clock_out or config.feedback)):
            self.output = MidiPort("out", config.midi_out or "out", virtual=config.virtual and not config.midi_out,
                                   client=config.client, api=config.api)
        port = self.input.label if self.input else "midi"
        self.router = MidiRouter(hub, cmap, self.decoder, port=port)
        self.learn = MidiLearn(self.router, config.learn_path)
        self.clock_in = ClockIn(hub) if config.clock_in else None
        self.feedback = MidiFeedback(self.router, self.output.send) if self.output and config.feedback else None
        self.clock_out: ClockOut | None = None
        self.counts: Counter[str] = Counter()  # received, errors, port_lost, port_back
        self._timestamp = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        for port in (self.input, self.output):
            if port is not None:
                port.open()
        self.hub.set_learn_handler(self.learn.arm)
        self._thread = threading.Thread(target=self._run, name="midi", daemon=True)
        self._thread.start()
        if self.config.clock_out and self.output is not None:
            self.clock_out = ClockOut(self.hub, self.output.send, beat_now=self.config.beat_now)
            self.clock_out.start()
        log.info("MIDI: in %s, out %s, map %s", self.input and self.input.opened, self.output and self.output.opened,
                 self.router.cmap.name)

    def stop(self) -> None:
        if self.clock_out is not None:
            self.clock_out.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.hub.set_learn_handler(None)
        for port in (self.input, self.output):
            if port is not None:
                port.close()

    def stats(self) -> dict[str, object]:
        """Every count, for the live report and the status line."""
        return {"received": self.counts["received"], "errors": self.counts["errors"],
                "decoder": dict(self.decoder.counts), "router": dict(self.router.counts),
                "port_lost": self.counts["port_lost"], "port_back": self.counts["port_back"],
                "out_dropped": self.output.dropped if self.output else 0,
                "feedback_sent": self.feedback.sent if self.feedback else 0,
                "clock_out_ticks": self.clock_out.ticks_sent if self.clock_out else 0,
                "clock_in_bpm": round(self.clock_in.bpm, 3) if self.clock_in and self.clock_in.bpm else None,
                "learned": len(self.learn.learned)}

    # --- the MIDI thread -----------------------------------------------------------------
    def _run(self) -> None:
        next_check = time.monotonic() + CHECK_SECONDS
        while not self._stop.wait(POLL_SECONDS):
            now = time.monotonic()
            try:
                self._drain(now)
                if self.feedback is not None:
                    self.feedback.update(now)
                if now >= next_check:
                    next_check = now + CHECK_SECONDS
                    self._check_ports()
                    self.hub.flush_error_log()
            except Exception as exc:  # a bug in one message's path must not end the surface
                self.counts["errors"] += 1
                self.hub.report_error("midi", "thread", f"{type(exc).__name__}: {exc}")

    def _drain(self, now: float) -> None:
        if self.input is None or not self.input.connected:
            return
        for _ in range(MAX_MESSAGES_PER_POLL):
            item = self.input.receive()
            if item is None:
                return
            data, delta = item
            self._timestamp += delta
            self.counts["received"] += 1
            try:
                events = self.decoder.feed(data)
            except ValueError as exc:
                self.counts["errors"] += 1
                self.hub.report_error("midi", self.input.label, f"bad message: {exc}")
                continue
            for event in events:
                if event.kind in ("clock", "start", "stop", "continue"):
                    if self.clock_in is not None:
                        self.clock_in.handle(event.kind, self._timestamp)
                else:
                    self.router.handle(event, now)

    def _check_ports(self) -> None:
        for port in (self.input, self.output):
            if port is None:
                continue
            change = port.check()
            if change == "lost":
                self.counts["port_lost"] += 1
                self.hub.report_error("midi", port.label, f"port lost: {port.opened} disappeared; waiting for it")
            elif change == "back":
                self.counts["port_back"] += 1
                log.warning("midi %s: port back: reopened %s", port.label, port.opened)
