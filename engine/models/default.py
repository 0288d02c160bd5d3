"""Where the shipped default model lives."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL = MODELS_DIR / "default.ts"
