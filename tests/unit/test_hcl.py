import pytest

from slcc.emitting.hcl import block, quote, target_name


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("${HOME}", '"$${HOME}"'),
        ("%{if x}", '"%%{if x}"'),
        ("$HOME and 100%", '"$HOME and 100%"'),
        ("line1\nline2\ttab\r", '"line1\\nline2\\ttab\\r"'),
        ("bell\x07del\x7f", '"bell\\u0007del\\u007f"'),
        ("unicode ü 雪 🐳", '"unicode ü 雪 🐳"'),
        ("$${already}", '"$$${already}"'),
    ],
)
def test_quote(raw: str, quoted: str) -> None:
    assert quote(raw) == quoted


@pytest.mark.parametrize(
    ("parts", "name"),
    [(("python3", "release"), "python3_release"), (("py.3", "a-b"), "py_3_a-b"), (("ü",), "_")],
)
def test_target_name(parts: tuple[str, ...], name: str) -> None:
    assert target_name(*parts) == name


def test_block_is_deterministic_and_skips_none() -> None:
    text = block("target", "t", [("args", {"B": "2", "A": "1"}), ("target", None), ("tags", ["x"])])
    assert text == 'target "t" {\n  args = {\n    "A" = "1"\n    "B" = "2"\n  }\n  tags = ["x"]\n}\n'
