"""The portal's languages: gettext catalogs, the one source of every string it shows.

Messages are written in English in the code and templates (`_()` in templates, `N_()` to
mark a string in Python that is translated where it is shown) and translated in
`translations/<locale>/LC_MESSAGES/messages.po`, Simplified Chinese first. The catalogs
are compiled in memory when the portal starts: nothing generated to keep in step with the
sources, nothing to build before `make demo` or `make test`.

`make messages` collects new messages into the catalogs (pybabel, as babel.cfg says);
translate them there: tests/portal/test_catalogs.py fails while any is untranslated.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from orchestrator.errors import DomainError

TRANSLATIONS = Path(__file__).parent / "translations"

DEFAULT_LANGUAGE = "zh_Hans"
# Each language, as its own speakers name it: what the switch offers.
LANGUAGES = {"zh_Hans": "中文", "en": "English"}
# The `lang` attribute of a page in each language (BCP 47).
HTML_LANG = {"zh_Hans": "zh-Hans", "en": "en"}


def N_(message: str) -> str:
    """Mark `message` for the catalogs; it is translated where it is shown."""
    return message


def catalog_path(language: str) -> Path:
    """The .po file of `language`."""
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


@cache
def translations(language: str) -> Translations:
    """The compiled catalog of `language` (KeyError for a language the portal lacks)."""
    if language not in LANGUAGES:
        raise KeyError(language)
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def language_or_default(language: str | None) -> str:
    """`language` if the portal speaks it, else the default."""
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def said_in(refused: DomainError, language: str) -> str:
    """The core's refusal, in `language` (its messages come in both)."""
    return refused.message_zh if language == DEFAULT_LANGUAGE else refused.message_en
