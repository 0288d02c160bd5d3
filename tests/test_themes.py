"""Themes (presets/themes/*.toml) and the theme mapper that turns them into a VisualFrame per frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.analysis.features import CHROMA_SLICE, INDEX, N_FEATURES
from engine.errors import ParamError, PresetError
from engine.params import ParamStore, build_param_table
from engine.params.table import DEFAULT_THEME
from engine.visual.frame_input import DEFAULT_PALETTE, VisualFrame
from engine.visual.theme_mapper import ThemeMapper, apply_curve
from engine.visual.themes import (
    THEMES_DIR,
    check_theme_name,
    list_themes,
    load_theme,
    read_theme,
)

FPS = 10.0


def write(tmp_path: Path, text: str, name: str = "test") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def theme_from(tmp_path: Path, text: str, name: str = "test"):
    return read_theme(write(tmp_path, text, name))


def features(**named: float) -> np.ndarray:
    row = np.zeros(N_FEATURES, dtype=np.float32)
    for key, value in named.items():
        row[INDEX[key]] = value
    return row


class Run:
    """Drives a mapper frame by frame with a frame counter of its own."""

    def __init__(self, mapper: ThemeMapper) -> None:
        self.mapper = mapper
        self.index = 0

    def __call__(self, row: np.ndarray | None = None, values: dict[str, object] | None = None,
                 beats: int = 0, onsets: int = 0) -> VisualFrame:
        frame = self.mapper.frame(self.index, self.index / self.mapper.fps, features() if row is None else row,
                                  np.zeros(8, dtype=np.float32), values or {}, beats=beats, onsets=onsets)
        self.index += 1
        return frame


# --- files -------------------------------------------------------------------------------------------


def test_every_shipped_theme_loads_and_runs() -> None:
    names = list_themes()
    assert {"nebula", "strobe", "ink", "aurora"} <= set(names)
    assert DEFAULT_THEME in names
    rng = np.random.default_rng(0)
    for name in names:
        theme = load_theme(name)
        assert theme.name == name and theme.description and theme.prompt.base
        assert theme.path == THEMES_DIR / f"{name}.toml"
        assert 2 <= len(theme.colours) <= 8
        run = Run(ThemeMapper(theme, fps=30.0))
        for k in range(300):
            row = rng.random(N_FEATURES).astype(np.float32)
            row[INDEX["bpm"]] = 120.0
            frame = run(row, {"/visual/theme": name}, beats=int(k % 15 == 0), onsets=int(k % 5 == 0))
            for param in ("noise_scale", "speed", "zoom", "warp", "hue", "feedback"):
                assert 0.0 <= getattr(frame, param) <= 1.0, (name, param)
            assert 0.0 <= frame.brightness <= 2.0
            assert all(0.0 <= c <= 1.0 for colour in frame.palette for c in colour)
            assert frame.prompt
        assert run.mapper.errors == []


def test_themes_are_distinct() -> None:
    themes = [load_theme(name) for name in list_themes()]
    assert len({t.prompt.base for t in themes}) == len(themes)
    assert len({tuple(t.palette or ()) for t in themes}) == len(themes)


def test_load_by_path_and_case_insensitive_name(tmp_path: Path) -> None:
    assert load_theme("NEBULA").name == "nebula"
    path = write(tmp_path, 'description = "no name: the file stem is the name"\n', "mine")
    assert load_theme(str(path)).name == "mine"
    assert load_theme(str(path)).colours == DEFAULT_PALETTE


def test_unknown_theme_name_lists_the_known_ones() -> None:
    with pytest.raises(PresetError, match=r"unknown theme 'nope' \(known: .*nebula"):
        load_theme("nope")


MAPPING = '[[mapping]]\nfeature = "bass"\nparam = "zoom"\namount = 0.2\n'

INVALID = {
    "bad curve": (MAPPING * 2 + MAPPING.replace("amount", 'curve = "cubic"\namount'),
                  ["mapping[2].curve", "'cubic' is not one of linear, exponential, logarithmic, stepped"]),
    "unknown key": (MAPPING.replace("amount", "sensitivty = 2.0\namount"),
                    ["mapping[0].sensitivty", "unknown key", "did you mean 'sensitivity'"]),
    "unknown top-level key": ('descripton = "x"\n', ["descripton", "did you mean 'description'"]),
    "wrong type": (MAPPING.replace("0.2", '"lots"'), ["mapping[0].amount", "valid number", "'lots'"]),
    "string for a number": (MAPPING.replace("0.2", '"0.2"'), ["mapping[0].amount", "valid number"]),
    "bad hex colour": ('palette = ["#000000", "#12345"]\n', ["palette[1]", "'#12345' is not a colour"]),
    "too few colours": ('palette = ["#000000"]\n', ["palette", "2 to 8 colours, got 1"]),
    "unknown feature": (MAPPING.replace('"bass"', '"bas"'),
                        ["mapping[0].feature", "'bas' is not a feature name", "did you mean 'bass'"]),
    "unknown param": (MAPPING.replace('"zoom"', '"zooom"'), ["mapping[0].param", "'zooom' is not one of"]),
    "missing amount": ('[[mapping]]\nfeature = "bass"\nparam = "zoom"\n', ["mapping[0].amount", "missing"]),
    "bad action": ('[[beat]]\naction = "explode"\n', ["beat[0].action", "'explode' is not one of pulse_noise"]),
    "every 0": ('[[beat]]\naction = "cache_reset"\nevery = 0\n', ["beat[0].every", "greater than or equal to 1"]),
    "cycle without variations": ('[[beat]]\naction = "prompt_cycle"\n', ["beat[0].action", "prompt.variations"]),
    "range outside": ('[range]\nzoom = { max = 1.5 }\n', ["range.zoom.max", "outside zoom's range 0..1"]),
    "range inverted": ('[range]\nwarp = { min = 0.8, max = 0.2 }\n', ["range.warp", "min 0.8 is above max 0.2"]),
    "steps on a linear curve": (MAPPING.replace("amount", "steps = 3\namount"), ["mapping[0].steps"]),
    "chroma of 3": ('[prompt]\nchroma = ["a", "b", "c"]\n', ["prompt.chroma", "needs 12 prompts", "got 3"]),
    "toml syntax": ('name = "x"\ndescription = "y"\nspeed = = 3\n', ["not valid TOML", "line 3"]),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_theme_names_file_key_and_problem(tmp_path: Path, case: str) -> None:
    text, fragments = INVALID[case]
    path = write(tmp_path, text)
    with pytest.raises(PresetError) as caught:
        read_theme(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message, message


# --- curves ------------------------------------------------------------------------------------------


def test_curves_are_monotone_distinct_and_span_0_to_1() -> None:
    x = np.linspace(0.0, 1.0, 201)
    shaped = {curve: apply_curve(curve, x, 5) for curve in ("linear", "exponential", "logarithmic", "stepped")}
    for curve, y in shaped.items():
        assert np.all(np.diff(y) >= 0.0), curve
        assert y[0] == pytest.approx(0.0) and y[-1] == pytest.approx(1.0), curve
    inner = slice(1, -1)
    assert np.all(shaped["exponential"][inner] < shaped["linear"][inner])
    assert np.all(shaped["logarithmic"][inner] > shaped["linear"][inner])
    assert sorted(set(shaped["stepped"].round(9))) == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    for steps in (2, 3, 8):
        assert len(set(apply_curve("stepped", x, steps).round(9))) == steps
    assert apply_curve("linear", 1.7) == 1.0 and apply_curve("exponential", -0.3) == 0.0  # inputs are clipped


# --- mappings ----------------------------------------------------------------------------------------


def test_a_rising_feature_moves_its_param_the_right_way(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, '''
[[mapping]]
feature = "bass"
param = "zoom"
amount = 0.4
[[mapping]]
feature = "bass"
param = "brightness"
curve = "exponential"
amount = -0.5
''')
    run = Run(ThemeMapper(theme, fps=FPS))
    zoom, brightness = [], []
    for level in np.linspace(0.0, 1.0, 11):
        frame = run(features(bass=level))
        zoom.append(frame.zoom)
        brightness.append(frame.brightness)
    assert zoom[0] == pytest.approx(0.5) and zoom[-1] == pytest.approx(0.9)
    assert brightness[0] == pytest.approx(1.0) and brightness[-1] == pytest.approx(0.5)
    assert np.all(np.diff(zoom) > 0) and np.all(np.diff(brightness) < 0)


def test_reactivity_scales_every_mapping(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, MAPPING.replace("0.2", "0.4"))
    zooms = {r: Run(ThemeMapper(theme, fps=FPS))(features(bass=0.5), {"/visual/reactivity": r}).zoom
             for r in (0.0, 1.0, 2.0)}
    assert zooms == pytest.approx({0.0: 0.5, 1.0: 0.7, 2.0: 0.9})


def test_smoothing_attack_and_release(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, MAPPING.replace("amount = 0.2", "amount = 0.4\nattack_ms = 0\nrelease_ms = 1000"))
    run = Run(ThemeMapper(theme, fps=FPS))
    assert run(features(bass=1.0)).zoom == pytest.approx(0.9)  # attack 0: at once
    falling = [run(features(bass=0.0)).zoom for _ in range(10)]
    assert np.all(np.diff(falling) < 0) and falling[0] > 0.8  # one-pole release, tau 1 s: 1/e after 10 frames
    assert falling[-1] - 0.5 == pytest.approx(0.4 * np.exp(-1.0), rel=1e-6)


def test_engine_value_plus_offset_and_ranges_clamp(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, '''
[offset]
zoom = 0.3
noise_scale = -0.2
[range]
zoom = { max = 0.7 }
noise_scale = { min = 0.2 }
[[mapping]]
feature = "level"
param = "zoom"
amount = 1.0
''')
    run = Run(ThemeMapper(theme, fps=FPS))
    quiet = run(features(level=0.0), {"/visual/zoom": 0.2, "/visual/noise_scale": 0.3})
    assert quiet.zoom == pytest.approx(0.5)  # 0.2 + 0.3
    assert quiet.noise_scale == pytest.approx(0.2)  # 0.3 - 0.2 = 0.1, clamped up to 0.2
    assert run(features(level=1.0), {"/visual/zoom": 0.2}).zoom == pytest.approx(0.7)  # 1.5 clamped down


def test_missing_and_odd_values_fall_back_to_defaults() -> None:
    run = Run(ThemeMapper(load_theme("nebula"), fps=FPS))
    plain = run(values={})
    odd = run(values={"/visual/zoom": "big", "/visual/speed": float("nan"), "/visual/reset": None,
                      "/visual/prompt": 3, "/visual/theme": 7})
    assert plain.zoom == odd.zoom and plain.speed == odd.speed and not odd.reset
    garbage = np.full(5, np.nan, dtype=np.float32)  # wrong length and not finite
    assert run(garbage).features.shape == (N_FEATURES,)


# --- beats and spikes --------------------------------------------------------------------------------


def test_pulse_noise_raises_noise_scale_then_decays(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, '[[beat]]\naction = "pulse_noise"\namount = 0.4\ndecay_ms = 500\n')
    run = Run(ThemeMapper(theme, fps=FPS))
    assert run().noise_scale == pytest.approx(0.3)
    hit = run(beats=1)
    after = [run().noise_scale for _ in range(6)]
    assert hit.noise_scale == pytest.approx(0.7) and hit.beat
    assert after == pytest.approx([0.62, 0.54, 0.46, 0.38, 0.3, 0.3])  # back to base after decay_ms (5 frames)


def test_cache_reset_every_nth_beat(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, '[[beat]]\naction = "cache_reset"\nevery = 3\n')
    run = Run(ThemeMapper(theme, fps=FPS))
    resets = [run(beats=1).reset for _ in range(9)]
    assert resets == [False, False, True] * 3
    assert not run(beats=0).reset
    two = Run(ThemeMapper(theme, fps=FPS))
    assert [two(beats=2).reset for _ in range(3)] == [False, True, True]  # beats 1-2, 3-4, 5-6


def test_prompt_cycle_steps_through_variations(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, '''
[prompt]
base = "base"
style = ["oil paint"]
variations = ["one", "two"]
[[beat]]
action = "prompt_cycle"
every = 2
''')
    run = Run(ThemeMapper(theme, fps=FPS))
    prompts = [run(beats=1).prompt for _ in range(6)]
    assert prompts == ["base, oil paint", "one, oil paint", "one, oil paint", "two, oil paint",
                       "two, oil paint", "base, oil paint"]
    changed = Run(ThemeMapper(theme, fps=FPS))
    changed(beats=1)
    assert changed(beats=1, values={"/visual/prompt_transition": 0.5}).transition_frames == 5


def test_transition_trigger_shifts_the_palette_over_the_blend(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, '''
palette = ["#000000", "#ffffff"]
[prompt]
variations = ["one"]
blend_seconds = 0.4
[[beat]]
action = "transition_trigger"
''')
    run = Run(ThemeMapper(theme, fps=FPS))
    assert run().palette[0] == (0.0, 0.0, 0.0)
    first = run(beats=1)
    assert first.prompt == "one" and first.transition_frames == 4
    greys = [first.palette[0][0]] + [run().palette[0][0] for _ in range(4)]
    assert greys == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])


def test_an_energy_spike_selects_the_next_variation(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, '''
[prompt]
base = "calm"
variations = ["storm", "aftermath"]
blend_seconds = 1.5
[spike]
threshold = 0.3
cooldown_seconds = 2
''')
    run = Run(ThemeMapper(theme, fps=FPS))
    for _ in range(50):
        assert run(features(level=0.2)).prompt == "calm"
    spike = run(features(level=0.9))
    assert spike.prompt == "storm" and spike.transition_frames == 15
    assert run(features(level=0.2)).transition_frames == 15  # held while the blend runs
    for _ in range(10):  # within the cooldown another jump does nothing
        assert run(features(level=1.0)).prompt == "storm"
    for _ in range(60):
        run(features(level=0.2))
    assert run(features(level=0.9)).prompt == "aftermath"


def test_a_steady_loud_signal_is_no_spike(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, '[prompt]\nbase = "a"\nvariations = ["b"]\n[spike]\nthreshold = 0.2\n')
    run = Run(ThemeMapper(theme, fps=FPS))
    assert {run(features(level=0.9)).prompt for _ in range(100)} == {"a"}


# --- engine parameters -------------------------------------------------------------------------------


def test_reset_counter_increment_gives_exactly_one_reset_frame() -> None:
    run = Run(ThemeMapper(load_theme("nebula"), fps=FPS))
    counters = [5, 5, 5, 6, 6, 6, 8, 8]  # the first value is the baseline; 6 -> 8 is one cut
    assert [run(values={"/visual/reset": c}).reset for c in counters] == [False] * 3 + [True] + [False] * 2 + [
        True, False]


def test_user_prompt_replaces_the_base_and_keeps_the_style(tmp_path: Path) -> None:
    theme = theme_from(tmp_path, '[prompt]\nbase = "sea"\nstyle = ["ink", "grain"]\nnegative = "text"\n')
    run = Run(ThemeMapper(theme, fps=FPS))
    assert run().prompt == "sea, ink, grain"
    frame = run(values={"/visual/prompt": "a cat", "/visual/prompt_transition": 2.0})
    assert frame.prompt == "a cat, ink, grain" and frame.negative_prompt == "text"
    assert frame.transition_frames == 20


def test_chroma_prompts_weighted_by_normalised_chroma() -> None:
    theme = load_theme("aurora")
    assert theme.prompt.chroma is not None
    run = Run(ThemeMapper(theme, fps=FPS))
    row = features()
    row[CHROMA_SLICE] = 0.0
    row[INDEX["chroma_4"]] = 1.0  # E
    row[INDEX["chroma_7"]] = 0.5  # G
    for _ in range(100):
        frame = run(row)
    assert len(frame.prompts) == 12 and frame.prompts[4].startswith(theme.prompt.chroma[4])
    assert frame.prompt_weights is not None and frame.prompt_weights.sum() == pytest.approx(1.0)
    assert frame.prompt_weights[4] == pytest.approx(2 / 3, abs=1e-3)
    assert frame.prompt_weights[7] == pytest.approx(1 / 3, abs=1e-3)
    user = run(row, {"/visual/prompt": "mine"})
    assert user.prompts == () and user.prompt_weights is None  # the performer's prompt wins


def test_palette_comes_from_the_theme_and_hue_goes_to_the_generator() -> None:
    theme = load_theme("nebula")
    run = Run(ThemeMapper(theme, fps=FPS))
    for hue in (0.0, 0.25):  # the generator rotates the palette by frame.hue: the mapper must not as well
        frame = run(values={"/visual/hue": hue})
        np.testing.assert_allclose(np.array(frame.palette), np.array(theme.colours))
        assert frame.hue == pytest.approx(hue)  # nebula's centroid -> hue mapping is 0 in silence


def test_hue_wraps_round_the_wheel_unless_the_theme_clamps_it(tmp_path: Path) -> None:
    wraps = theme_from(tmp_path, "[offset]\nhue = 0.1\n", "wraps")
    clamps = theme_from(tmp_path, "[offset]\nhue = 0.1\n[range]\nhue = { max = 0.9 }\n", "clamps")
    assert Run(ThemeMapper(wraps, fps=FPS))(values={"/visual/hue": 0.95}).hue == pytest.approx(0.05)
    assert Run(ThemeMapper(clamps, fps=FPS))(values={"/visual/hue": 0.95}).hue == pytest.approx(0.9)


# --- switching ---------------------------------------------------------------------------------------


def test_switch_interpolates_over_the_right_number_of_frames(tmp_path: Path) -> None:
    a = theme_from(tmp_path, 'palette = ["#000000", "#000000"]\n[prompt]\nbase = "a"\n', "a")
    b = theme_from(tmp_path, 'palette = ["#ffffff", "#ffffff", "#ffffff"]\n[prompt]\nbase = "b"\n'
                             '[offset]\nzoom = 0.4\n', "b")
    run = Run(ThemeMapper(a, fps=FPS))
    assert run().zoom == pytest.approx(0.5)
    run.mapper.switch(b, 1.0)  # 10 frames at 10 fps
    frames = [run() for _ in range(12)]
    zooms = [f.zoom for f in frames]
    assert zooms[:10] == pytest.approx([0.5 + 0.04 * k for k in range(1, 11)])
    assert zooms[10:] == pytest.approx([0.9, 0.9])
    assert [f.palette[0][0] for f in frames[:10]] == pytest.approx([0.1 * k for k in range(1, 11)])
    assert frames[-1].palette == ((1.0, 1.0, 1.0),) * 3
    assert len(frames[0].palette) == 3
    assert frames[0].prompt == "b" and frames[0].transition_frames == 10
    assert run.mapper.theme is b


def test_switch_during_a_switch_starts_from_what_is_on_screen(tmp_path: Path) -> None:
    a = theme_from(tmp_path, "", "a")
    b = theme_from(tmp_path, "[offset]\nzoom = 0.4\n", "b")
    c = theme_from(tmp_path, "[offset]\nzoom = -0.4\n", "c")
    run = Run(ThemeMapper(a, fps=FPS))
    run.mapper.switch(b, 1.0)
    for _ in range(5):
        middle = run().zoom
    run.mapper.switch(c, 0.5)
    zooms = [run().zoom for _ in range(5)]
    assert middle == pytest.approx(0.7)
    assert zooms == pytest.approx([0.7 - 0.12 * k for k in range(1, 6)])


def test_theme_named_in_values_is_followed(tmp_path: Path) -> None:
    other = write(tmp_path, "[offset]\nzoom = 0.3\n", "other")
    run = Run(ThemeMapper(load_theme("nebula"), fps=FPS))
    run(values={"/visual/theme": "nebula"})
    values = {"/visual/theme": str(other), "/visual/theme_transition": 0.3}
    zooms = [run(values=values).zoom for _ in range(4)]
    assert run.mapper.theme.name == "other" and run.mapper.errors == []
    assert zooms[2] == zooms[3] == pytest.approx(0.8) and zooms[0] < zooms[1] < zooms[2]


def test_a_bad_theme_name_keeps_the_old_theme_and_records_the_error(tmp_path: Path) -> None:
    broken = write(tmp_path, '[[mapping]]\nfeature = "bass"\nparam = "zoom"\ncurve = "cubic"\namount = 1\n', "broken")
    run = Run(ThemeMapper(load_theme("ink"), fps=FPS))
    for _ in range(3):
        frame = run(values={"/visual/theme": "no-such-theme"})
    assert run.mapper.theme.name == "ink" and frame.prompt.startswith("black sumi ink")
    assert len(run.mapper.errors) == 1 and "unknown theme 'no-such-theme'" in run.mapper.errors[0]
    run(values={"/visual/theme": str(broken)})
    assert run.mapper.theme.name == "ink"
    assert len(run.mapper.errors) == 2 and "mapping[0].curve" in run.mapper.errors[1]
    run(values={"/visual/theme": "nebula", "/visual/theme_transition": 0.0})
    assert run.mapper.theme.name == "nebula"


def test_performer_triggers_fire_pulse_and_next_prompt() -> None:
    mapper = ThemeMapper(load_theme("nebula"), fps=30)
    quiet = features()
    values = {"/visual/pulse": 0, "/visual/next_prompt": 0, "/visual/prompt_transition": 0.0}
    first = mapper.frame(0, 0.0, quiet, np.zeros(0), values)
    steady = mapper.frame(1, 0.0, quiet, np.zeros(0), values)
    pressed = mapper.frame(2, 0.0, quiet, np.zeros(0), {**values, "/visual/pulse": 1, "/visual/next_prompt": 1})
    after = mapper.frame(3, 0.0, quiet, np.zeros(0), {**values, "/visual/pulse": 1, "/visual/next_prompt": 1})
    assert steady.prompt == first.prompt
    assert after.noise_scale > steady.noise_scale + 0.05  # the pulse lands on the next frame and decays
    assert pressed.prompt != steady.prompt  # the next variation, at once


def test_the_store_refuses_theme_names_that_do_not_load_and_paths() -> None:
    store = ParamStore(build_param_table(4), validators={"/visual/theme": check_theme_name})
    store.set("/visual/theme", "strobe")
    with pytest.raises(ParamError, match="unknown theme 'cubist'"):
        store.set("/visual/theme", "cubist")
    with pytest.raises(ParamError, match="is a path"):
        store.set("/visual/theme", "/etc/passwd")
    assert store.get("/visual/theme") == "strobe"
