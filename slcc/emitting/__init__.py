"""Emitting: the docker buildx bake file (HCL) for a plan."""
