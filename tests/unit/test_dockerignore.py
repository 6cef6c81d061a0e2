"""`.dockerignore` semantics: cases from Docker's documentation and moby/patternmatcher's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from slcc.errors import InputError
from slcc.loading.dockerignore import IgnoreMatcher

# (pattern, path, ignored): moby/patternmatcher TestMatches, parent matching included
# ("inexact" cases there are matches through a parent directory).
SINGLE_PATTERN = [
    ("**", "file", True),
    ("**/", "file", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**/**", "dir/file", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\\\", "a\\", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    # Go filepath.Match cases (moby's matchTests)
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", True),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("[a-ζ]*", "\u03b1", True),  # alpha
    ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "-", True),
    ("*x", "xxx", True),
    # parent directory match and cleaning
    ("foo", "foo/bar", True),
    ("foo", "foobar", False),
    ("foo/", "foo/bar/baz", True),
    ("/foo/bar", "foo/bar", True),
    ("./foo", "foo/x", True),
    ("foo/../bar", "bar", True),
    ("foo", "dir/foo", False),
]


@pytest.mark.parametrize(("pattern", "path", "ignored"), SINGLE_PATTERN, ids=repr)
def test_single_pattern(pattern: str, path: str, ignored: bool) -> None:
    assert IgnoreMatcher.from_lines([pattern]).is_ignored(path) is ignored


MULTI_PATTERN = [
    pytest.param(["**", "!util/docker/web"], "util/docker/web/foo", False, id="moby-reinclude-dir"),
    pytest.param(
        ["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True, id="moby-reexclude"
    ),
    pytest.param(["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3-py3-none-any.whl", False, id="moby-whl"),
    pytest.param(["!fileutils.go", "*.go"], "fileutils.go", True, id="exception-before-pattern"),
    pytest.param(["*.go", "!fileutils.go"], "fileutils.go", False, id="exception-after-pattern"),
    pytest.param(["docs", "!docs/README.md"], "docs/README.md", False, id="folder-exception"),
    pytest.param(["docs/", "!docs/README.md"], "docs/README.md", False, id="folder-slash-exception"),
    pytest.param(["docs/*", "!docs/README.md"], "docs/README.md", False, id="folder-wildcard-exception"),
    pytest.param(["docs", "!docs/README.md"], "docs/other.md", True, id="folder-exception-others"),
    # docs.docker.com examples
    pytest.param(["*/temp*"], "somedir/temporary.txt", True, id="docs-star-temp"),
    pytest.param(["*/temp*"], "somedir/temp/x", True, id="docs-star-temp-dir"),
    pytest.param(["*/temp*"], "temp.txt", False, id="docs-star-temp-root"),
    pytest.param(["*/*/temp*"], "somedir/subdir/temporary.txt", True, id="docs-two-levels"),
    pytest.param(["temp?"], "tempa", True, id="docs-question"),
    pytest.param(["temp?"], "temp", False, id="docs-question-needs-char"),
    pytest.param(["*.md", "!README.md"], "README.md", False, id="docs-readme-kept"),
    pytest.param(["*.md", "!README.md"], "CHANGES.md", True, id="docs-md-ignored"),
    pytest.param(["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True, id="docs-secret"),
    pytest.param(["*.md", "!README*.md", "README-secret.md"], "README-x.md", False, id="docs-readme-x"),
    pytest.param(["*.md", "README-secret.md", "!README*.md"], "README-secret.md", False, id="docs-order"),
    pytest.param(["**/*.go"], "main.go", True, id="docs-doublestar-root"),
    pytest.param(["**/*.go"], "a/b/c.go", True, id="docs-doublestar-deep"),
    pytest.param(["*", "!src", "src/build"], "src/build/out.o", True, id="reexclude-below-exception"),
    pytest.param(["*", "!src", "src/build"], "src/main.c", False, id="exception-keeps-subtree"),
]


@pytest.mark.parametrize(("patterns", "path", "ignored"), MULTI_PATTERN)
def test_multi_pattern(patterns: list[str], path: str, ignored: bool) -> None:
    assert IgnoreMatcher.from_lines(patterns).is_ignored(path) is ignored


def test_reading_rules() -> None:
    lines = [
        "\ufeff# comment, BOM dropped",
        "",
        "   ",
        "test1",
        "/test2",
        "/a/file/here",
        "lastfile  ",
        " #not-a-comment",
        "! /inverted/abs/path",
        "./dot/./x/",
        "a/b/../c",
        "\tspaced\t\r",
    ]
    matcher = IgnoreMatcher.from_lines(lines)
    assert matcher.patterns == (
        "test1",
        "test2",
        "a/file/here",
        "lastfile",
        "#not-a-comment",
        "!inverted/abs/path",
        "dot/x",
        "a/c",
        "spaced",
    )
    assert matcher.is_ignored("#not-a-comment")
    assert not matcher.is_ignored("# comment, BOM dropped")


@pytest.mark.parametrize("bad", ["!", "! ", "[", "a[", "[^", "[^bc", "[]a]", "[-]", "[x-]", "[-x]", "\\"])
def test_invalid_pattern_names_file_and_line(tmp_path: Path, bad: str) -> None:
    path = tmp_path / ".dockerignore"
    path.write_text(f"# ok\nfine\n{bad}\n")
    with pytest.raises(InputError) as info:
        IgnoreMatcher.from_file(path)
    assert str(path) in str(info.value)
    assert "line 3" in str(info.value)


def test_invalid_class_range() -> None:
    with pytest.raises(InputError):
        IgnoreMatcher.from_lines(["[z-a]"])
    with pytest.raises(InputError):
        IgnoreMatcher.from_lines(["[a-b-c]"])


def test_missing_file_ignores_nothing(tmp_path: Path) -> None:
    matcher = IgnoreMatcher.from_file(tmp_path / "absent")
    assert not matcher
    assert matcher.patterns == ()
    assert not matcher.is_ignored("anything/at/all")


def test_from_file_crlf_and_undecodable(tmp_path: Path) -> None:
    path = tmp_path / ".dockerignore"
    path.write_bytes(b"*.log\r\nbad\xff\r\n")
    matcher = IgnoreMatcher.from_file(path)
    assert matcher.patterns == ("*.log", "bad\udcff")
    assert matcher.is_ignored("x.log")
    assert matcher.is_ignored(b"bad\xff".decode("utf-8", "surrogateescape"))


def test_root_is_never_ignored() -> None:
    matcher = IgnoreMatcher.from_lines(["**", "*"])
    assert not matcher.is_ignored(".")
    assert not matcher.is_ignored("")


@pytest.mark.parametrize(
    ("patterns", "directory", "expected"),
    [
        (["build"], "build", False),
        (["docs", "!docs/README.md"], "docs", True),
        (["build", "docs", "!docs/README.md"], "build", False),
        (["docs", "!docs/sub/x"], "docs/sub", True),
        (["docs", "!docs/sub", "docs/sub/deeper"], "docs/sub/deeper", False),
        (["*", "!src", "src/build"], "src/build", False),
        (["build", "!**/keep"], "build", True),
        (["build", "!src/*.py"], "build", False),
        (["build", "!build/*.py"], "build", True),
        (["build", "!buildx"], "build", False),
    ],
)
def test_may_reinclude_below(patterns: list[str], directory: str, expected: bool) -> None:
    matcher = IgnoreMatcher.from_lines(patterns)
    assert matcher.is_ignored(directory)
    assert matcher.may_reinclude_below(directory) is expected
