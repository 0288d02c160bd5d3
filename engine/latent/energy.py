"""`/rave/energy` that means energy on any model: louder and brighter as it rises, whatever the decoder.

How loud or bright a latent decodes differs from model to model (an untrained or unfamiliar export can
be loudest at the prior's centre), so scaling the latent alone can make "more energy" quieter. At load
the model is charted instead (`calibrate`):

1. decode samples of its prior (the normalised control space, N(0, 1) per dimension), each held for
   two latent frames, and measure each one's K-weighted loudness and spectral centroid;
2. a ridge regression of loudness and of log-centroid on the latent gives the directions that move
   them; energy moves along their bisector (both rise along it unless they are exactly opposed);
3. a sweep decodes the same samples shaped at a grid of energies and records how much louder each
   energy decodes than energy 1 (paired, so the seed's own loudness cancels).

Energy e then moves a latent z to ``z + SHIFT * u(e) * direction`` (u: -1 at 0.3, 0 at 1, +1 at 2.0,
logarithmic in e; scaling z as well, as this engine once did, made loudness per seed a lottery), tilts
the spectrum (engine/dsp/tilt.py: brighter on any model, whatever the latent does), and a post-decode
gain makes up the difference between what the sweep measured and the target rise of
TARGET_DB_PER_OCTAVE per doubling of energy. So a model whose latent moves loudness a lot gets little
gain, and one whose latent barely moves it gets nearly all of it from the gain. The result is cached
by the model file's hash: a second load costs one hash. An export can carry its calibration inside the
file (`embedded_payload`, written by engine/training/export.py as a TorchScript extra file): it is used
when it was made with this calibration's settings and the same latent statistics, so a new model plays
at once, on any machine, with no calibration and no hash.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
import os
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from engine.dsp.sound_measures import centroid_hz, frame_power, loudness
from engine.dsp.tilt import tilt_power
from engine.master.limiter import RELEASE_DB_PER_S
from engine.models.nn_tilde import NNModel

log = logging.getLogger(__name__)

CALIBRATION_VERSION = 2
ENERGY_MIN, ENERGY_MAX = 0.3, 2.0
TARGET_DB_PER_OCTAVE = 6.0  # 0.3 -> 2.0 is 2.74 octaves: +16.4 dB
TILT = 0.3  # brightness tilt coefficient at energy 2.0 (and minus it at 0.3): engine/dsp/tilt.py
LOUD_WEIGHT = 1.0  # weight of the loudness direction against the brightness one
SHIFT = 1.5  # prior standard deviations along the direction at energy 0.3 (-) and 2.0 (+)
MAX_TILT_DB = 24.0  # the gain never makes up more than this
GRID = (0.3, 0.45, 0.65, 1.0, 1.4, 2.0)
RELEASE_BOOST = 10.0  # limiter release at energy 2.0 against energy 1 (master/limiter.py)
REGRESSION_SAMPLES = 160
SWEEP_SAMPLES = 32
HOLD_FRAMES = 2  # each sample is held this long; its last frame is measured (streaming decoders settle)
CHUNK_FRAMES = 64  # frames per decode call
# A model too slow to decode all of the above in this time gets half, a quarter... of the samples.
# Light models (the default decodes it all in well under 1 s) always get all: their result does not
# depend on how busy the machine is.
BUDGET_SECONDS = 5.0
MIN_SWEEP_SAMPLES = 8
FLOOR_BELOW_LOUDEST_DB = 60.0  # near-silent frames count as this far below the loudest
CACHE_ENV = "RAVE_ENGINE_CACHE"
EMBEDDED_FILE = "energy_calibration.json"  # an extra file in a TorchScript archive (torch.jit.save _extra_files)


def position(energy: float) -> float:
    """Where `energy` sits in its range on a log scale: -1 at 0.3, 0 at 1, +1 at 2.0."""
    e = min(max(energy, ENERGY_MIN), ENERGY_MAX)
    return math.log(e) / math.log(ENERGY_MAX) if e >= 1.0 else -math.log(e) / math.log(ENERGY_MIN)


def limiter_release_db_per_s(energy: float) -> float:
    """The master limiter's release for an energy: the usual 40 dB/s up to energy 1, ten times faster at 2.

    A dense, peaky signal (an untrained decoder's noise) already meets the -1 dBTP ceiling at the
    -16 LUFS target; with the usual release, more gain only means more limiting and no more
    loudness. A faster release at high energy lets the limiter follow the peaks closely, so energy
    keeps adding loudness (and some grit, which is what pushing energy asks for).
    """
    drive = min(max(math.log2(max(energy, ENERGY_MIN)), 0.0), 1.0)
    return RELEASE_DB_PER_S * RELEASE_BOOST**drive


def target_db(energy: float) -> float:
    """The loudness change (dB) energy aims for against energy 1; a master stage's target may follow it."""
    return TARGET_DB_PER_OCTAVE * math.log2(min(max(energy, ENERGY_MIN), ENERGY_MAX))


@dataclass(frozen=True)
class EnergyCalibration:
    direction: tuple[float, ...]  # unit vector in the control space
    loudness_db_per_std: float  # regression slope of loudness along the direction
    centroid_octaves_per_std: float  # regression slope of log2 centroid along the direction
    grid: tuple[float, ...]
    latent_db: tuple[float, ...]  # measured loudness change against energy 1, from the latent alone
    latent_octaves: tuple[float, ...]  # measured centroid change (octaves) against energy 1
    seconds: float  # how long the calibration took
    samples: int = 0  # prior samples decoded for the regression (fewer for models slow to decode)

    @classmethod
    def neutral(cls, latent_size: int) -> EnergyCalibration:
        """No charted direction: energy is a latent scale and the whole target rise comes from gain."""
        zeros = tuple(0.0 for _ in GRID)
        return cls(tuple(0.0 for _ in range(latent_size)), 0.0, 0.0, GRID, zeros, zeros, 0.0)


class EnergyMap:
    """Applies a calibration: the latent shape and the gain tilt for an energy value."""

    def __init__(self, calibration: EnergyCalibration) -> None:
        self.calibration = calibration
        self.direction = np.asarray(calibration.direction, dtype=np.float64)
        self._log_grid = tuple(math.log(g) for g in calibration.grid)
        self._latent_db = tuple(calibration.latent_db)

    def shape(self, z: np.ndarray, energy: float) -> np.ndarray:
        return z + (SHIFT * position(energy)) * self.direction

    def tilt(self, energy: float) -> float:
        """Brightness tilt coefficient (engine/dsp/tilt.py): brighter as energy rises, on any model."""
        return TILT * position(energy)

    def gain_db(self, energy: float) -> float:
        """Post-decode gain: the target rise less what the latent already does (measured at load).
        Plain floats, not numpy: it runs once a frame on the render thread, on one value."""
        e = min(max(energy, ENERGY_MIN), ENERGY_MAX)
        x, grid, db = math.log(e), self._log_grid, self._latent_db
        i = min(max(bisect.bisect_right(grid, x), 1), len(grid) - 1)  # linear between grid[i-1] and grid[i]
        t = min(max((x - grid[i - 1]) / (grid[i] - grid[i - 1]), 0.0), 1.0)
        latent = db[i - 1] + t * (db[i] - db[i - 1])
        return min(max(target_db(e) - latent, -MAX_TILT_DB), MAX_TILT_DB)


# ----------------------------------------------------------------------------- measuring
def _decode_held(model: NNModel, z: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Power spectra (samples, bins) of each row of `z` (samples, dims), decoded held for HOLD_FRAMES:
    the last frame of each is measured."""
    ratio = model.decode_ratio
    frames = np.repeat(mean + std * z, HOLD_FRAMES, axis=0).T.astype(np.float32)  # (dims, samples * hold)
    audio = []
    for start in range(0, frames.shape[1], CHUNK_FRAMES):
        chunk = torch.from_numpy(np.ascontiguousarray(frames[None, :, start:start + CHUNK_FRAMES]))
        out = model.run("decode", chunk)
        audio.append(out[0].double().mean(dim=0).numpy())
    signal = np.nan_to_num(np.concatenate(audio), nan=0.0, posinf=0.0, neginf=0.0)
    held = signal.reshape(z.shape[0], HOLD_FRAMES, ratio)[:, -1]
    return np.concatenate([frame_power(row, ratio) for row in held])


def _measure(power: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Loudness (LUFS, floored) and log2 centroid of each row."""
    level = loudness(power, rate)
    level = np.maximum(level, level.max() - FLOOR_BELOW_LOUDEST_DB)
    return level, np.log2(np.maximum(centroid_hz(power, rate), 1.0))


def _plan(model: NNModel, mean: np.ndarray, std: np.ndarray) -> tuple[int, int]:
    """Regression and sweep sample counts that fit BUDGET_SECONDS, from one timed chunk of decoding
    (which also warms the model up): all of them for light models, fewer for heavy ones."""
    probe = np.zeros((CHUNK_FRAMES // (2 * HOLD_FRAMES), mean.shape[0]))
    model.reset()
    _decode_held(model, probe, mean, std)  # the first calls of a TorchScript model are slow
    started = time.perf_counter()
    _decode_held(model, probe, mean, std)
    per_frame = (time.perf_counter() - started) / (probe.shape[0] * HOLD_FRAMES)
    projected = per_frame * (REGRESSION_SAMPLES + len(GRID) * SWEEP_SAMPLES) * HOLD_FRAMES
    fraction = 1.0 if projected <= BUDGET_SECONDS else 2.0 ** -math.ceil(math.log2(projected / BUDGET_SECONDS))
    n_regression = max(2 * mean.shape[0] + 16, int(REGRESSION_SAMPLES * fraction))
    return max(n_regression, SWEEP_SAMPLES), max(MIN_SWEEP_SAMPLES, int(SWEEP_SAMPLES * fraction))


def _ridge(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    zc = z - z.mean(axis=0)
    yc = y - y.mean()
    lam = 0.1 * z.shape[0]
    return np.linalg.solve(zc.T @ zc + lam * np.eye(z.shape[1]), zc.T @ yc)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else np.zeros_like(v)


def calibrate(model: NNModel, mean: np.ndarray, std: np.ndarray, *, seed_torch: bool = True) -> EnergyCalibration:
    """Chart `model`'s prior (see the module's docstring). Deterministic: torch's global generator is
    seeded inside and restored after, so a stochastic decoder draws the same noise every time and the
    caller's random stream is untouched. `seed_torch=False` while another thread decodes (a live model
    swap): that generator is then left alone, and a stochastic decoder's chart draws whatever noise
    comes (the first chart is cached, so later loads agree)."""
    started = time.perf_counter()
    size = mean.shape[0]
    rng = np.random.default_rng(CALIBRATION_VERSION)
    with torch.random.fork_rng(devices=[], enabled=seed_torch):
        if seed_torch:
            torch.manual_seed(CALIBRATION_VERSION)
        n_regression, n_sweep = _plan(model, mean, std)
        z = rng.standard_normal((n_regression, size))
        if seed_torch:
            torch.manual_seed(CALIBRATION_VERSION)
        model.reset()
        rate = model.sample_rate or 48000
        level, bright = _measure(_decode_held(model, z, mean, std), rate)
        loud_dir, bright_dir = _unit(_ridge(z, level)), _unit(_ridge(z, bright))
        direction = _unit(LOUD_WEIGHT * loud_dir + bright_dir)
        if not direction.any():
            direction = loud_dir
        sweep = z[:n_sweep]
        mapping = EnergyMap(replace(EnergyCalibration.neutral(size), direction=tuple(direction)))
        shaped = np.concatenate([mapping.shape(sweep, e) for e in GRID])
        model.reset()
        power = _decode_held(model, shaped, mean, std).reshape(len(GRID), n_sweep, -1)
        model.reset()
    freqs = np.fft.rfftfreq(model.decode_ratio, 1.0 / rate)
    measured = [_measure(p * tilt_power(mapping.tilt(e), freqs, rate), rate) for p, e in zip(power, GRID, strict=True)]
    # Loudness as a meter reads it: power averaged over the samples, then dB.
    s_level = np.array([10.0 * np.log10(np.mean(10.0 ** (m[0] / 10.0))) for m in measured])
    s_bright = np.array([m[1] for m in measured])
    one = GRID.index(1.0)
    along = (z - z.mean(axis=0)) @ direction  # each sample's coordinate along the direction
    along_sq = max(float(along @ along), 1e-9)
    return EnergyCalibration(
        tuple(float(v) for v in direction), float(along @ (level - level.mean())) / along_sq,
        float(along @ (bright - bright.mean())) / along_sq, GRID,
        tuple(float(v) for v in s_level - s_level[one]),
        tuple(float(v) for v in np.mean(s_bright - s_bright[one], axis=1)),
        time.perf_counter() - started, n_regression)


# ----------------------------------------------------------------------------- cache
_memo: dict[tuple[str, int, int, bytes], EnergyCalibration] = {}


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rave-engine"


def _settings_key() -> str:
    """The calibration's own settings: a cache entry made with others is never read."""
    settings = (CALIBRATION_VERSION, GRID, TILT, BUDGET_SECONDS, SHIFT, LOUD_WEIGHT, REGRESSION_SAMPLES,
                SWEEP_SAMPLES, HOLD_FRAMES, FLOOR_BELOW_LOUDEST_DB)
    return f"v{CALIBRATION_VERSION}-" + hashlib.sha256(repr(settings).encode()).hexdigest()[:12]


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def energy_map_for(model: NNModel, mean: np.ndarray, std: np.ndarray, *, seed_torch: bool = True) -> EnergyMap:
    """The model's energy map: from memory, from the cache on disk, or calibrated now and cached
    (`seed_torch`: see `calibrate`).

    The cache is never required: an unreadable or unwritable one only costs a calibration."""
    path = Path(model.path)
    try:
        stat = path.stat()
        memo_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, mean.tobytes() + std.tobytes())
        if memo_key in _memo:
            return EnergyMap(_memo[memo_key])
        calibration = read_embedded(path, mean, std)
        file = None if calibration else cache_dir() / "energy" / f"{_file_hash(path)}-{_settings_key()}.json"
    except OSError:
        return EnergyMap(calibrate(model, mean, std, seed_torch=seed_torch))
    if file is not None:
        calibration = _read(file, mean.shape[0])
        if calibration is None:
            calibration = calibrate(model, mean, std, seed_torch=seed_torch)
            log.info("%s: energy calibrated in %.2f s", path.name, calibration.seconds)
            _write(file, calibration)
    _memo[memo_key] = calibration
    return EnergyMap(calibration)


def embedded_payload(calibration: EnergyCalibration, mean: np.ndarray, std: np.ndarray) -> str:
    """What an export stores as EMBEDDED_FILE: the calibration with the settings and the latent
    statistics it was made with (a reader checks both, as the cache's file name does)."""
    return json.dumps({"settings": _settings_key(), "mean": [float(v) for v in mean],
                       "std": [float(v) for v in std], "calibration": asdict(calibration)})


def read_embedded(path: Path, mean: np.ndarray, std: np.ndarray) -> EnergyCalibration | None:
    """The calibration a TorchScript file carries, when made with these settings and statistics."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/extra/" + EMBEDDED_FILE)), None)
            if name is None:
                return None
            data = json.loads(archive.read(name))
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    if not isinstance(data, dict) or data.get("settings") != _settings_key():
        return None
    if data.get("mean") != [float(v) for v in mean] or data.get("std") != [float(v) for v in std]:
        return None
    return _calibration(data.get("calibration"), mean.shape[0])


def _calibration(data: object, latent_size: int) -> EnergyCalibration | None:
    try:
        calibration = EnergyCalibration(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    except (AttributeError, TypeError):
        return None
    return calibration if len(calibration.direction) == latent_size else None


def _read(file: Path, latent_size: int) -> EnergyCalibration | None:
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    return _calibration(data, latent_size)


def _write(file: Path, calibration: EnergyCalibration) -> None:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=file.parent, delete=False, suffix=".tmp") as tmp:
            json.dump(asdict(calibration), tmp)
        os.replace(tmp.name, file)
    except OSError as exc:
        log.debug("energy calibration not cached (%s)", exc)
