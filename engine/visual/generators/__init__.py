"""Frame generators behind one interface: `cppn` (weight-free, any CPU) and `diffusion` (local weights)."""
