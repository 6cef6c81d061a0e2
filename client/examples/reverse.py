"""One column in, one out: a plain return value is emitted as a one-column row."""


def run(ctx):
    return ctx[0][::-1]
