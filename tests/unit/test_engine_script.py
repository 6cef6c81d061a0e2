"""slcc/resources/engine.sh, sourced (nothing runs) and its helpers called on temp paths."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "slcc" / "resources" / "engine.sh"


def bash(snippet: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Source the script, point its system paths into ``tmp_path``, run ``snippet``."""
    prelude = (f"source {SCRIPT}\nTRIXIE_SOURCES={tmp_path}/trixie.sources\nTRIXIE_PREFS={tmp_path}/trixie.prefs\n"
               f"POLICY_RC={tmp_path}/policy-rc.d\nOS_RELEASE={tmp_path}/os-release\nLOG_DIR={tmp_path}\n")
    return subprocess.run(["bash", "-c", prelude + snippet], capture_output=True, text=True, timeout=30, check=False)


def test_sourcing_runs_nothing(tmp_path: Path) -> None:
    proc = bash("declare -F cmd_up main install_packages >/dev/null && echo defined", tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "defined\n", "")


@pytest.mark.parametrize(("codename", "own"), [("bookworm", False), ("trixie", True), ("sid", True), ("", False)])
def test_trixie_hosts_install_from_their_own_suites(tmp_path: Path, codename: str, own: bool) -> None:
    (tmp_path / "os-release").write_text(f'ID=debian\nVERSION_CODENAME={codename}\n', encoding="utf-8")
    proc = bash("host_has_packages && echo own || echo trixie-source", tmp_path)
    assert proc.stdout == ("own\n" if own else "trixie-source\n")


def test_apt_source_is_written_whole(tmp_path: Path) -> None:
    proc = bash("add_trixie_source", tmp_path)
    assert proc.returncode == 0, proc.stderr
    sources = (tmp_path / "trixie.sources").read_text(encoding="utf-8")
    assert "Suites: trixie\n" in sources and sources.startswith("Types: deb\n")
    assert "Pin-Priority: 100" in (tmp_path / "trixie.prefs").read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trixie.prefs", "trixie.sources"]  # no temp files left
    assert oct((tmp_path / "trixie.sources").stat().st_mode & 0o777) == "0o644"


def test_policy_rc_is_in_place_during_the_command_and_gone_after_success_or_failure(tmp_path: Path) -> None:
    seen = bash(f'without_service_start sh -c \'"$0" ; echo "rc=$?"\' {tmp_path}/policy-rc.d', tmp_path)
    assert seen.stdout == "rc=101\n" and not (tmp_path / "policy-rc.d").exists()
    failed = bash("set -e; without_service_start false; echo not reached", tmp_path)
    assert failed.returncode != 0 and "not reached" not in failed.stdout
    assert not (tmp_path / "policy-rc.d").exists()
    died = bash("without_service_start die 'apt broke'", tmp_path)
    assert died.returncode == 1 and "apt broke" in died.stderr and not (tmp_path / "policy-rc.d").exists()


def test_an_existing_policy_rc_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "policy-rc.d").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    assert bash("without_service_start true", tmp_path).returncode == 0
    assert (tmp_path / "policy-rc.d").read_text(encoding="utf-8") == "#!/bin/sh\nexit 0\n"


def test_unknown_action_is_one_error_line() -> None:
    proc = subprocess.run(["bash", str(SCRIPT), "bogus"], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines() == [
        "engine: ERROR: unknown action 'bogus' (use up, status or down)"]
