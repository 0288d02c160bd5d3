"""Recordings of one instrument for bench_train.py: random phrases played by a sampled General MIDI
instrument through FluidSynth (Debian: `fluidsynth` and `timgm6mb-soundfont`; no download at run time).

.venv/bin/python bench/instrument_material.py --out DIR [--program 0] [--train-minutes 5] [--heldout-minutes 1]

Writes DIR/train/ (one-minute takes) and DIR/heldout/ (15-second takes, so a score on the first 15 s
of each recording hears all of them), the held-out ones from other seeds: other phrases, the same
instrument. Phrases: notes and two- or three-note chords on a major or minor
scale, 70-160 BPM, varied lengths and velocities, with rests.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import mido
import numpy as np

SOUNDFONTS = (Path("/usr/share/sounds/sf2/TimGM6mb.sf2"), Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
              Path("/usr/share/sounds/sf2/default-GM.sf2"))
SCALES = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10))
TICKS = 480


def phrase_midi(rng: np.random.Generator, program: int, seconds: float) -> mido.MidiFile:
    bpm = float(rng.uniform(70, 160))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
                            mido.Message("program_change", program=program, time=0)])
    root = int(rng.integers(45, 58))
    scale = SCALES[int(rng.integers(0, 2))]
    beats = seconds * bpm / 60
    t, pending_rest = 0.0, 0
    while t < beats:
        length = float(rng.choice([0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
        if rng.random() < 0.12:
            pending_rest += int(length * TICKS)
            t += length
            continue
        degree = int(rng.integers(0, 15))
        notes = [root + 12 * (degree // 7) + scale[degree % 7]]
        for _ in range(int(rng.choice([0, 0, 1, 2]))):
            d = degree + int(rng.choice([2, 4]))
            notes.append(root + 12 * (d // 7) + scale[d % 7])
        velocity = int(rng.integers(45, 120))
        for i, n in enumerate(notes):
            track.append(mido.Message("note_on", note=n, velocity=velocity, time=pending_rest if i == 0 else 0))
        pending_rest = 0
        for i, n in enumerate(notes):
            track.append(mido.Message("note_off", note=n, velocity=0, time=int(length * TICKS) if i == 0 else 0))
        t += length
    song = mido.MidiFile(ticks_per_beat=TICKS)
    song.tracks.append(track)
    return song


def render_take(song: mido.MidiFile, out: Path, soundfont: Path, rate: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        midi = Path(tmp) / "take.mid"
        song.save(midi)
        subprocess.run(["fluidsynth", "-ni", "-g", "0.6", "-r", str(rate), "-F", str(out), str(soundfont), str(midi)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def write_set(folder: Path, minutes: float, take_seconds: float, program: int, seed: int, soundfont: Path,
              rate: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for take in range(max(1, int(round(minutes * 60 / take_seconds)))):
        rng = np.random.default_rng([seed, take])
        render_take(phrase_midi(rng, program, take_seconds), folder / f"take{take:02d}.wav", soundfont, rate)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--program", type=int, default=0, help="General MIDI program (0: acoustic grand piano)")
    p.add_argument("--train-minutes", type=float, default=5.0)
    p.add_argument("--heldout-minutes", type=float, default=1.0)
    p.add_argument("--rate", type=int, default=48000)
    a = p.parse_args()
    if shutil.which("fluidsynth") is None:
        raise SystemExit("fluidsynth is not installed (Debian: apt-get install fluidsynth timgm6mb-soundfont)")
    soundfont = next((s for s in SOUNDFONTS if s.is_file()), None)
    if soundfont is None:
        raise SystemExit("no General MIDI soundfont in /usr/share/sounds/sf2 (Debian: timgm6mb-soundfont)")
    write_set(a.out / "train", a.train_minutes, 60.0, a.program, 1, soundfont, a.rate)
    write_set(a.out / "heldout", a.heldout_minutes, 15.0, a.program, 2, soundfont, a.rate)
    print(f"wrote {a.out}/train ({a.train_minutes:g} min) and {a.out}/heldout ({a.heldout_minutes:g} min), "
          f"program {a.program}, {soundfont.name}")


if __name__ == "__main__":
    main()
