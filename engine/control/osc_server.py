"""The OSC control surface: a UDP server on its own thread, in the manner of scsynth.

Contract: this thread parses datagrams itself (never python-osc's dispatcher, which sleeps on
time tags) and writes through the hub; it never waits on the audio side. A bundle whose time
tag is in the future goes onto the render timeline with `hub.set_at`, so it lands on the
latent frame its time names. Bad input (malformed packet, wrong type, NaN, unknown address,
oversized string, argument count) is counted and reported through the hub (which logs a few lines
a second per sender, then summaries, and tells subscribers `/engine/error`); it never changes other
values or stops the server, and nothing a client sends grows memory without bound.

Addresses (replies go to the sender's address and port; see README "OSC"):
    /<param address> VALUE              set (OSC 1.0 patterns set every match; exactly one value)
    /engine/list [PATTERN]              -> /engine/param ADDRESS KIND MIN MAX DEFAULT UNIT [CHOICES...]
                                           per parameter, then /engine/list/done COUNT
    /engine/get ADDRESS|PATTERN         -> ADDRESS VALUE per match (the setter's form)
    /engine/status                      -> /engine/status/reply CPU_LOAD UNDERRUNS SAMPLERATE
                                           MESSAGES ERRORS DROPPED SUBSCRIBERS LATENCY_MS
                                           DEVICE_OK OUTAGES MODEL SCENE VISUAL_FRAMES
                                           VISUAL_RESTARTS LINK_PEERS BAR_PHASE BPM WINDOW
                                           (LINK_PEERS -1 without live --link; WINDOW -1 none,
                                           0 windowed, 1 full screen)
    /engine/subscribe [PORT]            feedback to the sender's IP at PORT (default: its source port)
    /meters/subscribe [PORT]            /engine/meters PEAK_DB TRUE_PEAK_DB SHORT_LUFS INTEGRATED_LUFS
                                           GAIN_REDUCTION_DB ten times a second (/meters/unsubscribe)
    /scope/subscribe [PORT]             /engine/latent, /engine/lfo, /engine/spectrum 30 times a second
                                           (see scope_sender.py; /scope/unsubscribe)
    /engine/unsubscribe [PORT]          -> /done CMD, or /fail CMD MESSAGE
    /scene/recall NAME [MORPH_SECONDS] [QUANTIZE]
                                        -> /done /scene/recall NAME, or /fail /scene/recall MESSAGE
    /scene/save NAME                    -> /done /scene/save NAME, or /fail /scene/save MESSAGE
    /slot/save N, /slot/recall N [Q]    pattern-memory slot N (0..127) -> /done /slot/save N,
                                           or /fail /slot/save MESSAGE (likewise /slot/recall)
    /engine/action TEXT [QUANTIZE]      any controller action (scene:NAME, slot:N, slot_save:N,
                                           beat:NAME, theme:NAME) -> /done /engine/action TEXT,
                                           or /fail /engine/action MESSAGE
    /midi/learn ADDRESS                 the next MIDI control moved is mapped to ADDRESS -> /done or /fail
    /visual/fullscreen                  toggle the visual window's full screen (live --window) -> /done or /fail
    /explore/point X Y Z                the walk goes to the loaded atlas's chunk nearest that map position
                                           -> /done /explore/point CHUNK, or /fail /explore/point MESSAGE
    /explore/subscribe [PORT]           the loaded atlas (/explore/atlas/...) now and whenever another loads,
                                           and /explore/position X Y Z (where the walk plays on the map)
    /sync ID                            -> /synced ID (every earlier message has been applied)
    /visual/theme NAME [QUANTIZE], /rave/model PATH [Q], /rave/reference/a|b PATH [Q]
                                        launches: on the beat grid as /launch/quantize says, or as the
                                           last argument (off, beat, bar, 2bar, 4bar) says for this one
Commands inside a future bundle run on arrival; only parameter writes are scheduled.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial

from engine.analysis.features import FEATURE_NAMES
from engine.control.actions import parse_action
from engine.control.atlas_sender import AtlasSender
from engine.control.feature_sender import FeatureSender
from engine.control.feedback import Client, Feedback, Subscribers
from engine.control.hub import ControlHub
from engine.control.launcher import LAUNCH_ADDRESSES, check_quantize
from engine.control.meter_sender import MeterSender
from engine.control.osc_codec import OscPacketError, TimedMessage, encode_message, parse_packet
from engine.control.osc_routes import OscRoutes, position_of, value_of
from engine.control.rate_limit import LogLimiter, clip
from engine.control.scope_sender import ScopeFrame, ScopeSender
from engine.control.slots import MAX_SLOT
from engine.errors import EngineError, ParamError
from engine.params.param import MAX_STRING_LENGTH, Kind, Param, Value

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
MAX_DATAGRAM = 65536
POLL_SECONDS = 0.1  # socket timeout: how soon stop() is noticed


class OscInputError(EngineError):
    """Bad input from a client; `kind` (from a fixed vocabulary) groups it for counting and logging."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {clip(detail)}")  # details quote client text: addresses, patterns, names
        self.kind = kind


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class OscServer:
    def __init__(self, hub: ControlHub, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 allow: list[str] | tuple[str, ...] = (), routes: OscRoutes | None = None,
                 status: Callable[[], Sequence[object]] | None = None,
                 meters: Callable[[], Sequence[float]] | None = None,
                 scope: Callable[[], ScopeFrame] | None = None,
                 fullscreen: Callable[[], bool] | None = None) -> None:
        """`allow`: when given, only these IPs are heard (others dropped and counted). `status`: the
        `/engine/status/reply` arguments of whoever plays (the live session); without it the reply
        carries this server's own counters and zeros for the audio. `meters`: the `/engine/meters`
        arguments (without it, meter subscribers get nothing). `scope`: the latest latent, LFOs and
        spectrum for `/scope/subscribe` (without it, scope subscribers get nothing). `fullscreen`: toggles
        the visual window, False when there is none."""
        for ip in allow:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise EngineError(f"--osc-allow: {ip!r} is not an IP address") from None
        self.hub = hub
        self.store = hub.store
        self.allow = frozenset(allow)
        self.routes = routes
        self._status_args = status
        self._fullscreen = fullscreen
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # bursts (capped by rmem_max)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise EngineError(f"OSC: cannot listen on {host}:{port}: {exc.strerror}; "
                              f"pick another --osc-port or 0 to disable OSC") from None
        self.sock.settimeout(POLL_SECONDS)
        self.host, self.port = self.sock.getsockname()[:2]
        if not _is_loopback(host) and not self.allow:
            log.warning("OSC listens on %s:%d with no --osc-allow list: any host on the network can control "
                        "the engine", host, self.port)
        self.subscribers = Subscribers()
        self.feedback = Feedback(self.store, self.sock, self.subscribers, routes=routes)
        self.hub.add_error_listener(self.feedback.on_error)
        self.explore_subscribers = Subscribers()
        self.atlas = AtlasSender(self.sock, self.explore_subscribers)
        self.feature_subscribers = Subscribers()
        self.features = FeatureSender(self.sock, self.feature_subscribers)
        self.meter_subscribers = Subscribers()
        self.meters = MeterSender(self.sock, self.meter_subscribers, meters)
        self.scope_subscribers = Subscribers()
        self.scope = ScopeSender(self.sock, self.scope_subscribers, scope)
        self.stats = {"packets": 0, "messages": 0, "bundles": 0, "scheduled": 0, "errors": 0, "dropped": 0,
                      "ignored_takeover": 0}
        self.last_packet_at = 0.0  # time.time() of the last datagram (latency benchmarks)
        self._drop_log = LogLimiter(log, "packets dropped (not in --osc-allow)", rate=1 / 60, burst=1, interval=60)
        self._failure_log = LogLimiter(log, "unexpected failures", rate=1.0, burst=3, interval=10)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="osc-server", daemon=True)
        self._commands: dict[str, Callable[[TimedMessage, Client], None]] = {
            "/engine/list": self._list, "/engine/get": self._get, "/engine/status": self._status,
            "/engine/subscribe": self._subscribe, "/engine/unsubscribe": partial(self._leave, self.subscribers),
            "/scene/recall": self._recall, "/scene/save": self._save, "/sync": self._sync,
            "/analysis/subscribe": partial(self._join, self.feature_subscribers),
            "/analysis/unsubscribe": partial(self._leave, self.feature_subscribers),
            "/analysis/names": self._analysis_names, "/slot/save": self._slot, "/slot/recall": self._slot,
            "/engine/action": self._run_action, "/explore/point": self._point,
            "/explore/subscribe": self._explore_subscribe,
            "/explore/unsubscribe": partial(self._leave, self.explore_subscribers),
            "/meters/subscribe": partial(self._join, self.meter_subscribers),
            "/meters/unsubscribe": partial(self._leave, self.meter_subscribers),
            "/scope/subscribe": partial(self._join, self.scope_subscribers),
            "/scope/unsubscribe": partial(self._leave, self.scope_subscribers),
            "/midi/learn": self._learn, "/visual/fullscreen": self._toggle_fullscreen,
        }

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> OscServer:
        self._thread.start()
        self.feedback.start()
        self.meters.start()
        self.scope.start()
        log.info("OSC on %s:%d", self.host, self.port)
        return self

    def stop(self) -> None:
        self._halt.set()
        self.feedback.stop()
        self.meters.stop()
        self.scope.stop()
        self._flush_logs(final=True)
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        if self.feedback.is_alive():
            self.feedback.join(timeout=2)
        for sender in (self.meters, self.scope):
            if sender.is_alive():
                sender.join(timeout=2)
        self.sock.close()

    def __enter__(self) -> OscServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _flush_logs(self, *, final: bool = False) -> None:
        for limiter in (self._drop_log, self._failure_log):
            limiter.flush(final=final)
        self.hub.flush_error_log(final=final)

    def _serve(self) -> None:
        next_flush = 0.0
        while not self._halt.is_set():
            now = time.monotonic()
            if now >= next_flush:  # summaries of a flood that has stopped (or gone quiet) get written
                next_flush = now + POLL_SECONDS
                self._flush_logs()
            try:
                data, sender = self.sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                if self._halt.is_set():
                    return
                continue
            self.last_packet_at = time.time()
            try:
                self.handle_packet(data, sender[:2])
            except Exception as exc:  # the last line of defence: log (within a budget) and keep serving
                self.stats["errors"] += 1
                self._failure_log.log(f"osc {sender[0]}", type(exc).__name__, logging.ERROR,
                                      "OSC: unexpected failure on a packet from %s:%d", *sender[:2], exc_info=True)

    # --- packets -------------------------------------------------------------------------
    def handle_packet(self, data: bytes, sender: Client) -> None:
        """Parse one datagram and apply everything in it (also callable directly, in tests)."""
        ip = sender[0]
        if self.allow and ip not in self.allow:
            self.stats["dropped"] += 1
            self._drop_log.log(f"osc {ip}", "not allowed", logging.WARNING,
                               "OSC: dropping packets from %s (not in --osc-allow)", ip)
            return
        self.stats["packets"] += 1
        try:
            messages, bundles = parse_packet(data)
        except OscPacketError as exc:
            self._error(sender, "-", OscInputError("malformed packet", f"{exc} ({len(data)} bytes)"))
            return
        self.stats["bundles"] += bundles
        for message in messages:
            self.stats["messages"] += 1
            try:
                self._dispatch(message, sender)
            except OscInputError as exc:
                self._error(sender, message.address, exc)
            except ParamError as exc:
                self._error(sender, message.address, OscInputError("refused", str(exc)))

    def _dispatch(self, message: TimedMessage, sender: Client) -> None:
        if len(message.address) > MAX_STRING_LENGTH:
            raise OscInputError("oversized address", f"{len(message.address)} characters (limit {MAX_STRING_LENGTH})")
        command = self._commands.get(message.address)
        if command is not None:
            command(message, sender)
        elif self.routes is not None and self.routes.handles(message.address):
            self._mapped(message)
        else:
            self._set(message)

    def _error(self, sender: Client, address: str, exc: OscInputError) -> None:
        self.stats["errors"] += 1
        self.hub.report_error(f"osc {sender[0]}", address, f"{exc} (from {sender[0]}:{sender[1]})")

    def _reply(self, client: Client, address: str, *args: object) -> None:
        try:
            self.sock.sendto(encode_message(address, *args), client)
        except OSError as exc:
            log.debug("OSC reply to %s:%d failed: %s", *client, exc)

    # --- writes --------------------------------------------------------------------------
    def _set(self, message: TimedMessage) -> None:
        address, args = message.address, message.args
        try:
            targets = self.hub.resolve(address)
        except ParamError as exc:
            raise OscInputError("unknown address", str(exc)) from None
        if len(args) == 2 and targets == [address] and address in LAUNCH_ADDRESSES:  # VALUE QUANTIZE
            self.hub.launch_set(address, self._coerce(self.store.param(address), args[0]),
                                self._quantize(address, args[1]))
            return
        if len(args) != 1:
            raise OscInputError("wrong argument count", f"{address} takes exactly one value, got {len(args)}")
        values = {a: self._coerce(self.store.param(a), args[0]) for a in targets}
        for a, v in values.items():
            self.store.validate(a, v)  # all or nothing: refuse before anything is written
        distinct = set(values.values())
        writes = [(address, distinct.pop())] if len(distinct) == 1 else list(values.items())
        for target, value in writes:
            self._write(message.when, target, value)

    def _write(self, when: float | None, address: str, value: Value, glide_seconds: float = 0.0) -> None:
        if when is not None and when > time.time():
            self.stats["scheduled"] += 1
            self.hub.set_at(when, address, value)
        elif glide_seconds > 0:
            self.hub.glide(address, value, glide_seconds)
        else:
            self.hub.set(address, value)

    @staticmethod
    def _quantize(address: str, arg: object) -> str:
        try:
            return check_quantize(arg)
        except ParamError as exc:
            raise OscInputError("bad quantize", f"{address}: {exc}") from None

    @staticmethod
    def _split_quantize(args: Sequence[object], fixed: int) -> tuple[Sequence[object], str | None]:
        """A launch command's arguments and its optional last QUANTIZE (a string after `fixed` ones)."""
        if len(args) > fixed and isinstance(args[-1], str):
            return args[:-1], check_quantize(args[-1])
        return args, None

    def _coerce(self, param: Param, arg: object) -> Value:
        """An OSC argument as the parameter's Python type (Param.coerce then clamps and checks)."""
        if isinstance(arg, str):
            if len(arg) > MAX_STRING_LENGTH:
                raise OscInputError("oversized string", f"{param.address}: string of {len(arg)} characters "
                                                        f"(limit {MAX_STRING_LENGTH})")
            if param.kind in (Kind.FLOAT, Kind.INT, Kind.BOOL):
                raise OscInputError("wrong type", f"{param.address} wants a number, got string {_show(arg)}")
            return arg
        if isinstance(arg, bool):
            if param.kind in (Kind.ENUM, Kind.STRING):
                raise OscInputError("wrong type", f"{param.address} wants a string, got {arg}")
            return arg if param.kind is Kind.BOOL else int(arg)
        if isinstance(arg, int | float):
            if not math.isfinite(arg):
                raise OscInputError("not finite", f"{param.address}: {arg} is not a finite number")
            if param.kind is Kind.ENUM and float(arg).is_integer() and 0 <= arg < len(param.choices):
                return param.choices[int(arg)]  # Pd and faders send numbers: an index into the choices
            if param.kind in (Kind.ENUM, Kind.STRING):
                raise OscInputError("wrong type", f"{param.address} wants a string, got {_show(arg)}")
            return arg
        raise OscInputError("wrong type", f"{param.address}: OSC type {type(arg).__name__} {_show(arg)} "
                                          f"is not a number or string")

    def _mapped(self, message: TimedMessage) -> None:
        assert self.routes is not None
        if message.address in self.routes.routes and len(message.args) != 1:
            raise OscInputError("wrong argument count",
                                f"{message.address} takes exactly one value, got {len(message.args)}")
        for source, arg in zip(self.routes.sources(message.address, len(message.args)), message.args, strict=True):
            mapping = self.routes.routes.get(source)
            if mapping is None:
                continue  # an xy pad axis the map leaves out
            if isinstance(arg, bool):
                arg = int(arg)
            if not isinstance(arg, int | float) or not math.isfinite(arg):
                raise OscInputError("wrong type", f"{source} wants a control position 0..1, got {_show(arg)}")
            x = float(arg)
            if mapping.action is not None:
                if x >= 0.5:  # buttons and toggles fire on press only
                    try:
                        self.hub.run_action(mapping.action)
                    except EngineError as exc:
                        raise OscInputError("action failed", f"{source} -> {mapping.action}: {exc}") from None
                continue
            param = self.store.param(mapping.address)
            current = position_of(mapping, param, self.store.get(mapping.address))
            if not self.routes.accept(source, mapping, x, current):
                self.stats["ignored_takeover"] += 1
                continue
            value = value_of(mapping, param, x)
            self._write(message.when, mapping.address, value, mapping.smoothing_ms / 1000.0)
            written = position_of(mapping, param, value)
            if written is not None:
                self.routes.wrote(source, written)

    # --- queries and commands ------------------------------------------------------------
    def _list(self, message: TimedMessage, sender: Client) -> None:
        pattern = str(message.args[0]) if message.args else "/*"
        addresses = self.store.addresses if pattern == "/*" else tuple(self._resolve_or_fail(message, sender, pattern))
        for address in addresses:
            self._reply(sender, "/engine/param", *self._describe(self.store.param(address)))
        self._reply(sender, "/engine/list/done", len(addresses))

    @staticmethod
    def _describe(p: Param) -> list[object]:
        if p.kind is Kind.ENUM:
            return [p.address, p.kind.value, 0, len(p.choices) - 1, p.default, p.unit, *p.choices]
        if p.kind is Kind.STRING:
            return [p.address, p.kind.value, 0, 0, p.default, p.unit]
        if p.kind is Kind.BOOL:
            return [p.address, p.kind.value, 0, 1, int(bool(p.default)), p.unit]
        return [p.address, p.kind.value, float(p.minimum or 0), float(p.maximum or 0), p.default, p.unit]

    def _resolve_or_fail(self, message: TimedMessage, sender: Client, pattern: object) -> list[str]:
        try:
            if not isinstance(pattern, str):
                raise ParamError(f"{message.address} wants an address, got {_show(pattern)}")
            return self.hub.resolve(pattern)
        except ParamError as exc:
            self._reply(sender, "/fail", message.address, str(exc))
            raise OscInputError("unknown address", str(exc)) from None

    def _get(self, message: TimedMessage, sender: Client) -> None:
        if len(message.args) != 1:
            self._reply(sender, "/fail", "/engine/get", "wants one address")
            raise OscInputError("wrong argument count", f"/engine/get takes one address, got {len(message.args)}")
        snapshot = self.store.snapshot()
        for address in self._resolve_or_fail(message, sender, message.args[0]):
            self._reply(sender, address, snapshot[address])

    def _status(self, message: TimedMessage, sender: Client) -> None:
        if self._status_args is not None:
            self._reply(sender, "/engine/status/reply", *self._status_args())
            return
        self._reply(sender, "/engine/status/reply", 0.0, 0, 0, self.stats["messages"], self.stats["errors"],
                    self.stats["dropped"], len(self.subscribers))

    def _client_port(self, message: TimedMessage, sender: Client) -> Client:
        if not message.args:
            return sender
        port = message.args[0]
        if isinstance(port, float) and port.is_integer():
            port = int(port)  # Pd sends floats
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            self._reply(sender, "/fail", message.address, f"port must be 1..65535, got {_show(port)}")
            raise OscInputError("wrong type", f"{message.address}: port must be 1..65535, got {_show(port)}")
        return (sender[0], port)

    def _join(self, subscribers: Subscribers, message: TimedMessage, sender: Client) -> Client:
        """Any `/.../subscribe [PORT]`: add the client to that stream, `/done` or `/fail` its address."""
        client = self._client_port(message, sender)
        if not subscribers.add(client):
            self._reply(sender, "/fail", message.address, f"{subscribers.limit} subscribers already")
            raise OscInputError("too many subscribers", f"{client[0]}:{client[1]} refused")
        self._reply(client, "/done", message.address)
        return client

    def _leave(self, subscribers: Subscribers, message: TimedMessage, sender: Client) -> None:
        """Any `/.../unsubscribe [PORT]`."""
        client = self._client_port(message, sender)
        subscribers.remove(client)
        self._reply(client, "/done", message.address)

    def _subscribe(self, message: TimedMessage, sender: Client) -> None:
        self.feedback.send_all(self._join(self.subscribers, message, sender))  # every value, at once

    def _explore_subscribe(self, message: TimedMessage, sender: Client) -> None:
        self.atlas.send_to(self._join(self.explore_subscribers, message, sender))  # the loaded atlas, at once

    def _analysis_names(self, message: TimedMessage, sender: Client) -> None:
        self._reply(self._client_port(message, sender), "/analysis/names", *FEATURE_NAMES)

    def _recall(self, message: TimedMessage, sender: Client) -> None:
        args = message.args
        try:
            args, quantize = self._split_quantize(args, 1)
            if not args or not isinstance(args[0], str) or len(args) > 2:
                raise EngineError("usage: /scene/recall NAME [MORPH_SECONDS] [QUANTIZE]")
            morph = args[1] if len(args) == 2 else None
            if morph is not None and (isinstance(morph, bool) or not isinstance(morph, int | float)
                                      or not 0 <= morph <= 600):
                raise EngineError(f"morph seconds must be 0..600, got {_show(morph)}")
            self.hub.recall_scene(args[0], None if morph is None else float(morph), quantize)
        except EngineError as exc:
            self._reply(sender, "/fail", "/scene/recall", str(exc))
            raise OscInputError("scene recall failed", str(exc)) from None
        self._reply(sender, "/done", "/scene/recall", args[0])

    def _save(self, message: TimedMessage, sender: Client) -> None:
        args = message.args
        try:
            if len(args) != 1 or not isinstance(args[0], str) or len(args[0]) > 64:
                raise EngineError("usage: /scene/save NAME (up to 64 characters)")
            self.hub.save_scene(args[0])
        except (EngineError, OSError) as exc:
            self._reply(sender, "/fail", "/scene/save", str(exc))
            raise OscInputError("scene save failed", str(exc)) from None
        self._reply(sender, "/done", "/scene/save", args[0])

    def _slot(self, message: TimedMessage, sender: Client) -> None:
        kind = "slot_save" if message.address == "/slot/save" else "slot"
        args = message.args
        slot = args[0] if len(args) == 1 else None
        try:
            quantize = None
            if kind == "slot" and len(args) == 2:  # N QUANTIZE
                (slot,), quantize = self._split_quantize(args, 1)
            if isinstance(slot, float) and slot.is_integer():
                slot = int(slot)  # Pd sends floats
            if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot <= MAX_SLOT:
                raise EngineError(f"usage: {message.address} N (a slot 0..{MAX_SLOT}), got "
                                  f"{' '.join(_show(a) for a in args) or 'nothing'}")
            self.hub.run_action(parse_action(f"{kind}:{slot}"), quantize)
        except EngineError as exc:
            self._reply(sender, "/fail", message.address, str(exc))
            raise OscInputError(f"{message.address} failed", str(exc)) from None
        self._reply(sender, "/done", message.address, slot)

    def _run_action(self, message: TimedMessage, sender: Client) -> None:
        args = message.args
        try:
            args, quantize = self._split_quantize(args, 1)
            if len(args) != 1 or not isinstance(args[0], str) or len(args[0]) > MAX_STRING_LENGTH:
                raise EngineError("usage: /engine/action KIND:ARGUMENT [QUANTIZE] (scene:NAME, slot:N, "
                                  "slot_save:N, beat:NAME, theme:NAME)")
            self.hub.run_action(parse_action(args[0]), quantize)
        except EngineError as exc:
            self._reply(sender, "/fail", "/engine/action", str(exc))
            raise OscInputError("action failed", str(exc)) from None
        self._reply(sender, "/done", "/engine/action", args[0])

    def _point(self, message: TimedMessage, sender: Client) -> None:
        args = message.args
        try:
            if len(args) != 3 or any(isinstance(a, bool) or not isinstance(a, int | float) or not math.isfinite(a)
                                     for a in args):
                raise EngineError(f"usage: /explore/point X Y Z (three numbers), got "
                                  f"{' '.join(_show(a) for a in args) or 'nothing'}")
            chunk = self.hub.explore_point(*(float(a) for a in args))
        except EngineError as exc:
            self._reply(sender, "/fail", "/explore/point", str(exc))
            raise OscInputError("/explore/point failed", str(exc)) from None
        self._reply(sender, "/done", "/explore/point", chunk)

    def _learn(self, message: TimedMessage, sender: Client) -> None:
        args = message.args
        try:
            if len(args) != 1 or not isinstance(args[0], str):
                raise ParamError("usage: /midi/learn ADDRESS")
            self.hub.learn(self.store.param(args[0]).address)
        except ParamError as exc:
            self._reply(sender, "/fail", "/midi/learn", str(exc))
            raise OscInputError("midi learn failed", str(exc)) from None
        self._reply(sender, "/done", "/midi/learn", args[0])

    def _toggle_fullscreen(self, message: TimedMessage, sender: Client) -> None:
        if self._fullscreen is None or not self._fullscreen():
            self._reply(sender, "/fail", "/visual/fullscreen", "no visual window (live --window)")
            raise OscInputError("no visual window", "/visual/fullscreen needs live --window")
        self._reply(sender, "/done", "/visual/fullscreen")

    def _sync(self, message: TimedMessage, sender: Client) -> None:
        self._reply(sender, "/synced", *message.args[:1])


def load_routes(name: str | None, hub: ControlHub) -> OscRoutes | None:
    return None if not name else OscRoutes.load(name, hub.store)
