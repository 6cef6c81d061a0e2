"""Commands: the pipelines behind each CLI command, built from the layers below."""
