"""`slcc du`: disk use per flavor and step: local images, local build cache, exports; and runs."""

from __future__ import annotations

from slcc.commands import inventory
from slcc.engine.protocol import Engine
from slcc.loading.project import Project
from slcc.planning.retention import Item
from slcc.planning.usage import DiskUsage, summarise
from slcc.state.disk import tree_size


def disk_usage(project: Project, engine: Engine, flavors: list[str] | None) -> DiskUsage:
    hashes = project.hash_all()
    items: list[Item] = inventory.local_image_items(project, engine, hashes, flavors)
    items += inventory.state_items(project, hashes, flavors)
    trash = project.settings.state_dir / inventory.TRASH
    return summarise(items, tree_size(trash) if trash.exists() else 0)
