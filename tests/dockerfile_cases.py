"""Tricky Dockerfiles and the external names BuildKit resolves for them (issue 9).

Shared by the pure parser test (tests/unit/test_dockerfile.py) and the engine test
(tests/integration/test_dockerfile_buildkit.py), which proves each expected set on the
real BuildKit: the build succeeds with exactly these names as named contexts and fails
when any one of them is missing. Every Dockerfile only needs busybox (sh, cat, true).
"""

from __future__ import annotations

from dataclasses import dataclass, field

COPY_DEP = "COPY --from=dep /bin/sh /dep-sh\n"


@dataclass(frozen=True)
class DockerfileCase:
    text: str
    names: frozenset[str]  # external names BuildKit resolves (FROM, COPY --from, mount from=)
    args: dict[str, str] = field(default_factory=dict)  # build args, as a flavor's [args] give them


CASES: dict[str, DockerfileCase] = {
    "from-default-modifier-unset": DockerfileCase("ARG V\nFROM ${V:-base}\n", frozenset({"base"})),
    "from-default-modifier-set": DockerfileCase("ARG V\nFROM ${V:-base}\n", frozenset({"dep"}), {"V": "dep"}),
    "from-arg-default": DockerfileCase("ARG V=base\nFROM ${V}\n" + COPY_DEP, frozenset({"base", "dep"})),
    "from-alternative-modifier": DockerfileCase("ARG V=1\nFROM ${V:+base}\n", frozenset({"base"})),
    "from-empty-is-unset-for-colon": DockerfileCase("ARG V=\nFROM ${V:-base}\n", frozenset({"base"})),
    "from-suffix-trim": DockerfileCase("ARG V=dep:latest\nFROM ${V%:*}\n", frozenset({"dep"})),
    "from-prefix-trim": DockerfileCase("ARG V=library/base\nFROM ${V##*/}\n", frozenset({"base"})),
    "from-replace": DockerfileCase("ARG V=bass\nFROM ${V/ss/se}\n", frozenset({"base"})),
    "from-quoted-variable": DockerfileCase('ARG V=base\nFROM "$V"\n', frozenset({"base"})),
    "stage-arg-is-not-global": DockerfileCase(
        "FROM base AS one\nARG W=dep\nFROM ${W:-one}\n", frozenset({"base"})),
    "arithmetic-shift-is-not-heredoc": DockerfileCase(
        "FROM base\nRUN echo $((1<<N)) >/n\n" + COPY_DEP, frozenset({"base", "dep"})),
    "quoted-heredoc-marker": DockerfileCase('FROM base\nRUN echo "<<EOF" >/n\n' + COPY_DEP, frozenset({"base", "dep"})),
    "empty-line-in-continuation": DockerfileCase(
        "FROM base\nCOPY \\\n\n  --from=dep /bin/sh /dep-sh\n", frozenset({"base", "dep"})),
    "comment-in-continuation": DockerfileCase(
        "FROM base\nCOPY \\\n# a comment\n  --from=dep /bin/sh /dep-sh\n", frozenset({"base", "dep"})),
    "unknown-directive-ends-directives": DockerfileCase(
        "# foo=bar\n# escape=`\nFROM base\nRUN true \\\nCOPY --from=dep /bin/sh /dep-sh\n", frozenset({"base"})),
    "escape-directive": DockerfileCase(
        "# escape=`\nFROM base\nRUN true `\nCOPY --from=dep /bin/sh /dep-sh\n", frozenset({"base"})),
    "tab-after-instruction": DockerfileCase("FROM\tbase\nCOPY\t--from=dep /bin/sh /dep-sh\n", frozenset({"base", "dep"})),
    "byte-order-mark": DockerfileCase("\ufeffFROM base\n" + COPY_DEP, frozenset({"base", "dep"})),
    "escaped-escape-is-not-continuation": DockerfileCase(
        "FROM base\nRUN echo a \\\\\n" + COPY_DEP, frozenset({"base", "dep"})),
    "indented-heredoc-terminator-is-data": DockerfileCase(
        "FROM base\nCOPY <<EOF /x\n  EOF\nFROM ghost\nEOF\n" + COPY_DEP, frozenset({"base", "dep"})),
    "chomped-heredoc-tab-terminator": DockerfileCase(
        "FROM base\nCOPY <<-EOF /x\n\tdata\n\tEOF\n" + COPY_DEP, frozenset({"base", "dep"})),
    "quoted-heredoc-name": DockerfileCase(
        'FROM base\nCOPY <<"END" /x\nFROM ghost\nEND\n' + COPY_DEP, frozenset({"base", "dep"})),
    "two-heredocs-on-one-line": DockerfileCase(
        "FROM base\nCOPY <<one <<two /d/\nFROM ghost\none\nFROM ghost2\ntwo\n" + COPY_DEP, frozenset({"base", "dep"})),
    "run-mount-from": DockerfileCase(
        "FROM base\nRUN --mount=type=bind,from=dep,target=/d test -e /d/bin/sh\n", frozenset({"base", "dep"})),
    "stage-names-are-case-insensitive": DockerfileCase(
        "FROM base AS Build\nFROM build\nCOPY --from=BUILD /bin/sh /x\n", frozenset({"base"})),
}
