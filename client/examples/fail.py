"""An error in the script: exit status 1 with the row number and a traceback."""


def ratio(a, b):
    return int(a) / int(b)


def run(ctx):
    print("debug output goes to stderr:", ctx[0], ctx[1])
    ctx.emit(ratio(ctx[0], ctx[1]))
