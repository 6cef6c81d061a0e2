"""The client embeds the image's own Python 3 and provides the slc module."""
import sys

import slc


def run(ctx):
    pass


def finish(ctx):
    with open("/opt/slc/build_info/client_version") as f:
        built = f.read().split()  # slcclient VERSION (source REVISION)
    ctx.emit("python", sys.version_info[0], sys.prefix)
    ctx.emit("slc", slc.__version__ == built[1], slc.source_revision == built[3].rstrip(")"))
