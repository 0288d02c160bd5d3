"""Real-time audio-visual performance engine around nn~-compatible neural audio models."""

__version__ = "0.1.0"
