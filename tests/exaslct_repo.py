"""Synthetic exaslct-format checkouts for the importer tests: one feature per file kind.

``make_exaslct_repo`` writes a small checkout shaped like script-languages-release: a
flavor with upper case in its name, {{dep}} placeholders (with and without spaces), COPY
paths of exaslct's assembled context (own-step prefix, directory and file mappings), a
client mapping holding a symlink to elsewhere in the checkout, packages.yml entries, a
language definition, a step directory at the flavor root, and a second flavor whose
directory is a symlink into a submodule-like tree.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers import BASE_IMAGE, write_files

FLAVOR = "Demo-EXASOL-all"
LINKED = "template-Linked"

BUILD_STEPS = '''\
from typing import Dict

from exasol.slc.internal.tasks.build.docker_flavor_image_task import DockerFlavorAnalyzeImageTask


class AnalyzeBase(DockerFlavorAnalyzeImageTask):
    """The base step."""

    def get_build_step(self) -> str:
        return "base"

    def get_additional_build_directories_mapping(self) -> Dict[str, str]:
        return {"01_nodoc": "ext/01_nodoc", "scripts": "ext/scripts"}

    def get_path_in_flavor(self):
        return "flavor_base"


class AnalyzeApp(DockerFlavorAnalyzeImageTask):

    def get_build_step(self) -> str:
        return "app"

    def requires_tasks(self):
        return {"base": AnalyzeBase}

    def get_additional_build_directories_mapping(self) -> Dict[str, str]:
        return {"client": "client"}

    def get_path_in_flavor(self):
        return "flavor_base"


class AnalyzeFlavorCustomization(DockerFlavorAnalyzeImageTask):

    def get_build_step(self) -> str:
        return "flavor_customization"

    def requires_tasks(self):
        return {"base": AnalyzeBase}


class AnalyzeRelease(DockerFlavorAnalyzeImageTask):

    def get_build_step(self) -> str:
        return "release"

    def requires_tasks(self):
        return {"app": AnalyzeApp, "flavor_customization": AnalyzeFlavorCustomization}

    def get_path_in_flavor(self):
        return "flavor_base"

    def get_language_definition(self) -> str:
        return "language_definitions.json"
'''

LANGUAGE_DEFINITIONS = '''\
{
  "schema_version": 2,
  "language_definitions": [
    {
      "protocol": "localzmq+protobuf",
      "aliases": ["PYTHON3"],
      "parameters": [{"key": "lang", "value": "python"}],
      "udf_client_path": {"executable": "/exaudf/exaudfclient"},
      "deprecation": null
    }
  ]
}
'''

# exaslct's form (script-languages-release flavors), rendered by generate-language-activation.
LANGUAGE_TEMPLATE = (
    "PYTHON3=localzmq+protobuf:///{{ bucketfs_name }}/{{ bucket_name }}/{{ path_in_bucket }}{{ release_name }}"
    "?lang=python#buckets/{{ bucketfs_name }}/{{ bucket_name }}/{{ path_in_bucket }}{{ release_name }}"
    "/exaudf/exaudfclient\n"
)

PACKAGES = '''\
build_steps:
- name: base
  phases:
  - name: install
    apt:
      packages:
      - name: coreutils
        version: "9.1"
- name: flavor_customization
  phases:
  - name: install
    pip:
      packages:
      - name: numpy
        version: "1.0"
version: 1.0.0
'''


def flavor_files(prefix: str) -> dict[str, str]:
    return {
        f"{prefix}/flavor_base/build_steps.py": BUILD_STEPS,
        f"{prefix}/flavor_base/base/Dockerfile": (
            f"FROM {BASE_IMAGE}\n"
            "COPY 01_nodoc /etc/dpkg/01_nodoc\n"
            "COPY scripts /scripts\n"
            "COPY base/hello.txt /hello.txt\n"
            "COPY base_packages.yml /build_info/packages/base_packages.yml\n"
        ),
        f"{prefix}/flavor_base/base/hello.txt": "hello\n",
        f"{prefix}/flavor_base/app/Dockerfile": (
            "FROM {{base}}\n"
            "COPY /client /client\n"
            "COPY /client/lib/util.txt /util.txt\n"
            "RUN true # workaround for https://github.com/moby/moby/issues/37965\n"
        ),
        f"{prefix}/flavor_customization/Dockerfile": (
            "FROM {{ base }}\n"
            "COPY flavor_customization_packages.yml /build_info/packages/flavor_customization_packages.yml\n"
            "# In case of exaslct it is important to prefix source files or directories with `flavor_customization`\n"
            "# if you want to copy files or directories located in the same directory as this Dockerfile\n"
            "COPY flavor_customization/extra.txt /extra.txt\n"
        ),
        f"{prefix}/flavor_customization/extra.txt": "extra\n",
        f"{prefix}/flavor_base/release/Dockerfile": (
            f"FROM {BASE_IMAGE}\n"
            "COPY --from={{app}} /client /client\n"
            "COPY --from={{flavor_customization}} /build_info /build_info\n"
            "COPY language_definitions.json /build_info/language_definitions.json\n"
        ),
        f"{prefix}/flavor_base/language_definitions.json": LANGUAGE_DEFINITIONS,
        f"{prefix}/flavor_base/language_definition": LANGUAGE_TEMPLATE,
        f"{prefix}/packages.yml": PACKAGES,
        f"{prefix}/FLAVOR_DESCRIPTION.md": "# A demo flavor\n",
    }


def make_exaslct_repo(root: Path) -> Path:
    write_files(root, {
        **flavor_files(f"flavors/{FLAVOR}"),
        **flavor_files(f"sub/flavors/{LINKED}"),
        "ext/01_nodoc": "path-exclude /usr/share/doc/*\n",
        "ext/scripts/install.sh": "#!/bin/sh\necho install\n",
        "client/main.txt": "client main\n",
        "shared/lib/util.txt": "util v1\n",
    })
    os.chmod(root / "ext/scripts/install.sh", 0o755)
    (root / "client/lib").symlink_to("../shared/lib")  # exaslct copies what the link points to
    (root / "flavors" / LINKED).symlink_to(f"../sub/flavors/{LINKED}")
    return root
