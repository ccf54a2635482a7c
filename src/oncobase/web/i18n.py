"""French and English: gettext catalogues (``locale/<lang>/LC_MESSAGES/messages.po``).

The ``.po`` files are the source; babel compiles them to ``.mo`` in memory when the service
starts (:func:`translations`), or to files with :func:`compile_catalogues`.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from importlib import resources
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"


def _po_text(lang: str) -> str | None:
    path = resources.files("oncobase.web").joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    return path.read_text("utf-8") if path.is_file() else None


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (English is the source language)."""
    text = _po_text(lang) if lang in LANGUAGES else None
    if text is None:
        return gettext.NullTranslations()
    catalogue = read_po(io.StringIO(text), locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def compile_catalogues(target: Path | None = None) -> list[Path]:
    """Write ``messages.mo`` beside (or under ``target`` instead of) each ``messages.po``."""
    written: list[Path] = []
    for lang in LANGUAGES:
        text = _po_text(lang)
        if text is None:
            continue
        base = target or Path(str(resources.files("oncobase.web").joinpath("locale")))
        out = base / lang / "LC_MESSAGES" / "messages.mo"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as handle:
            write_mo(handle, read_po(io.StringIO(text), locale=lang))
        written.append(out)
    return written


def pick_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """The page language: ?lang=, then the cookie, then the browser's Accept-Language."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    for part in (accept or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
