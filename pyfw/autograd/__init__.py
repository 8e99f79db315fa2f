"""Tensor and reverse-mode autograd (pyfw.tensor would shadow the factory, hence the package)."""
