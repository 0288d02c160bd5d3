"""The table of every parameter the engine exposes, built for a model's latent size.

Table-driven (like mido's message specs): adding a control means adding one row here, and
OSC, MIDI maps, scenes, automation and the README's address list all pick it up.
"""

from __future__ import annotations

from engine.params.param import Kind, Param

N_LFOS = 4
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
LATENT_SOURCES = ("walk", "ref1", "ref2", "input")

_SMOOTH_MS = 60.0


def _float(address: str, default: float, lo: float, hi: float, unit: str, description: str,
           smoothing_ms: float = _SMOOTH_MS) -> Param:
    return Param(address, Kind.FLOAT, default, lo, hi, unit, smoothing_ms, description=description)


def build_param_table(latent_size: int, n_lfos: int = N_LFOS) -> tuple[Param, ...]:
    """Every Param, in a stable order: engine-wide controls, per-latent-dimension, then LFOs."""
    if latent_size < 1:
        raise ValueError(f"latent_size must be at least 1, got {latent_size}")
    rows: list[Param] = [
        _float("/rave/energy", 1.0, 0.3, 2.0, "x", "latent scale (how far the latent strays from the prior centre), with a sqrt(energy) loudness tilt"),
        _float("/rave/chaos", 0.0, 0.0, 1.0, "", "white noise added to every latent frame"),
        _float("/rave/texture", 0.3, 0.0, 1.0, "", "amount of slow random variation on top of the source"),
        _float("/rave/style", 0.0, 0.0, 1.0, "", "blend from source A (0) to source B (1)"),
        _float("/rave/walk_speed", 0.3, 0.0, 1.0, "", "how fast the prior random walk wanders"),
        Param("/rave/source/a", Kind.ENUM, "walk", choices=LATENT_SOURCES,
              description="latent source A: prior random walk, a loaded reference loop, or live input"),
        Param("/rave/source/b", Kind.ENUM, "walk", choices=LATENT_SOURCES,
              description="latent source B, blended in by /rave/style"),
        _float("/tempo/bpm", 120.0, 20.0, 300.0, "bpm", "tempo: reference loops play at bpm / reference_bpm"),
        _float("/tempo/reference_bpm", 120.0, 20.0, 300.0, "bpm", "the tempo reference clips were played at",
               smoothing_ms=0.0),
        _float("/master/gain_db", 0.0, -60.0, 12.0, "dB", "output gain"),
        _float("/rave/drywet", 1.0, 0.0, 1.0, "", "live: mix of the dry input (0) and the model's output (1)"),
        Param("/rave/model", Kind.STRING, "",
              description="live: swap to this model file (in the models folder, or an allowed absolute path)"),
        _float("/scene/morph_time", 2.0, 0.0, 60.0, "s", "duration of a scene morph", smoothing_ms=0.0),
    ]
    for i in range(latent_size):
        rows.append(_float(f"/rave/latent/{i}/bias", 0.0, -3.0, 3.0, "", f"offset added to latent dimension {i}"))
        rows.append(_float(f"/rave/latent/{i}/scale", 1.0, -3.0, 3.0, "x", f"gain on latent dimension {i}"))
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
