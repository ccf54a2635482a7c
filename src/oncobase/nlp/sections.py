"""Section splitter for French pathology reports (pure; wrapped as a spaCy component).

A section starts at a header at the beginning of a line ("Conclusion :", "MACROSCOPIE",
"IHC/BM :", "En conclusion :" …) and runs to the next header. Text before the first header
is ``header``; unheaded lines right after it (narrative reports) are ``other``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from oncobase.nlp.schema import fold

__all__ = ["SECTION_NAMES", "Section", "section_at", "split_sections"]

SECTION_NAMES: tuple[str, ...] = (
    "header",
    "clinical",
    "specimen",
    "macroscopy",
    "microscopy",
    "synoptic",
    "immunohistochemistry",
    "molecular",
    "conclusion",
    "other",
)

_HEADERS: tuple[tuple[str, str], ...] = (
    ("clinical", r"renseignements? cliniques?|contexte clinique|indication(?:s)?|rc|ri?cl"
     r"|histoire clinique|motif(?: de la demande)?|informations? cliniques?|clinique"
     r"|donnees cliniques|antecedents?"),
    ("specimen", r"prelevements?(?: recus?| adresses?)?|nature du prelevement|materiel adresse"
     r"|materiel recu|prlvt|type de prelevement|nous avons recu|piece operatoire|echantillon"),
    ("macroscopy", r"macroscopie|examen macroscopique|description macroscopique|macro"),
    ("microscopy", r"microscopie|examen microscopique|examen histologique|histologie|histo|micro"
     r"|a l'examen histologique|description microscopique|etude histologique"),
    ("synoptic", r"compte[- ]rendu (?:fiche )?standardisee?[^\n:]*|cr standardise[^\n:]*"
     r"|donnees minimales[^\n:]*|fiche standardisee[^\n:]*"),
    ("immunohistochemistry", r"immunohistochimie|etude immunohistochimique|immunomarquages?"
     r"|ihc(?:/bm)?|l'etude immunohistochimique(?: montre)?|biomarqueurs|marqueurs"
     r"|etude complementaire"),
    ("molecular", r"biologie moleculaire|analyse moleculaire|en biologie moleculaire"
     r"|etude moleculaire|plateforme de genetique moleculaire|ngs|sequencage"),
    ("conclusion", r"conclusions?|en conclusion|diagnostic|ccl|diagnostic final|synthese"
     r"|conclusion diagnostique"),
)  # fmt: skip

_HEADER_RE = re.compile(
    r"(?m)^[ \t]*(?:[-*•#]+[ \t]*)?(?P<h>"
    + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _HEADERS)
    + r")[ \t]*(?:(?::|-|—|\.)[ \t]*|$)"
)


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    start: int  # first character of the body (after the header)
    end: int
    header_start: int


def split_sections(text: str) -> list[Section]:
    """The sections of ``text`` in order (offsets into ``text``)."""
    low = fold(text)
    marks: list[tuple[int, int, str]] = []
    for match in _HEADER_RE.finditer(low):
        name = match.lastgroup
        if name is None or name == "h":
            name = next(n for n, _ in _HEADERS if match.group(n) is not None)
        # a bare word header ("Histo", "Macro") needs a colon unless alone on its line
        line_end = low.find("\n", match.end())
        rest = low[match.end() : line_end if line_end >= 0 else len(low)].strip()
        colon = ":" in low[match.start("h") + len(match.group("h")) : match.end()]
        if not colon and rest and name not in ("synoptic",):
            head = match.group("h")
            if head not in ("en conclusion", "a l'examen histologique", "nous avons recu"):
                continue
        marks.append((match.start(), match.end(), name))
    sections: list[Section] = []
    first = marks[0][0] if marks else len(text)
    if first > 0:
        head_end = _header_end(low, first)
        sections.append(Section("header", 0, head_end, 0))
        if head_end < first:
            sections.append(Section("other", head_end, first, head_end))
    enclosing = ""
    for i, (hstart, body, name) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else len(text)
        line_end = low.find("\n", body, end)
        if (
            name == "specimen"
            and enclosing == "synoptic"
            and line_end >= 0
            and low[body:line_end].strip()
        ):
            # a one-line "Prélèvement : …" field of a standardised report: the form goes on
            sections.append(Section(name, body, line_end + 1, hstart))
            sections.append(Section("synoptic", line_end + 1, end, line_end + 1))
            continue
        enclosing = name
        # a standardised report's title line ("… CANCER DU SEIN (données minimales)") is
        # administrative: it stays with the section before it
        sections.append(Section(name, body, end, body if name == "synoptic" else hstart))
    return sections


def _header_end(low: str, limit: int) -> int:
    """End of the administrative header: after the line with the exam number/date."""
    end = 0
    for match in re.finditer(r"(?m)^.*$", low[:limit]):
        line = match.group(0)
        if re.search(r"examen n|n° |\bn°|prelev|recu le|compte[ -]rendu|anatom|laboratoire"
                     r"|cabinet|^\s*$", line):  # fmt: skip
            end = min(match.end() + 1, limit)
        else:
            break
    return end


def section_at(sections: list[Section], offset: int) -> str:
    """The name of the section holding ``offset``."""
    name = "other"
    for section in sections:
        if section.header_start <= offset:
            name = section.name
        else:
            break
    return name
