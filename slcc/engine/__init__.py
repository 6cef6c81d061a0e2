"""The engine adapter: the only package that talks to dockerd, buildx, registries and other processes."""
