"""TOML presets: scenes and controller maps (themes belong to the visual path: engine/visual/themes.py)."""
