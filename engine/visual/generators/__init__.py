"""Frame generators behind one interface: `cppn` (weight-free, any CPU), `diffusion` (local diffusers
weights) and `texture` (a CPPN latent field decoded by a TAESD-family tiny decoder)."""
