"""The master stage after the model: DC blocker, loudness levelling, trim and a true-peak limiter."""
