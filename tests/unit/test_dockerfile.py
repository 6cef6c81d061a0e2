import pytest

from slcc.loading.dockerfile import DockerfileSyntaxError, parse_text
from tests.dockerfile_cases import CASES


def names(text: str, args: dict[str, str] | None = None) -> list[tuple[str, str]]:
    return [(r.instruction, r.name) for r in parse_text(text, args or {}).references]


def test_from_copy_and_mount_references() -> None:
    text = (
        "FROM base AS build\n"
        "COPY --from=client . /src\n"
        "RUN --mount=type=bind,from=wheels,source=/w,target=/w \\\n"
        "    --mount=type=cache,target=/root/.cache pip install /w/*\n"
        "FROM build\n"
        "COPY --from=build /x /y\n"
        "COPY --from=0 /x /y\n"
    )
    assert names(text) == [("FROM", "base"), ("COPY", "client"), ("RUN", "wheels")]


def test_args_expand_from_flavor_values_and_defaults() -> None:
    text = "ARG BASE=debian:bookworm-slim\nARG OTHER\nFROM ${BASE}\nFROM $OTHER\n"
    with pytest.raises(DockerfileSyntaxError, match=r"line 4: base name \(\$OTHER\) should not be blank"):
        parse_text(text, {})
    info = parse_text(text, {"OTHER": "x"})
    assert info.declared_args == {"BASE", "OTHER"}
    assert [r.name for r in info.references] == ["debian:bookworm-slim", "x"]
    assert names(text, {"BASE": "deps", "OTHER": "x"}) == [("FROM", "deps"), ("FROM", "x")]


def test_comments_heredocs_and_scratch_are_not_references() -> None:
    text = (
        "# FROM commented\n"
        "FROM scratch\n"
        "RUN <<EOF\n"
        "FROM not-an-instruction\n"
        "EOF\n"
        "COPY --from=real / /\n"
    )
    assert names(text) == [("COPY", "real")]


def test_escape_directive_changes_continuation() -> None:
    text = "# escape=`\nFROM base\nRUN --mount=from=dep,target=/d `\n    true\n"
    assert names(text) == [("FROM", "base"), ("RUN", "dep")]


def test_reference_lines_are_reported() -> None:
    refs = parse_text("FROM a\n\nRUN x \\\n  y\nCOPY --from=b . .\n", {}).references
    assert [(r.name, r.line) for r in refs] == [("a", 1), ("b", 5)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_references_match_buildkit(case: str) -> None:
    """The names BuildKit resolves (checked on the engine by tests/integration/test_dockerfile_buildkit.py)."""
    spec = CASES[case]
    assert {r.name for r in parse_text(spec.text, spec.args).references} == spec.names


@pytest.mark.parametrize(("text", "error"), [
    ("FROM base\nRUN <<EOF\ntrue\n", "line 2: unterminated heredoc 'EOF'"),
    ("ARG V\nFROM $V\n", r"line 2: base name \(\$V\) should not be blank"),
    ("ARG V\nFROM ${V:?no-base}\n", "line 2: V: no-base"),
    ("FROM ${V\n", "line 1: .*missing"),
    ("# escape=x\nFROM base\n", "line 1: invalid escape token"),
])
def test_syntax_errors_buildkit_rejects(text: str, error: str) -> None:
    with pytest.raises(DockerfileSyntaxError, match=error):
        parse_text(text, {})
