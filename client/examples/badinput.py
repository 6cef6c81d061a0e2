"""Malformed input: a field count that does not match --columns."""


def run(ctx):
    ctx.emit(ctx.x)
