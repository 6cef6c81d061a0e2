"""Count words over all input rows; emit (word, count) sorted by count, then word."""
from collections import Counter

counts = Counter()


def run(ctx):
    for column in range(ctx.size()):
        if ctx[column] is not None:
            counts.update(ctx[column].lower().split())


def finish(ctx):
    for word, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        ctx.emit(word, n)
