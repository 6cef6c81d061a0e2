"""Upper-case every column; NULL stays NULL, escapes survive the round trip."""


def run(ctx):
    return tuple(None if v is None else v.upper() for v in (ctx[i] for i in range(len(ctx))))
