"""The `cppn` generator: output format, determinism, and that it answers the audio and the controls.

Behaviour tests run at 128x128 in float32 (fast, and the same arithmetic on every machine); the
format tests use the sizes the engine uses, one of them through the auto dtype/layout choice.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis.features import INDEX, empty
from engine.errors import VisualError
from engine.visual.frame_input import VisualFrame
from engine.visual.generators.base import create_generator
from engine.visual.generators.cppn import CppnGenerator

SIZE = 128


def make(seed: int = 0, size: int = SIZE) -> CppnGenerator:
    return CppnGenerator(size, size, seed=seed, dtype="float32", channels_last=False, scale=1.0)


def features(loud: bool) -> np.ndarray:
    row = empty()
    value = 0.9 if loud else 0.05
    for name in ("level", "bass", "low_mid", "high_mid", "high", "onset_strength", "flux"):
        row[INDEX[name]] = value
    return row


def render(gen: CppnGenerator, count: int, start: int = 0, **fields: object) -> list[np.ndarray]:
    return [gen.render(VisualFrame(index=start + i, **fields)).astype(np.int16) for i in range(count)]


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def steps(frames: list[np.ndarray]) -> list[float]:
    return [diff(a, b) for a, b in zip(frames, frames[1:], strict=False)]


@pytest.mark.parametrize(("width", "height", "options"), [
    (256, 256, {}),  # the auto choice: times each dtype / layout once
    (320, 192, {"dtype": "bfloat16", "channels_last": True}),
])
def test_frame_format(width: int, height: int, options: dict[str, object]) -> None:
    gen = create_generator("cppn", width, height, seed=1, options=options)
    try:
        for i in range(3):
            image = gen.render(VisualFrame(index=i, features=features(True), beat=i == 1))
            assert image.shape == (height, width, 3)
            assert image.dtype == np.uint8
            assert image.flags.c_contiguous
        info = gen.info()
        assert info["dtype"] in ("float32", "bfloat16")
        assert isinstance(info["channels_last"], bool)
        assert info["threads"] == 1
        assert info["output_size"] == [width, height]
        if not options:
            assert set(info["timings_ms"]) >= {"float32/contiguous/1", "bfloat16/channels_last/1"}
    finally:
        gen.close()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_not_a_flat_image(seed: int) -> None:
    image = render(make(seed), 2)[-1]
    assert image.std() > 25.0
    # Smooth in space: neighbouring pixels differ far less than the image varies.
    assert np.abs(np.diff(image, axis=1)).mean() < image.std() / 4


def test_same_seed_same_frames_other_seed_other_frames() -> None:
    def run(seed: int) -> list[np.ndarray]:
        gen = make(seed)
        rng = np.random.default_rng(7)
        out = []
        for i in range(12):
            row = rng.uniform(0.0, 1.0, empty().size).astype(np.float32)
            out.append(gen.render(VisualFrame(index=i, features=row, latent=rng.standard_normal(8),
                                              beat=i % 4 == 0, onset=i % 3 == 0, prompt="tide")))
        return out

    first, again, other = run(5), run(5), run(6)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(diff(a, b) > 10.0 for a, b in zip(first, other, strict=True))


def test_loud_beats_change_more_than_steady_quiet() -> None:
    quiet = steps(render(make(), 24, features=features(False)))
    gen = make()
    loud = []
    for i in range(24):
        frame = VisualFrame(index=i, features=features(True), beat=i % 4 == 0, onset=i % 2 == 0)
        loud.append(gen.render(frame))
    loud_steps = steps(loud)
    assert np.mean(quiet[4:]) < 8.0  # continuous in time: steady quiet audio flows slowly
    assert np.mean(loud_steps[4:]) > 2.5 * np.mean(quiet[4:])
    beat_steps = [loud_steps[i - 1] for i in range(8, 24, 4)]  # the step into each beat frame
    assert min(beat_steps) > 3.0 * np.mean(quiet[4:])


def test_reset_is_a_hard_cut() -> None:
    gen = make()
    frames = render(gen, 12)
    cut = gen.render(VisualFrame(index=12, reset=True))
    normal = np.mean(steps(frames)[2:])
    assert diff(frames[-1], cut) > 6.0 * normal
    after = gen.render(VisualFrame(index=13))
    assert diff(cut, after) < diff(frames[-1], cut) / 2  # and the cut is followed by motion, not jumps


def test_noise_scale_moves_more() -> None:
    still = np.mean(steps(render(make(), 30, noise_scale=0.0))[8:])
    moving = np.mean(steps(render(make(), 30, noise_scale=1.0))[8:])
    assert moving > 1.5 * still


def test_prompt_change_is_a_gradual_transition() -> None:
    settle = {"speed": 0.0, "features": features(False)}
    gen = make(3)
    before = render(gen, 30, prompt="deep ocean", **settle)[-1]
    during = render(gen, 48, start=30, prompt="forest fire", transition_frames=24, **settle)
    after = during[-1]
    distance = diff(before, after)
    assert distance > 25.0  # the prompt really changes the picture
    # The first frame after the change is still close to the old look, then the look moves away
    # frame by frame, without a jump, and calms down once the transition is over.
    away = [diff(before, f) for f in during]
    assert away[0] < 0.2 * distance
    assert away[0] < away[3] < away[6]
    assert max(steps([before, *during])) < 0.5 * distance
    assert np.mean(steps(during[30:])) < 0.4 * max(steps(during[:24]))
    # transition_frames=1 is a cut: the first frame after the change moves much further
    cut = make(3)
    render(cut, 30, prompt="deep ocean", **settle)
    jump = cut.render(VisualFrame(index=30, prompt="forest fire", transition_frames=1, **settle))
    assert diff(before, jump) > 2.0 * diff(before, during[0])


def test_palette_controls_colour() -> None:
    reds = ((0.35, 0.0, 0.0), (1.0, 0.05, 0.0), (0.6, 0.0, 0.05))
    image = render(make(), 2, palette=reds)[-1].astype(np.float64)
    red, green, blue = image[..., 0].mean(), image[..., 1].mean(), image[..., 2].mean()
    assert red > 60.0 and red > 5.0 * max(green, blue)
    # A palette change crossfades over transition_frames rather than switching at once.
    gen = make()
    render(gen, 3, palette=reds)
    blues = ((0.0, 0.0, 0.35), (0.0, 0.1, 1.0))
    faded = render(gen, 10, start=3, palette=blues, transition_frames=10)
    blue_share = [f[..., 2].mean() / (f[..., 0].mean() + f[..., 2].mean()) for f in faded]
    assert blue_share[0] < 0.3 and blue_share[-1] > 0.9
    assert all(b > a for a, b in zip(blue_share, blue_share[1:], strict=False))


def test_hue_rotates_the_palette() -> None:
    plain = render(make(), 2)[-1]
    rotated = render(make(), 2, hue=0.5)[-1]
    assert diff(plain, rotated) > 20.0


@pytest.mark.parametrize("size", [0, 128])
def test_audio_latent_of_any_length(size: int) -> None:
    rng = np.random.default_rng(1)
    gen = make()
    frames = [gen.render(VisualFrame(index=i, latent=rng.standard_normal(size).astype(np.float32)))
              for i in range(6)]
    assert all(f.shape == (SIZE, SIZE, 3) for f in frames)
    if size:  # a moving audio latent moves the picture more than no latent at all
        assert np.mean(steps(frames)) > np.mean(steps(render(make(), 6)))


def test_lower_internal_resolution_is_upsampled() -> None:
    gen = CppnGenerator(160, 96, seed=2, dtype="float32", channels_last=True, scale=0.5)
    image = gen.render(VisualFrame())
    assert image.shape == (96, 160, 3) and image.flags.c_contiguous
    assert gen.info()["internal_size"] == [80, 48] and gen.info()["upsampled"]
    assert np.abs(np.diff(image.astype(np.int16), axis=1)).mean() < image.std() / 4  # bilinear: no blocks


def test_broken_controls_do_not_break_the_stream() -> None:
    gen = make()
    nan = float("nan")
    image = gen.render(VisualFrame(noise_scale=nan, speed=nan, zoom=nan, warp=nan, hue=nan, brightness=nan,
                                   feedback=nan, transition_frames=0, palette=((0.2, 0.4, 0.9),),
                                   features=np.full(5, nan), latent=np.array([nan, 1.0])))
    after = gen.render(VisualFrame(index=1))
    assert image.shape == after.shape == (SIZE, SIZE, 3)
    assert after.std() > 25.0


@pytest.mark.parametrize(("width", "height"), [(100, 64), (8, 8), (64, 0), (12, 64)])
def test_bad_sizes_raise(width: int, height: int) -> None:
    with pytest.raises(VisualError):
        create_generator("cppn", width, height)


def test_bad_options_raise() -> None:
    with pytest.raises(VisualError):
        create_generator("cppn", 64, 64, options={"dtype": "float16"})
    with pytest.raises(VisualError):
        create_generator("cppn", 64, 64, options={"scale": 2.0})
