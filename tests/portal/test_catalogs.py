"""The gettext catalogs are the one source of the portal's strings: every message in the
templates and the portal's code is translated in every language, and the catalogs compile."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bank_portal.i18n import LANGUAGES, catalog_path, translations

ROOT = Path(__file__).resolve().parents[2]


def extracted() -> set[str | tuple[str, ...]]:
    """Every message the templates and the portal's code mark, as babel.cfg says."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_the_portal_marks_its_messages() -> None:
    messages = extracted()
    assert "Sign in" in messages and "Wrong username or password." in messages
    assert len(messages) > 40


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    untranslated = []
    for message in extracted():
        msgid = message if isinstance(message, str) else message[0]
        entry = catalog.get(msgid)
        strings = (
            ()
            if entry is None
            else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        )
        if not strings or not all(strings) or entry is None or entry.fuzzy:
            untranslated.append(message)
    assert not untranslated, f"untranslated in {language}: {sorted(map(str, untranslated))}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogs_compile(language: str) -> None:
    assert (
        translations(language).gettext("Sign in") == {"zh_Hans": "登录", "en": "Sign in"}[language]
    )
