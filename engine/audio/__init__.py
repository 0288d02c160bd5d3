"""The live audio path: device output, the lock-free ring, the decoder thread that fills it."""
