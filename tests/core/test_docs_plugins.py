"""docs/plugins.md tells the truth: its reference is what the code declares today."""

from __future__ import annotations

from pathlib import Path

from cloudkit.services import StorageService
from cloudkit.testing import driverdoc

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def test_the_plugin_reference_matches_the_code() -> None:
    text = DOC.read_text()
    assert driverdoc.BEGIN in text and driverdoc.END in text, "docs/plugins.md has no generated reference"
    assert driverdoc.update(text) == text, "docs/plugins.md is stale: run `.venv/bin/python -m cloudkit.testing.driverdoc docs/plugins.md`"


def test_the_reference_names_every_driver_method_error_and_kit_option() -> None:
    reference = driverdoc.render()
    for cls in driverdoc._interfaces():
        for op in cls.OPERATIONS:
            if op in cls.DERIVED:  # a derived operation may be built in the interface, without a driver method
                assert f"`_{op}(" in reference or f"none (`{op}` is built in the interface)" in reference
            else:
                assert f"`_{op}(" in reference, f"{cls.family}: _{op} has no declared signature in the reference"
    assert "(not declared)" not in reference
    assert "`_get_bucket(name: str) -> Bucket`" in reference
    for name in ("NotFound(", "InvalidInput(field: str, rule: str", "NotSupported(provider: str, operation: str", "ObjectReader("):
        assert name in reference
    for option in ("--cloudkit-profile", "--cloudkit-provider", "--cloudkit-many-keys"):
        assert option in reference
    assert "*Derived:*" in reference and "upload_file" in StorageService.DERIVED


def test_a_stale_page_is_detected_and_rewritten(tmp_path: Path) -> None:
    page = tmp_path / "plugins.md"
    page.write_text(f"# Intro\n\n{driverdoc.BEGIN}\nold table\n{driverdoc.END}\n\n## After\n")
    assert driverdoc.update(page.read_text()) != page.read_text()
    assert driverdoc.main([str(page)]) == 0
    text = page.read_text()
    assert "old table" not in text and text.startswith("# Intro") and text.endswith("## After\n")
    assert driverdoc.update(text) == text
