"""Every message of the templates has its French translation; the catalogues compile."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from oncobase.web.i18n import compile_catalogues, pick_language, translations

TEMPLATES = Path(str(resources.files("oncobase.web").joinpath("templates")))
MESSAGE = re.compile(r"""_\((["'])(.+?)\1\)""")


def test_every_template_message_is_translated() -> None:
    """Words spelt the same in both languages are listed; every other message is translated."""
    french = translations("fr")
    missing = []
    for template in TEMPLATES.glob("*.html"):
        for _, message in MESSAGE.findall(template.read_text("utf-8")):
            if french.gettext(message) == message and message not in {
                "France",
                "Table",
                "Action",
                "Source",
                "Total",
                "Audit",
                "Département",
                "Actions",
                "Variables",
                "Notifications",
                "version",
                "Catalogue",
                "JSON-LD",
                "Type",
                "Standard",
                "Description",
            }:
                missing.append((template.name, message))
    assert not missing


def test_catalogues_compile_to_mo_files(tmp_path: Path) -> None:
    written = compile_catalogues(tmp_path)
    assert {p.parent.parent.name for p in written} == {"en", "fr"}
    assert all(p.stat().st_size > 0 for p in written)


def test_language_choice() -> None:
    assert pick_language("fr", None, None) == "fr"
    assert pick_language(None, "fr", "en") == "fr"
    assert pick_language(None, None, "fr-FR,fr;q=0.9") == "fr"
    assert pick_language("de", None, "de") == "en"
