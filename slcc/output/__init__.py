"""Output: text renderings of graphs and results for the terminal."""
