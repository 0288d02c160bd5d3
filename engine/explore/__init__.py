"""The latent-space explorer: map a collection into an atlas, resynthesise from its codebook, navigate it."""
