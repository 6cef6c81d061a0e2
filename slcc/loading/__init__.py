"""Loading: settings, flavor.toml, Dockerfiles and .dockerignore files into the pure flavor graph."""
