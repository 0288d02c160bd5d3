"""`python run_engine.py models inspect PATH [--json]` as a user runs it (subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from model_factories import make_new_style_model, make_no_params_model, make_rave_v2_model

from engine.models.inspect import summarize_value

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO.parent / "shared/fixtures/nn_tilde_demo"


def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    # The narrowest terminal: what the command prints must not depend on its width.
    env = {**os.environ, "COLUMNS": "20"}
    return subprocess.run(
        [sys.executable, "run_engine.py", "models", "inspect", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_table_output_for_demo_model():
    path = DEMO_DIR / "src_models_effects.ts"
    if not path.is_file():
        pytest.skip(f"demo model {path} not present")
    result = inspect(str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in ("fractalize", "512", "rms", "1024", "gain_factor", "tanh", "sample rate: unknown", "streaming:   no"):
        assert text in out


def test_long_attribute_is_summarized():
    path = DEMO_DIR / "src_models_wavetable.ts"
    if not path.is_file():
        pytest.skip(f"demo model {path} not present")
    result = inspect(str(path))
    assert result.returncode == 0, result.stderr
    assert "256 values" in result.stdout
    assert len(result.stdout) < 3000


def test_json_output_is_one_object(tmp_path: Path):
    result = inspect(str(make_rave_v2_model(tmp_path)), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["methods"]["decode"] == {"in_channels": 16, "in_ratio": 2048, "out_channels": 1, "out_ratio": 1}
    assert info["sample_rate"] == 44100 and info["latent_size"] == 4
    assert info["format"] == "rave_v2" and info["streaming"] is True


def test_table_output_for_built_model(tmp_path: Path):
    path = make_new_style_model(tmp_path, sr=48000)
    result = inspect(str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"{path}  (nn_tilde)"  # the path whole, on one line
    assert "48000 Hz" in result.stdout and "latent size: 8" in result.stdout
    assert "streaming:   yes" in result.stdout and "always fails" in result.stdout


@pytest.mark.parametrize("kind", ["missing", "text", "random", "truncated", "no_params"])
def test_bad_file_is_one_error_line(tmp_path: Path, kind: str):
    if kind == "missing":
        path = tmp_path / "nothing_here.ts"
    elif kind == "text":
        path = tmp_path / "readme.ts"
        path.write_text("hello\n")
    elif kind == "random":
        path = tmp_path / "noise.ts"
        path.write_bytes(np.random.default_rng(3).bytes(2048))
    elif kind == "truncated":
        real = make_new_style_model(tmp_path)
        path = tmp_path / "truncated.ts"
        path.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    else:
        path = make_no_params_model(tmp_path)
    result = inspect(str(path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert path.name in lines[0]
    assert result.stdout == ""


def test_summarize_value():
    assert summarize_value([0.5] * 256).endswith("(256 values, min 0.5, max 0.5)")
    assert summarize_value("x" * 200).endswith("…") and len(summarize_value("x" * 200)) <= 60
    assert summarize_value([1.0, 0.0]) == "[1.0, 0.0]"
