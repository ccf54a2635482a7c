"""The output schema of pathology extraction (PATHOLOGY_SCHEMA.md) and text folding helpers."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

__all__ = [
    "GENE_KEYS",
    "SCHEMA_KEYS",
    "empty_result",
    "fold",
    "preprocess",
    "preprocess_with_map",
]

SCHEMA_KEYS: tuple[str, ...] = (
    "cancer",
    "topography_icdo3",
    "morphology_icdo3",
    "grade",
    "prefix",
    "T",
    "N",
    "M",
    "tumor_size_mm",
    "nodes_positive",
    "nodes_examined",
    "margin_status",
    "er_pct",
    "pr_pct",
    "her2",
    "ki67_pct",
    "mmr",
    "msi",
    "pdl1_tps_pct",
    "pdl1_cps",
    "egfr",
    "kras",
    "nras",
    "braf",
    "alk",
    "ros1",
    "gleason_primary",
    "gleason_secondary",
    "isup_group",
)
GENE_KEYS: tuple[str, ...] = ("egfr", "kras", "nras", "braf", "alk", "ros1")


def empty_result() -> dict[str, Any]:
    """A result with every schema key null and ``cancer`` false."""
    result: dict[str, Any] = dict.fromkeys(SCHEMA_KEYS)
    result["cancer"] = False
    return result


_PRE_TABLE = {
    ord("œ"): "oe",
    ord("Œ"): "OE",
    ord("æ"): "ae",
    ord("Æ"): "AE",
    ord("\u2010"): "-",
    ord("\u2011"): "-",
    ord("\u2012"): "-",
    ord("\u2013"): "-",
    ord("\u2212"): "-",
    ord("\u00a0"): " ",
    ord("\u202f"): " ",
    ord("\u2009"): " ",
    ord("\u2019"): "'",
    ord("\u2018"): "'",
    ord("\u00ab"): '"',
    ord("\u00bb"): '"',
    ord("\r"): "",
    ord("\x00"): " ",
}
_ADICAP_RE = re.compile(r"(?i)(adicap|codification)(\s*:?\s*)([A-Z0-9](?:[ .]?[A-Z0-9]){7,11})")


def _join_adicap(match: re.Match[str]) -> str:
    return match.group(1) + match.group(2) + re.sub(r"[ .]", "", match.group(3))


def preprocess(text: str) -> str:
    """Fold what EDS-NLP's normaliser misses ("œ", U+2010 hyphens …); join ADICAP codes."""
    text = text.translate(_PRE_TABLE)
    if "dicap" in text or "odification" in text:
        text = _ADICAP_RE.sub(_join_adicap, text)
    return text


_RESIZING = re.compile("[œŒæÆ\r]")


def preprocess_with_map(text: str) -> tuple[str, list[int] | None]:
    """:func:`preprocess` and, when lengths change, the input offset of every output offset.

    ``mapping[i]`` is the offset in ``text`` of the character at ``i`` in the result, with one
    more entry for the end (``len(text)``); None when offsets are unchanged (the usual case).
    """
    simple = _RESIZING.search(text) is None
    joins = ("dicap" in text or "odification" in text) and _ADICAP_RE.search(
        text.translate(_PRE_TABLE)
    )
    if simple and not joins:
        return preprocess(text), None
    out: list[str] = []
    mapping: list[int] = []
    for index, ch in enumerate(text):
        repl = _PRE_TABLE.get(ord(ch), ch)
        for part in repl:
            out.append(part)
            mapping.append(index)
    mapping.append(len(text))
    step = "".join(out)
    if not joins:
        return step, mapping
    final: list[str] = []
    final_map: list[int] = []
    cursor = 0
    for match in _ADICAP_RE.finditer(step):
        final.append(step[cursor : match.start()])
        final_map += mapping[cursor : match.start()]
        for position in range(match.start(), match.end()):
            in_code = position >= match.start(3)
            if not (in_code and step[position] in " ."):
                final.append(step[position])
                final_map.append(mapping[position])
        cursor = match.end()
    final.append(step[cursor:])
    final_map += mapping[cursor:]
    return "".join(final), final_map


def _fold_char(ch: str) -> str:
    base = unicodedata.normalize("NFD", ch)[:1].lower()
    return base if len(base) == 1 else ch


_FOLD_TABLE = {i: _fold_char(chr(i)) for i in range(0x80, 0x250)}


def fold(text: str) -> str:
    """Lower case without accents, **same length** as ``text`` (offsets stay valid)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lower-case to two ("İ")
        lowered = "".join(ch.lower()[:1] for ch in text)
    return lowered if text.isascii() else lowered.translate(_FOLD_TABLE)
