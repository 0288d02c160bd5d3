"""The master meters where a performer reads them: the status line, --report and OSC `/engine/meters`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from osc_fixtures import Listener, make_hub

from engine.control.osc_codec import encode_message
from engine.control.osc_server import OscServer
from engine.dsp.loudness import integrated_loudness
from engine.master.stage import MasterStage

RATE = 48000


def _played_stage(level: float = 0.5, seconds: float = 4.0, agc: bool = True) -> tuple[MasterStage, np.ndarray]:
    stage = MasterStage(RATE, 2)
    noise = (np.random.default_rng(0).standard_normal((int(seconds * RATE), 2)) * level).astype(np.float32)
    out = [stage.process(noise[i: i + 2048], loudness_lufs=-16.0, agc=agc, ceiling_db=-1.0, trim_db=0.0)
           for i in range(0, noise.shape[0], 2048)]
    return stage, np.concatenate(out)


def test_meters_read_what_came_out() -> None:
    stage, out = _played_stage()
    meters = stage.meters
    assert meters.integrated_lufs == pytest.approx(integrated_loudness(out, RATE), abs=0.1)
    assert meters.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    assert meters.peak_db <= meters.true_peak_db <= -1.0
    assert meters.gain_reduction_db == 0.0  # noise at -16 LUFS peaks near -9 dBTP: nothing to limit
    assert meters.levelling_gain_db == pytest.approx(-16.0, abs=1.0)  # noise at 0.5 RMS reads about 0 LUFS
    assert len(meters.osc_args()) == 5
    loud, out = _played_stage(agc=False)
    assert loud.meters.levelling_gain_db == 0.0
    assert -1.5 < loud.meters.true_peak_db <= -1.0
    assert loud.meters.gain_reduction_db > 6.0  # its peaks near +6 dBFS come down to the ceiling
    assert loud.meters.max_true_peak_db == pytest.approx(20 * np.log10(np.abs(out).max()), abs=1.0)


def test_osc_subscribers_get_engine_meters(tmp_path: Path) -> None:
    stage, _ = _played_stage()
    listener = Listener()
    try:
        with OscServer(make_hub(tmp_path), port=0, meters=stage.meters.osc_args) as server:
            listener.send(server.port, encode_message("/meters/subscribe"))
            listener.wait_for(lambda r: ("/done", ["/meters/subscribe"]) in r)
            listener.wait_for(lambda r: len([a for a, _ in r if a == "/engine/meters"]) >= 3)
            args = listener.messages("/engine/meters")[-1]
            assert args == pytest.approx(stage.meters.osc_args(), abs=0.01)
            listener.send(server.port, encode_message("/meters/unsubscribe"))
            listener.wait_for(lambda r: ("/done", ["/meters/unsubscribe"]) in r)
            assert len(server.meter_subscribers) == 0
    finally:
        listener.close()


def test_status_line_and_report_show_the_meters() -> None:
    from engine.session.model_policy import ModelTiming
    from engine.session.status import SessionStatus, StatusLine  # the CLI's side: only tests may reach it

    stage, _ = _played_stage()
    fields = {name: None for name in SessionStatus.__dataclass_fields__}
    status = SessionStatus(**{**fields, "seconds": 1.0, "cpu_load": 0.1, "cpu_load_mean": 0.1, "underruns": 0,
                              "samplerate": RATE,
                              "latency": {"total_s": 0.05}, "model": "m", "scene": "s",
                              "model_timing": ModelTiming(1.0, 2.0, 0.02), "device": {"state": "playing"},
                              "osc": {}, "errors": [], "meters": asdict(stage.meters)})
    line = StatusLine.render(status).plain
    assert f"ST {stage.meters.short_term_lufs:.1f}" in line and "LUFS" in line and "GR" in line
    assert status.report()["meters"]["integrated_lufs"] == pytest.approx(stage.meters.integrated_lufs, abs=0.01)
