"""The vendored scripts are the releases the vendor README names: each file's sha256 is the
one in its table, and every file of a vendored folder is in the table or is its licence."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from bank_portal.web import STATIC

VENDOR = STATIC / "vendor"
# A table row: | what | version | from | `file` | `sha256` | licence |
ROW = re.compile(r"^\|[^|]+\|[^|]+\|[^|]+\| `(?P<file>[^`]+)` \| `(?P<sha256>[0-9a-f]{64})` \|")


def listed() -> dict[str, str]:
    rows = (ROW.match(line) for line in (VENDOR / "README.md").read_text().splitlines())
    return {row["file"]: row["sha256"] for row in rows if row}


def test_each_vendored_file_is_the_release_its_table_names() -> None:
    files = listed()
    assert {"htmx-2.0.4/htmx.min.js", "chartjs-4.6.2/chart.umd.min.js"} <= set(files)
    for name, sha256 in files.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha256, name


def test_nothing_is_vendored_unlisted() -> None:
    files = listed()
    for path in VENDOR.rglob("*"):
        name = path.relative_to(VENDOR).as_posix()
        if path.is_file() and path.parent != VENDOR:
            assert name in files or path.name.startswith("LICENSE"), f"{name} is not listed"


def test_the_pages_load_the_listed_releases() -> None:
    templates = Path(__file__).resolve().parents[2] / "templates"
    loaded = {
        match
        for page in templates.rglob("*.html")
        for match in re.findall(r'src="[^"]*/static/vendor/([^"]+)"', page.read_text())
    }
    assert loaded and loaded <= set(listed())
