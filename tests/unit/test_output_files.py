"""Files slcc writes for the user: symlinks written through, special files in place, the umask honoured."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.helpers import make_repo, run_slcc


def test_output_onto_a_symlink_writes_through(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    target = tmp_path / "kept" / "real.hcl"
    target.parent.mkdir()
    target.write_text("old\n")
    (repo / "link.hcl").symlink_to(target)
    result = run_slcc(repo, "emit-bake", "demo", "-o", "link.hcl")
    assert result.returncode == 0, result.stderr
    assert (repo / "link.hcl").is_symlink()
    assert 'target "demo_app"' in target.read_text()


def test_output_to_dev_stdout_writes_to_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    proc = subprocess.run([sys.executable, "-m", "slcc", "emit-bake", "demo", "-o", "/dev/stdout"], cwd=repo,
                          capture_output=True, text=True, env={**os.environ, "SLCC_CA_BUNDLE": "none"}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert 'target "demo_app"' in proc.stdout
    assert Path("/dev/stdout").is_symlink()


def test_bake_file_honours_the_umask(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    proc = subprocess.run(["sh", "-c", f"umask 027 && exec {sys.executable} -m slcc emit-bake demo"], cwd=repo,
                          capture_output=True, text=True, env={**os.environ, "SLCC_CA_BUNDLE": "none"}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((repo / "bake" / "demo.hcl").stat().st_mode) == 0o640
    proc = subprocess.run([sys.executable, "-m", "slcc", "emit-bake", "demo"], cwd=repo, capture_output=True,
                          text=True, env={**os.environ, "SLCC_CA_BUNDLE": "none"}, check=False)
    assert stat.S_IMODE((repo / "bake" / "demo.hcl").stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_relative_ca_bundle_stays_relative_in_the_bake_file(tmp_path: Path) -> None:
    texts = []
    for checkout in ("one", "two"):
        repo = make_repo(tmp_path / checkout)
        (repo / "certs").mkdir()
        (repo / "certs" / "ca.pem").write_text("x\n")
        result = run_slcc(repo, "emit-bake", "demo", "-o", "-", env={"SLCC_CA_BUNDLE": "certs/ca.pem"})
        assert result.returncode == 0, result.stderr
        texts.append(result.stdout)
    assert texts[0] == texts[1]
    assert "src=certs/ca.pem" in texts[0]
