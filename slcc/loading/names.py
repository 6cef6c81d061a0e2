"""Every name slcc emits for a set of flavors is unique, or the input is rejected.

Bake files hold a ``default`` group, one group per flavor and one target per step, and all
share one namespace in which unsafe characters become ``_``: a flavor named ``default``,
or flavors ``x.y`` and ``x_y``, would silently merge or drop groups.
"""

from __future__ import annotations

from collections.abc import Sequence

from slcc.emitting.hcl import target_name
from slcc.errors import InputError
from slcc.model import Flavor


def check_names(flavors: Sequence[Flavor]) -> None:
    """InputError naming the flavor.toml whose flavor, group or target name is taken."""
    owners: dict[str, str] = {"default": "the bake group 'default'"}
    images: dict[str, Flavor] = {}
    for flavor in flavors:
        other = images.get(flavor.image_name)
        if other is not None:
            raise InputError(f"flavor {flavor.name!r} has the image name {flavor.image_name!r} of {other.toml_path}",
                             flavor.toml_path)
        images[flavor.image_name] = flavor
        for step, name in ((None, target_name(flavor.name)),
                           *((s, target_name(flavor.name, s)) for s in flavor.steps)):
            what = f"bake group {name!r} of flavor {flavor.name!r}" if step is None else \
                f"bake target {name!r} of step {flavor.name}/{step}"
            if name in owners:
                raise InputError(f"{what} collides with {owners[name]}", flavor.toml_path)
            owners[name] = what
