"""Named columns: emit a, b and a + b; NULL in, NULL out."""
from decimal import Decimal


def run(ctx):
    if ctx.a is None or ctx["b"] is None:
        ctx.emit(ctx.a, ctx.b, None)
    else:
        ctx.emit(ctx.a, ctx.b, Decimal(ctx.a) + Decimal(ctx.b))
