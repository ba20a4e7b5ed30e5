"""Training scripts (VQ-VAE, Inter-M transformer) and their shared helpers."""
