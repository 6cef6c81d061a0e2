"""The flavor's packages are importable and work: parse a YAML document per row."""
import yaml
from dateutil import parser, relativedelta


def run(ctx):
    doc = yaml.safe_load(ctx.doc)
    start = parser.isoparse(doc["start"])
    end = start + relativedelta.relativedelta(months=doc["months"])
    ctx.emit(doc["name"], end.date().isoformat(), yaml.__with_libyaml__)
