"""TOML presets: scenes (and later controller maps and themes)."""
