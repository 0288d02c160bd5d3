"""Real-time audio analysis: features for the visuals, for OSC subscribers and as modulation sources."""
