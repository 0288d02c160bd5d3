"""The table of every parameter the engine exposes, built for a model's latent size.

Table-driven (like mido's message specs): adding a control means adding one row here, and
OSC, MIDI maps, scenes, automation and the README's address list all pick it up.
"""

from __future__ import annotations

from engine.analysis.features import MOD_SOURCES
from engine.params.param import TRIGGER, Kind, Param

N_LFOS = 4
N_MODS = 4  # audio-feature modulation slots
GENERATOR_NAMES = ("cppn", "diffusion", "texture")  # engine/visual/generators/base.py registers each
DEFAULT_GENERATOR = "cppn"
DEFAULT_THEME = "nebula"  # a file in presets/themes
ANALYSIS_SOURCES = ("output", "input", "both")
# Beat actions a controller pad can fire (`beat:NAME`), and the trigger each one writes.
BEAT_ACTION_TRIGGERS = {"cache_reset": "/visual/reset", "pulse_noise": "/visual/pulse",
                        "prompt_cycle": "/visual/next_prompt", "transition_trigger": "/visual/transition"}
LFO_SHAPES = ("sine", "triangle", "square", "saw", "sample_hold", "smooth_random")
# Tempo-synced LFO divisions: cycles per quarter note. "1/4" is one cycle per beat, "t" triplet, "d" dotted.
LFO_DIVISIONS: dict[str, float] = {
    "4/1": 1 / 16,
    "2/1": 1 / 8,
    "1/1": 1 / 4,
    "1/2": 1 / 2,
    "1/2d": 1 / 3,
    "1/4": 1.0,
    "1/4d": 2 / 3,
    "1/4t": 3 / 2,
    "1/8": 2.0,
    "1/8d": 4 / 3,
    "1/8t": 3.0,
    "1/16": 4.0,
    "1/16t": 6.0,
    "1/32": 8.0,
}
# /launch/quantize choices and the grid step each waits for, in beats of 4/4 bars (0: at once).
QUANTIZE_BEATS: dict[str, float] = {"off": 0.0, "beat": 1.0, "bar": 4.0, "2bar": 8.0, "4bar": 16.0}
# walk2 last: controllers that send an enum index keep their meaning.
LATENT_SOURCES = ("walk", "ref1", "ref2", "input", "walk2")

_SMOOTH_MS = 60.0


def _float(address: str, default: float, lo: float, hi: float, unit: str, description: str,
           smoothing_ms: float = _SMOOTH_MS) -> Param:
    return Param(address, Kind.FLOAT, default, lo, hi, unit, smoothing_ms, description=description)


def build_param_table(latent_size: int, n_lfos: int = N_LFOS) -> tuple[Param, ...]:
    """Every Param, in a stable order: engine-wide controls, per-latent-dimension, then LFOs."""
    if latent_size < 1:
        raise ValueError(f"latent_size must be at least 1, got {latent_size}")
    rows: list[Param] = [
        _float("/rave/energy", 1.0, 0.3, 2.0, "x", "louder and brighter on any model: +6 dB per doubling (0.3 -> 2.0: +16 LU), centroid x1.6"),
        _float("/rave/chaos", 0.0, 0.0, 1.0, "", "latent noise each frame (std 1.5 at 1): spectral flux x4.0 at 1 (median, 10 seeds)"),
        _float("/rave/texture", 0.3, 0.0, 1.0, "", "slow (0.25 s) latent variation: spectral change over 0.26 s x2.2 from 0 to 1 (median)"),
        _float("/rave/style", 0.0, 0.0, 1.0, "", "blend from source A (0) to B (1): distance to A 0 -> 13.6 dB, to B 13.6 -> 0 dB (median)"),
        _float("/rave/walk_speed", 0.3, 0.0, 1.0, "", "how fast the prior random walk wanders"),
        Param("/rave/source/a", Kind.ENUM, "walk", choices=LATENT_SOURCES,
              description="latent source A: prior random walk (walk, walk2), a loaded reference loop, or live input"),
        Param("/rave/source/b", Kind.ENUM, "walk2", choices=LATENT_SOURCES,
              description="latent source B, blended in by /rave/style (walk2: a second, independent walk)"),
        _float("/tempo/bpm", 120.0, 20.0, 300.0, "bpm", "tempo: reference loops play at bpm / reference_bpm"),
        _float("/tempo/reference_bpm", 120.0, 20.0, 300.0, "bpm", "the tempo reference clips were played at",
               smoothing_ms=0.0),
        Param("/tempo/tap", Kind.INT, 0, 0, 2**31 - 1, TRIGGER,
              description="tap tempo: each write is a tap; from the second tap /tempo/bpm is 60 / the median "
                          "interval of the last 8 (a pause over 2.5 s starts a new count)"),
        Param("/transport/play", Kind.BOOL, True,
              description="transport: 0 fades the output to silence within a frame and stops MIDI clock out, 1 "
                          "plays again from bar one of the own grid; follows and leads Link's start/stop "
                          "(live --link)"),
        Param("/launch/quantize", Kind.ENUM, "off", choices=tuple(QUANTIZE_BEATS),
              description="scene, slot, theme, model and reference launches wait for the next beat, bar, 2 or "
                          "4 bars of the beat grid (Link's when joined); a launch's last argument overrides it"),
        # 10 ms, not 60: the master ramps each frame's gain across the frame and a trim turned down per
        # block, so no step clicks; longer smoothing only delayed a trim turned up by a frame.
        _float("/master/gain_db", 0.0, -60.0, 12.0, "dB", "trim after the levelling, before the limiter (levelling on: -6 puts the output 6 dB under the target)",
               smoothing_ms=10.0),
        _float("/master/loudness", -16.0, -36.0, -6.0, "LUFS", "loudness the levelling brings the output to (BS.1770; 20 s renders of the default model land within 1 LU on 32 of 32 seeds, on 95 of 96); energy moves it"),
        Param("/master/agc", Kind.BOOL, True,
              description="loudness levelling on (1) or off (0: the model's own level, plus trim and energy offset)"),
        _float("/master/ceiling", -1.0, -12.0, 0.0, "dBTP", "true-peak limiter ceiling (4x oversampled peaks, 3 ms look-ahead, 40 dB/s release)",
               smoothing_ms=0.0),
        _float("/rave/drywet", 1.0, 0.0, 1.0, "", "dry input (0) to model output (1), equal-power: dry cos(90 deg "
               "x v), wet sin(90 deg x v), -3 dB each at 0.5; dry is time-aligned with the wet (live --input or "
               "render --input; without input, dry is silence)"),
        Param("/rave/model", Kind.STRING, "",
              description="live: swap to this model file (in the models folder, or an allowed absolute path)"),
        Param("/rave/model/b", Kind.STRING, "",
              description="a second model beside the first (same folders as /rave/model; off or empty "
                          "unloads it): both follow the same controls, mixed by /rave/model_mix"),
        _float("/rave/model_mix", 0.0, 0.0, 1.0, "", "model A (0) to model B (1), equal-power: A cos(90 deg x v), "
               "B sin(90 deg x v); nothing without /rave/model/b"),
        Param("/rave/reference/a", Kind.STRING, "",
              description="audio file encoded into source ref1 (live: loaded off the audio path, glides in; "
                          "models/, presets/ or an --allow-model-dir folder)"),
        Param("/rave/reference/b", Kind.STRING, "", description="audio file encoded into source ref2, as "
                                                                 "/rave/reference/a"),
        Param("/rave/method", Kind.STRING, "",
              description="the model method that plays (like --method): empty = decode when the model has one, "
                          "else forward or its first audio method; an audio method plays the input through "
                          "the model; live, switches between audio methods at the next frame"),
        _float("/scene/morph_time", 2.0, 0.0, 60.0, "s", "duration of a scene morph", smoothing_ms=0.0),
        *_explore_rows(),
    ]
    for i in range(latent_size):
        rows.append(_float(f"/rave/latent/{i}/bias", 0.0, -3.0, 3.0, "", f"offset added to latent dimension {i}"))
        rows.append(_float(f"/rave/latent/{i}/scale", 1.0, -3.0, 3.0, "x", f"gain on latent dimension {i}"))
    rows += _visual_rows()
    for n in range(N_MODS):
        rows += [
            Param(f"/mod/{n}/source", Kind.ENUM, "off", choices=("off", *MOD_SOURCES),
                  description=f"modulation {n}: the audio feature that drives the target"),
            Param(f"/mod/{n}/target", Kind.STRING, "",
                  description=f"modulation {n} target: the address of any continuous parameter, or empty"),
            _float(f"/mod/{n}/depth", 0.0, -1.0, 1.0, "", f"modulation {n} depth: a feature at 1.0 moves the target "
                   "by depth times its whole range"),
        ]
    for n in range(n_lfos):
        rows += [
            _float(f"/lfo/{n}/rate", 1.0, 0.01, 20.0, "Hz", f"LFO {n} free-running rate (when sync is off)"),
            _float(f"/lfo/{n}/depth", 0.0, 0.0, 1.0, "", f"LFO {n} depth, as a fraction of the target's half-range"),
            _float(f"/lfo/{n}/phase", 0.0, 0.0, 1.0, "cycle", f"LFO {n} phase offset", smoothing_ms=0.0),
            Param(f"/lfo/{n}/shape", Kind.ENUM, "sine", choices=LFO_SHAPES, description=f"LFO {n} waveform"),
            Param(f"/lfo/{n}/sync", Kind.ENUM, "off", choices=("off", *LFO_DIVISIONS),
                  description=f"LFO {n} tempo-synced division (off: free-running rate)"),
            Param(f"/lfo/{n}/target", Kind.STRING, "",
                  description=f"LFO {n} target: the address of any continuous parameter, or empty"),
        ]
    return tuple(rows)


MAX_CODEBOOK_K = 16  # nearest frames the codebook blends at most
MAX_ATLAS_CLUSTERS = 256  # explore --clusters at most


def _explore_rows() -> list[Param]:
    """The atlas (`explore --out`): codebook resynthesis and navigation."""
    return [
        Param("/rave/codebook", Kind.STRING, "",
              description="codebook resynthesis: each latent frame (any source) becomes its nearest frames of "
                          "this atlas (.npz in models/ or presets/, or an allowed absolute path; offline any "
                          "path); empty or off: none; switches with a 250 ms fade"),
        Param("/rave/codebook_k", Kind.INT, 3, 1, MAX_CODEBOOK_K,
              description="atlas frames blended per latent frame by the codebook, weighted by inverse distance"),
        Param("/explore/atlas", Kind.STRING, "",
              description="the atlas to navigate (paths as /rave/codebook); live, sent to /explore/subscribe "
                          "clients (/explore/atlas/...)"),
        Param("/explore/cluster", Kind.INT, -1, -1, MAX_ATLAS_CLUSTERS - 1,
              description="the walk glides into this atlas cluster's region over /scene/morph_time "
                          "(-1: the prior); action cluster:N"),
        Param("/explore/chunk", Kind.INT, -1, -1, 2**31 - 1,
              description="the walk glides into this atlas chunk's region (/explore/point X Y Z picks the chunk "
                          "nearest a map position); -1: none"),
    ]


# Visual controls the visual process takes as the render graph's values (smoothed, with LFOs and
# feature modulation applied), not as the raw parameter: an LFO on /visual/zoom moves the zoom.
VISUAL_MODULATED = tuple(f"/visual/{name}" for name in (
    "noise_scale", "speed", "zoom", "warp", "hue", "brightness", "feedback", "reactivity"))


def _visual_rows() -> list[Param]:
    def trigger(address: str, description: str) -> Param:
        return Param(address, Kind.INT, 0, 0, 2**31 - 1, TRIGGER, description=description)

    return [
        Param("/analysis/source", Kind.ENUM, "output", choices=ANALYSIS_SOURCES,
              description="what the analysis hears: the engine's output, the live input, or both (loudest wins)"),
        Param("/visual/generator", Kind.ENUM, DEFAULT_GENERATOR, choices=GENERATOR_NAMES,
              description="visual generator; changing it restarts the visual process"),
        Param("/visual/theme", Kind.STRING, DEFAULT_THEME, description="theme name in presets/themes"),
        _float("/visual/theme_transition", 2.0, 0.0, 30.0, "s", "duration of a theme switch", smoothing_ms=0.0),
        _float("/visual/noise_scale", 0.3, 0.0, 1.0, "", "how far each frame moves from the cached latent"),
        _float("/visual/speed", 0.5, 0.0, 1.0, "", "drift speed of the image's own latent"),
        _float("/visual/zoom", 0.5, 0.0, 1.0, "", "zoom"),
        _float("/visual/warp", 0.3, 0.0, 1.0, "", "domain distortion"),
        _float("/visual/hue", 0.0, 0.0, 1.0, "cycle", "palette rotation"),
        _float("/visual/brightness", 1.0, 0.0, 2.0, "x", "brightness"),
        _float("/visual/feedback", 0.5, 0.0, 1.0, "", "weight of the previous frame's latent (the latent cache)"),
        _float("/visual/reactivity", 1.0, 0.0, 2.0, "x", "sensitivity of every theme mapping"),
        Param("/visual/prompt", Kind.STRING, "", description="prompt; empty: the theme's own"),
        _float("/visual/prompt_transition", 1.0, 0.0, 10.0, "s", "slerp time of a prompt change", smoothing_ms=0.0),
        trigger("/visual/reset", "hard cut: every write drops the latent cache (beat action cache_reset)"),
        trigger("/visual/pulse", "a burst of motion, as the theme's pulse_noise beat action"),
        trigger("/visual/next_prompt", "the theme's next prompt variation (beat action prompt_cycle)"),
        trigger("/visual/transition", "a transition to the next variation and palette (transition_trigger)"),
        Param("/visual/seed", Kind.INT, 0, 0, 2**31 - 1, description="visual random seed"),
        _float("/visual/fps", 30.0, 1.0, 120.0, "fps", "frame rate the visual process aims for", smoothing_ms=0.0),
    ]
