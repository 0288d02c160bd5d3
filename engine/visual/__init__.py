"""The visual path: a separate process turns audio features and latents into frames."""
