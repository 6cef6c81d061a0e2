"""slcc's Dockerfile reference parser against the real BuildKit (issue 9).

For every case in tests/dockerfile_cases.py: slcc's parser must find exactly the expected
names, and BuildKit must agree: the build succeeds when exactly those names are given as
named contexts, and fails when any one of them is left out (BuildKit then tries to pull
it from docker.io, which the test engine cannot reach). A name slcc missed would fail the
first build; a name slcc invented would let the second one succeed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from slcc.loading.dockerfile import parse
from tests.dockerfile_cases import CASES


def buildkit_builds(dockerfile: Path, names: Iterable[str], args: Mapping[str, str], image: str) -> bool:
    command = ["docker", "buildx", "build", "--progress=plain", "--output", "type=cacheonly",
               "-f", str(dockerfile)]
    for name in sorted(names):
        command += ["--build-context", f"{name}=docker-image://{image}"]
    for key, value in sorted(args.items()):
        command += ["--build-arg", f"{key}={value}"]
    proc = subprocess.run([*command, str(dockerfile.parent / "ctx")], capture_output=True, text=True,
                          timeout=300, check=False)
    return proc.returncode == 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_buildkit_resolves_what_slcc_finds(tmp_path: Path, base_image: str, case: str) -> None:
    spec = CASES[case]
    (tmp_path / "ctx").mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(spec.text, encoding="utf-8")
    found = {r.name for r in parse(dockerfile, spec.args).references}
    assert found == spec.names
    assert buildkit_builds(dockerfile, found, spec.args, base_image), "BuildKit needs a name slcc missed"
    for name in sorted(found):
        assert not buildkit_builds(dockerfile, found - {name}, spec.args, base_image), \
            f"BuildKit does not need {name!r}, which slcc reports"
