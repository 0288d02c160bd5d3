"""The theme mapper: (theme, audio features, engine parameters) -> one `VisualFrame` per video frame.

Each visual parameter is the engine's value (`/visual/<param>`) plus the theme's offset plus the sum
of its mappings, curve(feature * sensitivity * reactivity) * amount, clamped to the theme's range.
Beats fire the theme's actions (noise pulses, cache resets, prompt changes, palette shifts) and an
energy spike selects the next prompt variation. A theme switch, asked for by `switch()` or by a new
`/visual/theme` value, runs both themes for its duration and interpolates their outputs, so a
change of look on stage is a crossfade, never a jump.

The palette goes out as the theme wrote it (interpolated in switches and shifts); `/visual/hue`
reaches the generator as `VisualFrame.hue`, which rotates the palette there, once.

The mapper runs in the frame loop, so it never raises there: a bad theme name keeps the current
theme and is recorded in `errors`; odd parameter values fall back to the engine's defaults.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from engine.analysis.features import CHROMA_SLICE, INDEX, N_FEATURES
from engine.errors import VisualError
from engine.params.table import BEAT_ACTION_TRIGGERS
from engine.visual.frame_input import Colour, VisualFrame
from engine.visual.themes import PARAM_BOUNDS, PARAM_DEFAULTS, VISUAL_PARAMS, Theme, load_theme

log = logging.getLogger("engine.visual")

CURVE_K = 4.0  # bend of the exponential and logarithmic curves (each is the other's inverse)
_EXPM1_K = math.expm1(CURVE_K)
DEFAULT_STEPS = 4
PULSE_AMOUNT = 0.3
PULSE_DECAY_MS = 300.0
PALETTE_STEPS = 1.0
_P = {name: i for i, name in enumerate(VISUAL_PARAMS)}
_HUE = _P["hue"]
_NOISE = _P["noise_scale"]


# Trigger parameters a performer fires (counters: every change is one press) -> the action they fire;
# /visual/reset (cache_reset) is handled on its own, as a hard cut.
_TRIGGERS = {address: action for action, address in BEAT_ACTION_TRIGGERS.items() if action != "cache_reset"}


def apply_curve(curve: str, x: np.ndarray | float, steps: int = DEFAULT_STEPS) -> np.ndarray:
    """Shape an input in 0..1 (clipped) to 0..1; every curve is monotone with f(0) = 0 and f(1) = 1."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    if curve == "linear":
        return x
    if curve == "exponential":  # slow start: only strong inputs move much (peaks stand out)
        return np.expm1(CURVE_K * x) / _EXPM1_K
    if curve == "logarithmic":  # fast start: quiet inputs already move (detail in soft passages)
        return np.log1p(_EXPM1_K * x) / CURVE_K
    if curve == "stepped":  # `steps` levels 0, 1/(steps-1), ..., 1
        return np.minimum(np.floor(x * steps), steps - 1) / (steps - 1)
    raise VisualError(f"curve {curve!r} is not one of linear, exponential, logarithmic, stepped")


def _coefficient(ms: float, fps: float) -> float:
    """Per-frame one-pole coefficient for a time constant in milliseconds (0: follow at once)."""
    return 1.0 if ms <= 0.0 else 1.0 - math.exp(-1000.0 / (ms * fps))


def _compose(subject: str, style: list[str]) -> str:
    return ", ".join(part.strip() for part in (subject, *style) if part.strip())


@dataclass
class _Step:
    params: np.ndarray  # the VISUAL_PARAMS, in order
    reset: bool = False  # a cache_reset fired
    advanced: bool = False  # the prompt variation moved on
    advance_frames: int | None = None  # its blend in frames; None: the engine's /visual/prompt_transition


class _Voice:
    """One theme's running state: smoothers, pulses, beat count, spike detector, variation, palette."""

    def __init__(self, theme: Theme, fps: float) -> None:
        self.theme = theme
        self.fps = fps
        maps = theme.mapping
        self._feature = np.array([INDEX[m.feature] for m in maps], dtype=np.intp)
        self._param = np.array([_P[m.param] for m in maps], dtype=np.intp)
        self._sensitivity = np.array([m.sensitivity for m in maps])
        self._amount = np.array([m.amount for m in maps])
        self._attack = np.array([_coefficient(m.smoothing_ms if m.attack_ms is None else m.attack_ms, fps)
                                 for m in maps])
        self._release = np.array([_coefficient(m.smoothing_ms if m.release_ms is None else m.release_ms, fps)
                                  for m in maps])
        self._state = np.zeros(len(maps))
        groups: dict[tuple[str, int], list[int]] = {}
        for i, m in enumerate(maps):
            groups.setdefault((m.curve, m.steps or DEFAULT_STEPS), []).append(i)
        self._groups = [(curve, steps, np.array(ix, dtype=np.intp)) for (curve, steps), ix in groups.items()]

        self._offset = np.array([getattr(theme.offset, p) for p in VISUAL_PARAMS])
        bounds = [theme.range.bounds(p) for p in VISUAL_PARAMS]
        self._low = np.array([b[0] for b in bounds])
        self._high = np.array([b[1] for b in bounds])
        self._wrap_hue = theme.range.hue is None  # hue is a colour wheel: it wraps unless the theme clamps it

        self._actions = theme.beat
        pulses = [a for a in theme.beat if a.action == "pulse_noise"]
        self._pulse_index = {id(a): i for i, a in enumerate(pulses)}
        self._pulse_amount = np.array([PULSE_AMOUNT if a.amount is None else a.amount for a in pulses])
        self._pulse_fall = np.array([1.0 / max(1e-9, (PULSE_DECAY_MS if a.decay_ms is None else a.decay_ms)
                                               * fps / 1000.0) for a in pulses])
        self._pulse = np.zeros(len(pulses))  # 1 on the beat, falling linearly to 0 over decay_ms
        self._manual_pulse = 0.0  # a performer's /visual/pulse, with the default amount and decay
        self._manual_fall = 1.0 / max(1e-9, PULSE_DECAY_MS * fps / 1000.0)
        self.beats = 0

        spike = theme.spike
        self._spike_index = INDEX[spike.feature] if spike else 0
        self._spike_coef = _coefficient(spike.window_seconds * 1000.0, fps) if spike else 0.0
        self._spike_mean: float | None = None
        self._cooldown = 0
        blend = theme.prompt.blend_seconds
        self._spike_frames = round((blend if spike is None or spike.blend_seconds is None
                                    else spike.blend_seconds) * fps)

        self.variation = 0  # 0: the base prompt, i: variations[i - 1]
        self._subjects = [theme.prompt.base, *theme.prompt.variations]
        self._palette = np.array(theme.colours, dtype=np.float64)
        self._shift = 0.0
        self._shift_target = 0.0
        self._shift_rate = 0.0
        chroma = theme.prompt.chroma
        self.chroma_prompts = tuple(_compose(p, theme.prompt.style) for p in chroma) if chroma else ()
        self.chroma_weights = np.full(12, 1.0 / 12.0)
        self._chroma_coef = _coefficient(theme.prompt.chroma_smoothing_ms, fps)

    @property
    def subject(self) -> str:
        return self._subjects[self.variation % len(self._subjects)]

    def _advance(self, step: _Step, frames: int | None) -> None:
        self.variation = (self.variation + 1) % len(self._subjects)
        step.advanced = True
        step.advance_frames = frames

    def _transition(self, step: _Step, amount: float | None, decay_ms: float | None) -> None:
        """transition_trigger: the next variation and a palette shift, blended together."""
        seconds = self.theme.prompt.blend_seconds if decay_ms is None else decay_ms / 1000.0
        frames = round(seconds * self.fps)
        self._advance(step, frames)
        self._shift_target += PALETTE_STEPS if amount is None else amount
        self._shift_rate = abs(self._shift_target - self._shift) / max(1, frames)

    def fire(self, action: str, step: _Step) -> None:
        """A performer's trigger (a `beat:NAME` pad or its parameter): the action now, at default strength."""
        if action == "pulse_noise":
            self._manual_pulse = 1.0
        elif action == "prompt_cycle":
            self._advance(step, None)
        elif action == "transition_trigger":
            self._transition(step, None, None)

    def step(self, features: np.ndarray, reactivity: float, engine: np.ndarray, beats: int) -> _Step:
        x = np.clip(features[self._feature] * self._sensitivity * reactivity, 0.0, 1.0)
        coef = np.where(x > self._state, self._attack, self._release)
        self._state += coef * (x - self._state)  # smoothed before the curve: a stepped curve stays stepped
        shaped = np.empty_like(self._state)
        for curve, steps, ix in self._groups:
            shaped[ix] = apply_curve(curve, self._state[ix], steps)
        params = engine + self._offset
        np.add.at(params, self._param, shaped * self._amount)
        step = _Step(params)

        self._pulse = np.maximum(0.0, self._pulse - self._pulse_fall)
        for _ in range(beats):
            self.beats += 1
            for action in self._actions:
                if self.beats % action.every:
                    continue
                if action.action == "pulse_noise":
                    self._pulse[self._pulse_index[id(action)]] = 1.0
                elif action.action == "cache_reset":
                    step.reset = True
                elif action.action == "prompt_cycle":
                    self._advance(step, None)
                else:
                    self._transition(step, action.amount, action.decay_ms)
        self._manual_pulse = max(0.0, self._manual_pulse - self._manual_fall)
        params[_NOISE] += (float(self._pulse @ self._pulse_amount) + self._manual_pulse * PULSE_AMOUNT) * reactivity

        if self.theme.spike is not None:
            value = float(features[self._spike_index]) * reactivity
            if self._spike_mean is None:
                self._spike_mean = value
            if self._cooldown > 0:
                self._cooldown -= 1
            elif value - self._spike_mean > self.theme.spike.threshold:
                self._advance(step, self._spike_frames)
                self._cooldown = round(self.theme.spike.cooldown_seconds * self.fps)
            # Updated after the test: a spike is measured against the mean from before it.
            self._spike_mean += self._spike_coef * (value - self._spike_mean)

        hue = params[_HUE]
        np.clip(params, self._low, self._high, out=params)
        if self._wrap_hue:
            params[_HUE] = hue % 1.0

        if self._shift != self._shift_target:
            gap = self._shift_target - self._shift
            self._shift = self._shift_target if abs(gap) <= self._shift_rate else self._shift + math.copysign(
                self._shift_rate, gap)
        if self.chroma_prompts:
            chroma = np.clip(features[CHROMA_SLICE].astype(np.float64), 0.0, None)
            total = float(chroma.sum())
            target = chroma / total if total > 1e-6 else np.full(12, 1.0 / 12.0)  # silence: no key wins
            self.chroma_weights += self._chroma_coef * (target - self.chroma_weights)
        return step

    def palette(self) -> np.ndarray:
        """The palette, rotated by the (fractional) shift of transition_trigger actions."""
        whole = math.floor(self._shift)
        frac = self._shift - whole
        here = np.roll(self._palette, -whole, axis=0)
        if frac == 0.0:
            return here
        return here * (1.0 - frac) + np.roll(here, -1, axis=0) * frac


class _Still:
    """The last output of an interrupted switch: what a second switch fades from."""

    def __init__(self, params: np.ndarray, palette: np.ndarray) -> None:
        self._params = params
        self._palette = palette

    def step(self, features: np.ndarray, reactivity: float, engine: np.ndarray, beats: int) -> _Step:
        return _Step(self._params.copy())

    def palette(self) -> np.ndarray:
        return self._palette


def _mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    out = a + (b - a) * t
    turn = (b[_HUE] - a[_HUE] + 0.5) % 1.0 - 0.5  # hue the short way round the wheel
    out[_HUE] = (a[_HUE] + turn * t) % 1.0 if t < 1.0 else b[_HUE]
    return out


def _resample(palette: np.ndarray, n: int) -> np.ndarray:
    if len(palette) == n:
        return palette
    position = np.linspace(0.0, len(palette) - 1, n)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, len(palette) - 1)
    frac = (position - low)[:, None]
    return palette[low] * (1.0 - frac) + palette[high] * frac


def _mix_palettes(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    if t >= 1.0:
        return b
    n = max(len(a), len(b))  # palettes of different sizes meet as gradients of the larger size
    return _resample(a, n) * (1.0 - t) + _resample(b, n) * t


def _colours(palette: np.ndarray) -> tuple[Colour, ...]:
    return tuple((float(r), float(g), float(b)) for r, g, b in palette)


def _number(values: Mapping[str, object], key: str, default: float, low: float, high: float) -> float:
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return min(max(float(value), low), high)


def _integer(values: Mapping[str, object], key: str) -> int | None:
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _features(features: np.ndarray) -> np.ndarray:
    row = np.asarray(features, dtype=np.float32).ravel()
    if row.shape[0] != N_FEATURES:  # a short or long row: keep what lines up, zeros for the rest
        fixed = np.zeros(N_FEATURES, dtype=np.float32)
        n = min(N_FEATURES, row.shape[0])
        fixed[:n] = row[:n]
        row = fixed
    if not np.isfinite(row).all():
        row = np.nan_to_num(row, nan=0.0, posinf=0.0, neginf=0.0)
    return row


class ThemeMapper:
    def __init__(self, theme: Theme, *, fps: float, seed: int = 0) -> None:
        if not fps > 0:
            raise VisualError(f"fps must be above 0, got {fps}")
        self.fps = float(fps)
        self.seed = int(seed)
        self.theme = theme
        self.errors: list[str] = []  # theme names that could not be loaded, newest last
        self._voice = _Voice(theme, self.fps)
        self._old: _Voice | _Still | None = None  # what a running switch fades from
        self._switch_frames = 0
        self._switch_done = 0
        self._switch_prompt_frames: int | None = None  # the next prompt change is the switch's
        self._requested: str | None = None  # the last /visual/theme value acted on
        self._reset_counter: int | None = None
        self._triggers: dict[str, int] = {}  # the last value of each action trigger parameter
        self._last_prompt: tuple[str, tuple[str, ...]] | None = None
        self._transition = 0  # transition_frames of the prompt change in progress
        self._transition_left = 0
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def switch(self, theme: Theme, seconds: float) -> None:
        """Crossfade to `theme` over `seconds` (0: cut): numbers and colours interpolate, the prompt slerps."""
        frames = max(0, round(max(0.0, seconds) * self.fps))
        if frames == 0:
            self._old = None
        else:
            # A switch during a switch fades from what is on screen now, not from either theme.
            self._old = _Still(*self._last) if self._old is not None and self._last is not None else self._voice
            self._switch_frames = frames
            self._switch_done = 0
        self.theme = theme
        self._voice = _Voice(theme, self.fps)
        self._switch_prompt_frames = frames

    def _follow_theme(self, values: Mapping[str, object]) -> None:
        name = values.get("/visual/theme")
        if not isinstance(name, str) or not name.strip() or name == self._requested:
            return
        self._requested = name
        if self.theme.matches(name):
            return
        try:
            theme = load_theme(name)
        except Exception as exc:  # never raise in the frame loop: keep the current theme, say why
            message = str(exc) if str(exc) else f"theme {name!r}: {type(exc).__name__}"
            self.errors.append(message)
            log.error("%s; keeping theme %s", message, self.theme.name)
            return
        self.switch(theme, _number(values, "/visual/theme_transition", 2.0, 0.0, 30.0))

    def frame(self, index: int, time: float, features: np.ndarray, latent: np.ndarray,
              values: Mapping[str, object], beats: int = 0, onsets: int = 0) -> VisualFrame:
        self._follow_theme(values)
        row = _features(features)
        engine = np.array([_number(values, f"/visual/{p}", PARAM_DEFAULTS[p], *PARAM_BOUNDS[p])
                           for p in VISUAL_PARAMS])
        reactivity = _number(values, "/visual/reactivity", 1.0, 0.0, 2.0)
        beats = max(0, int(beats))
        step = self._voice.step(row, reactivity, engine, beats)
        for address, action in _TRIGGERS.items():
            count = _integer(values, address)
            if count is None:
                continue
            if self._triggers.get(address, count) != count:
                self._voice.fire(action, step)
            self._triggers[address] = count
        params, palette = step.params, self._voice.palette()
        if self._old is not None:
            before = self._old.step(row, reactivity, engine, beats)  # its resets and prompt moves are dropped
            self._switch_done += 1
            t = min(1.0, self._switch_done / self._switch_frames)
            params = _mix(before.params, params, t)
            palette = _mix_palettes(self._old.palette(), palette, t)
            if t >= 1.0:
                self._old = None
        self._last = (params.copy(), palette)

        reset = step.reset
        counter = _integer(values, "/visual/reset")
        if counter is not None:
            if self._reset_counter is not None and counter != self._reset_counter:
                reset = True  # the counter moved: one hard cut, however many writes it took
            self._reset_counter = counter

        spec = self.theme.prompt
        user = values.get("/visual/prompt")
        user = user.strip() if isinstance(user, str) else ""
        prompt = _compose(user or self._voice.subject, spec.style)
        prompts: tuple[str, ...] = () if user else self._voice.chroma_prompts
        weights = self._voice.chroma_weights.astype(np.float32) if prompts else None
        transition = self._prompt_transition(prompt, prompts, step, values)

        return VisualFrame(
            index=index, time=time, features=row, latent=np.asarray(latent, dtype=np.float32),
            noise_scale=float(params[_P["noise_scale"]]), speed=float(params[_P["speed"]]),
            zoom=float(params[_P["zoom"]]), warp=float(params[_P["warp"]]), hue=float(params[_HUE]),
            brightness=float(params[_P["brightness"]]), feedback=float(params[_P["feedback"]]),
            palette=_colours(palette), prompt=prompt, negative_prompt=spec.negative,
            prompts=prompts, prompt_weights=weights, transition_frames=transition, reset=reset,
            beat=beats > 0, onset=int(onsets) > 0, seed=self.seed + (_integer(values, "/visual/seed") or 0),
        )

    def _prompt_transition(self, prompt: str, prompts: tuple[str, ...], step: _Step,
                           values: Mapping[str, object]) -> int:
        """transition_frames: the length of the prompt change in progress, else the engine's default."""
        default = round(_number(values, "/visual/prompt_transition", 1.0, 0.0, 10.0) * self.fps)
        cause: int | None = None
        if self._switch_prompt_frames is not None:
            cause, self._switch_prompt_frames = self._switch_prompt_frames, None
        elif step.advanced:
            cause = step.advance_frames
        key = (prompt, prompts)
        changed = self._last_prompt is not None and key != self._last_prompt
        self._last_prompt = key
        if changed:
            self._transition = default if cause is None else cause
            self._transition_left = self._transition
            return self._transition
        if self._transition_left > 1:  # held for the whole change: a generator may re-read it
            self._transition_left -= 1
            return self._transition
        self._transition_left = 0
        return default
