"""The EDS-NLP/spaCy pipeline, confined here (edsnlp and spaCy are untyped: ``Any``).

Pipes, in order: ``eds.sentences``, ``eds.normalizer``, two ``eds.matcher`` (histology →
ICD-O-3 morphology, site → topography, on NORM), ``oncobase.sections`` and
``oncobase.candidates`` (our components: sections, and the regex parsers of
:mod:`oncobase.nlp.parsers` as spans), ``eds.tnm``, ``eds.adicap``, then the qualifiers
``eds.negation``, ``eds.hypothesis``, ``eds.family`` and ``eds.history`` (with extra cues)
over every span group. :func:`doc_mentions` turns a processed doc into typed
:class:`Mention` records.
"""

from __future__ import annotations

import bisect
import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from oncobase.nlp.lexicon import MORPHOLOGY_TERMS, TOPOGRAPHY_TERMS
from oncobase.nlp.parsers import find_candidates
from oncobase.nlp.schema import fold
from oncobase.nlp.sections import section_at, split_sections

__all__ = ["Mention", "build_pipeline", "doc_mentions", "get_pipeline"]

SPAN_GROUPS = ("histology", "site", "candidates", "tnm")

# Pseudo-cues: "non"/"négatif" that do not negate the finding (NOTES_EDSNLP.md).
NEGATION_PSEUDO = [
    "type non spécifique",
    "de type non spécifique",
    "non à petites cellules",
    "non kératinisant",
    "non kératinisante",
    "non cirrhotique",
    "non mucineux",
    "non mucineuse",
    "non hodgkinien",
    "non muté",
    "non amplifié",
    "triple négatif",
    "HER2 négatif",
    "HER2 négative",
    "non réarrangé",
    "IDH non muté",
    "non infiltrant",
    "non classé",
    "non spécifique",
    "sans autre précision",
    "non évaluable",
]
NEGATION_PRECEDING = [
    "indemne de",
    "indemnes de",
    "absence d'argument pour",
    "pas d'argument pour",
    "sans argument pour",
    "absence de cellule tumorale",
    "aucun argument pour",
    "absence de lésion",
    "pas de lésion",
]
HYPOTHESIS_PRECEDING = [
    "évoquant",
    "évoque",
    "compatible avec",
    "compatibles avec",
    "en faveur de",
    "en faveur d'",
    "suspect de",
    "suspecte de",
    "suspicion de",
    "on ne peut éliminer",
    "ne peut être éliminé",
    "pour éliminer",
    "afin d'éliminer",
    "à la recherche de",
    "recherche de",
    "à éliminer",
    "doute sur",
    "évocateur de",
    "évocatrice de",
    "hypothèse de",
    "discuter",
]
HYPOTHESIS_FOLLOWING = ["est à éliminer", "à éliminer", "à discuter", "ne peut être éliminé",
                        "ne peut être formellement éliminé", "ne peut être exclu", "?"]  # fmt: skip
HISTORY_CUES = [
    "antécédent",
    "antécédents",
    "atcd",
    "atcds",
    "opérée en",
    "opéré en",
    "opérée d'un",
    "opéré d'un",
    "traité en",
    "traitée en",
    "traité pour",
    "traitée pour",
    "suivi pour",
    "suivie pour",
    "aux antécédents",
    "il y a",
    "ans auparavant",
    "précédemment",
    "dans ses antécédents",
    "ancien",
    "ancienne",
    "réséqué en",
    "réséquée en",
    "lobectomie en",
    "néphrectomie en",
    "mastectomie en",
    "tumorectomie en",
    "en rémission",
]
FAMILY_CUES = ["mère", "père", "frère", "sœur", "soeur", "tante", "oncle", "cousin", "cousine",
               "grand-mère", "grand-père", "fille", "fils", "familial", "familiaux",
               "familiale", "famille", "apparenté"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Mention:
    """One span of a processed report, with its qualifiers and section."""

    group: str  # "histology", "site", "candidates", "tnm"
    kind: str  # morphology code, topography code, candidate kind, "tnm"
    value: Any
    start: int
    end: int
    text: str
    section: str
    sentence: int  # index of the sentence
    negated: bool
    hypothesis: bool
    family: bool
    history: bool


def _terms(table: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    return {code: [fold(t) for t in terms] for code, terms in table.items()}


def _merge(default: Any, extra: list[str]) -> list[str]:
    return sorted(set(default) | set(extra))


def build_pipeline() -> Any:
    """A fresh pipeline (a few seconds: matchers compile their terms)."""
    edsnlp: Any = importlib.import_module("edsnlp")
    eds: Any = importlib.import_module("edsnlp.pipes")
    from spacy.language import Language
    from spacy.tokens import Doc

    for name in ("onco_sections", "onco_candidates"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)

    if "oncobase_sections" not in Language.factories:

        @Language.component("oncobase_sections")
        def sections_component(doc: Any) -> Any:
            doc._.onco_sections = split_sections(doc.text)
            spans = []
            for section in doc._.onco_sections:
                span = doc.char_span(section.start, section.end, label=section.name,
                                     alignment_mode="expand")  # fmt: skip
                if span is not None:
                    spans.append(span)
            doc.spans["sections"] = spans
            return doc

        @Language.component("oncobase_candidates")
        def candidates_component(doc: Any) -> Any:
            text = doc.text  # once: a join over every token
            spans = []
            kept = []
            for cand in find_candidates(text, fold(text)):
                span = doc.char_span(cand.start, cand.end, label=cand.kind,
                                     alignment_mode="expand")  # fmt: skip
                if span is None:
                    continue
                spans.append(span)
                kept.append(cand)
            doc.spans["candidates"] = spans
            doc._.onco_candidates = kept
            return doc

    nlp = edsnlp.blank("eds")
    nlp.add_pipe(eds.sentences())
    nlp.add_pipe(eds.normalizer())
    nlp.add_pipe(eds.matcher(terms=_terms(MORPHOLOGY_TERMS), attr="NORM",
                             span_setter={"histology": True}), name="histology")  # fmt: skip
    nlp.add_pipe(eds.matcher(terms=_terms(TOPOGRAPHY_TERMS), attr="NORM",
                             span_setter={"site": True}), name="site")  # fmt: skip
    nlp.add_pipe("oncobase_sections")
    nlp.add_pipe("oncobase_candidates")
    nlp.add_pipe(eds.tnm(span_setter={"tnm": True}))
    nlp.add_pipe(eds.adicap(span_setter={"adicap": True}))
    getter = dict.fromkeys(SPAN_GROUPS, True)
    qualifiers = "edsnlp.pipes.qualifiers"
    hypothesis_patterns: Any = importlib.import_module(f"{qualifiers}.hypothesis.patterns")
    negation_patterns: Any = importlib.import_module(f"{qualifiers}.negation.patterns")

    # our cues extend EDS-NLP's own lists (passing a list replaces the defaults)
    nlp.add_pipe(
        eds.negation(
            span_getter=getter,
            pseudo=_merge(negation_patterns.pseudo, NEGATION_PSEUDO),
            preceding=_merge(negation_patterns.preceding, NEGATION_PRECEDING),
        )
    )
    nlp.add_pipe(
        eds.hypothesis(
            span_getter=getter,
            preceding=_merge(hypothesis_patterns.preceding, HYPOTHESIS_PRECEDING),
            following=_merge(hypothesis_patterns.following, HYPOTHESIS_FOLLOWING),
        )
    )
    family_patterns: Any = importlib.import_module(f"{qualifiers}.family.patterns")
    history_patterns: Any = importlib.import_module(f"{qualifiers}.history.patterns")

    family = _merge(family_patterns.family, FAMILY_CUES)
    history = _merge(history_patterns.history, HISTORY_CUES)
    nlp.add_pipe(eds.family(span_getter=getter, family=family, use_sections=False))
    nlp.add_pipe(eds.history(span_getter=getter, history=history))
    return nlp


@lru_cache(maxsize=1)
def get_pipeline() -> Any:
    """The process-wide pipeline (built once)."""
    return build_pipeline()


def _tnm_value(span: Any) -> dict[str, str | None] | None:
    tnm = getattr(span._, "tnm", None) or getattr(span._, "value", None)
    if tnm is None or getattr(tnm, "tumour", None) is None:
        return None
    prefix = (getattr(tnm, "tumour_prefix", None) or "").lower().replace(" ", "")
    t = str(getattr(tnm, "tumour", "") or "").lower()
    t += str(getattr(tnm, "tumour_specification", None) or "").lower()
    node = getattr(tnm, "node", None)
    n = None
    if node is not None:
        n = str(node).lower() + str(getattr(tnm, "node_specification", None) or "").lower()
        n = n.replace("(", "").replace(")", "")
        if "/" in n or n.endswith(("sn", "i+", "i-")):
            n = n.split("(")[0].rstrip("sni+-/0123456789") or str(node).lower()
    metastasis = getattr(tnm, "metastasis", None)
    m = str(metastasis).lower() if metastasis is not None else None
    return {"prefix": prefix or None, "T": t.replace("o", "0"), "N": n, "M": m}


# Sentence-level backstop for the qualifiers (cues EDS-NLP's scopes miss, e.g. a cue far
# before the mention or an "(pT3N0)" in parentheses): only outside the conclusion.
_PAST_SENTENCE = re.compile(
    r"\b(?:antecedents?|atcds?|operee? (?:en|d'un|d'une|pour)|traitee? (?:en|pour|par)"
    r"|suivie? pour|resequee? en|il y a \d+ ans|en remission|(?:en|depuis) (?:19|20)\d\d\b"
    r"|histoire de)"
)
_FAMILY_SENTENCE = re.compile(
    r"\b(?:mere|pere|frere|soeur|tante|oncle|cousine?|grand-mere|grand-pere|fils|fille"
    r"|familia(?:l|ux|le|les)|apparentee?s?)\b"
)


def _sentence_flags(doc: Any) -> tuple[list[int], list[tuple[bool, bool]]]:
    # token flags, not ``doc.sents`` (quadratic in spaCy 3.8 on long documents)
    starts = [token.idx for token in doc if token.is_sent_start] or [0]
    starts[0] = 0
    text = doc.text
    bounds = [*starts[1:], len(text)]
    flags: list[tuple[bool, bool]] = []
    for start, end in zip(starts, bounds, strict=True):
        low = fold(text[start:end])
        flags.append((bool(_PAST_SENTENCE.search(low)), bool(_FAMILY_SENTENCE.search(low))))
    return starts, flags


def doc_mentions(doc: Any) -> list[Mention]:
    """Typed mentions of a processed doc."""
    sections = doc._.onco_sections or []
    sentence_starts, sentence_flags = _sentence_flags(doc)
    out: list[Mention] = []

    candidates = doc._.onco_candidates or []
    text = doc.text  # a join over every token: once
    for group in SPAN_GROUPS:
        for index, span in enumerate(doc.spans.get(group, [])):
            if group == "candidates":
                cand = candidates[index]
                start, end, kind = cand.start, cand.end, cand.kind
                value = (cand.value, cand.rank)
            elif group == "tnm":
                start, end = span.start_char, span.end_char
                kind = "tnm"
                value = (_tnm_value(span), 1)
            else:
                start, end = span.start_char, span.end_char
                kind = span.label_
                value = None
            section = section_at(sections, start)
            sentence = max(bisect.bisect_right(sentence_starts, start) - 1, 0)
            past, family = sentence_flags[sentence] if sentence_flags else (False, False)
            past = past and section in ("clinical", "other", "header", "specimen")
            out.append(
                Mention(
                    group=group,
                    kind=kind,
                    value=value,
                    start=start,
                    end=end,
                    text=text[start:end],
                    section=section,
                    sentence=sentence,
                    negated=bool(span._.negation),
                    hypothesis=bool(span._.hypothesis),
                    family=bool(span._.family) or family,
                    history=bool(span._.history) or past,
                )
            )
    return out
