"""slcc: compile script-language-container flavors into docker buildx bake files."""

__version__ = "0.1.0"
