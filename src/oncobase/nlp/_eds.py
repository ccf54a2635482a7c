"""The EDS-NLP/spaCy pipeline, confined here (edsnlp and spaCy are untyped: ``Any``).

Pipes, in order: ``eds.sentences``, :class:`FastNormalizer` (``eds.normalizer``'s output in
array passes), two ``eds.matcher`` (histology → ICD-O-3 morphology, site → topography, on
NORM), ``oncobase_candidates`` (our component: sections, the longest of overlapping terms,
and the regex parsers of :mod:`oncobase.nlp.parsers` as spans), ``eds.tnm``, ``eds.adicap``,
then the qualifiers ``eds.negation``, ``eds.hypothesis`` and ``eds.history`` (with extra
cues), each over the spans whose flag the assembler reads; family is a sentence-level
backstop holding EDS-NLP's family cues. The tokenizer keeps the input text on the doc
(``doc.text`` would join every token again). :func:`doc_mentions` turns a processed doc into
typed :class:`Mention` records.
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
from oncobase.nlp.sections import split_sections

__all__ = ["Mention", "build_pipeline", "doc_mentions", "get_pipeline", "longest_intervals"]

SPAN_GROUPS = ("histology", "site", "candidates", "tnm")
# the spans each qualifier runs over: the flags :mod:`oncobase.nlp.extract` reads
# (negation: histology and sizes; hypothesis: histology, sizes, grades, stages; family and
# history: every span)
NEGATION_SPANS: dict[str, Any] = {"histology": True, "candidates": ["size"]}
HYPOTHESIS_SPANS: dict[str, Any] = {
    "histology": True,
    "candidates": ["size", "grade", "tnm"],
    "tnm": True,
}

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
    "insuffisant pour affirmer",
    "insuffisante pour affirmer",
    "insuffisants pour affirmer",
    "insuffisantes pour affirmer",
    "sans pouvoir affirmer",
    "ne permet pas d'affirmer",
    "ne permettant pas d'affirmer",
    "ne permet pas de retenir",
    "ne permettant pas de retenir",
    "pas de diagnostic de",
    "sans certitude de",
    "sans certitude d'",
    "sans certitude formelle de",
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


def _token_spans(doc: Any, starts: Any, items: list[tuple[int, int, str]]) -> list[Any]:
    """Spans covering the character ranges ``items`` (``char_span(alignment_mode="expand")``
    without its per-call token walk: ``starts`` holds every token's first character)."""
    numpy: Any = importlib.import_module("numpy")
    from spacy.tokens import Span

    if not items:
        return []
    bounds = numpy.asarray([(a, b) for a, b, _ in items], dtype=numpy.int64)
    first = numpy.searchsorted(starts, bounds[:, 0], side="right") - 1
    last = numpy.searchsorted(starts, bounds[:, 1], side="left")
    spans = []
    for (_, _, label), i, j in zip(items, first.tolist(), last.tolist(), strict=True):
        spans.append(Span(doc, max(i, 0), max(j, i + 1), label=label))
    return spans


def _longest_spans(spans: list[Any]) -> list[Any]:
    """Drop spans nested in (or overlapping) a longer one (as ``extract._longest``)."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i].start_char - spans[i].end_char,
                                                     spans[i].start_char))  # fmt: skip
    keep = longest_intervals([(spans[i].start_char, spans[i].end_char) for i in order])
    return sorted((spans[order[i]] for i in keep), key=lambda x: x.start_char)


def longest_intervals(intervals: list[tuple[int, int]]) -> list[int]:
    """Indices of the intervals kept greedily in the given order, each overlapping none kept
    before it (O(n log n): the kept intervals are disjoint, so only the nearest one to the
    left can overlap)."""
    starts: list[int] = []
    ends: list[int] = []
    kept: list[int] = []
    for index, (start, end) in enumerate(intervals):
        at = bisect.bisect_left(starts, end)
        if at > 0 and ends[at - 1] > start:
            continue
        starts.insert(at, start)
        ends.insert(at, end)
        kept.append(index)
    return kept


class _KeepText:
    """The pipeline's tokenizer, keeping the input text on the doc (``doc._.onco_text``):
    ``doc.text`` joins every token again, and our components and :func:`doc_mentions` need
    the text."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, text: str) -> Any:
        doc = self.inner(text)
        doc._.onco_text = text
        return doc

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.inner, name)


def doc_text(doc: Any) -> str:
    """The text of ``doc``, without a join over its tokens when the tokenizer kept it."""
    text = doc._.onco_text
    return str(doc.text) if text is None else str(text)


# A necessary condition for any of EDS-NLP's default pollution patterns (information
# banners, bars, doctor lines, web/mail, page footers, intra-word line breaks) to match:
# reports without any of these are left as the pollution tagger would (no pollution).
_POLLUTION_HINT = re.compile(
    r"(?im)droit-opposition|tabac|[nbw_=-]{5,}|^(?:dr|pr)(?:\.|\s|of)|www\.|@"
    r"|\.(?:fr|com|net|org)|^\d\d?/\d|80\d{8}|mpr|-\n"
)
_POLLUTION_KEYS = ("information", "bars", "doctors", "web", "footer", "intraword_split")


class FastNormalizer:
    """``eds.normalizer`` (lower case, accents, quotes, space tags, pollution) with the same
    output, in array passes: NORM is translated once per distinct norm of the doc rather
    than token by token three times (the normaliser was a fifth of the extraction time)."""

    lowercase = True  # read by EDS-NLP's qualifiers (``check_normalizer``)

    def __init__(self, nlp: Any) -> None:
        accents: Any = importlib.import_module("edsnlp.pipes.core.normalizer.accents.patterns")
        quotes: Any = importlib.import_module("edsnlp.pipes.core.normalizer.quotes.patterns")
        pollution: Any = importlib.import_module("edsnlp.pipes.core.normalizer.pollution.pollution")
        patterns: Any = importlib.import_module("edsnlp.pipes.core.normalizer.pollution.patterns")
        self._accents = str.maketrans(
            "".join(group for group, _ in accents.accents),
            "".join(rep * len(group) for group, rep in accents.accents),
        )
        self._quotes = str.maketrans(
            "".join(group for group, _ in quotes.quotes_and_apostrophes),
            "".join(rep * len(group) for group, rep in quotes.quotes_and_apostrophes),
        )
        self.pollution = pollution.PollutionTagger(
            nlp=nlp, name="eds.pollution", pollution=dict(patterns.default_enabled)
        )
        self._strings = nlp.vocab.strings
        # the prefilter holds for EDS-NLP's default patterns, matched on the plain text
        self._prefilter = sorted(k for k, *_ in self.pollution.regex_matcher.regex) == sorted(
            _POLLUTION_KEYS
        ) and all(tuple(rest) == ("TEXT", False, False, "expand")
                  for _, _, *rest in self.pollution.regex_matcher.regex)  # fmt: skip
        self._space = self._strings.add("SPACE")
        self._cache: dict[int, int] = {}
        # the matchers normalise their terms with the pipes that assign NORM: declare it
        registries: Any = importlib.import_module("edsnlp.core.registries")
        registries.PIPE_META[self] = registries.FactoryMeta(
            assigns=["token.norm", "token.tag"], requires=[], retokenizes=False, default_config={}
        )

    def _norm(self, key: int) -> int:
        new = self._cache.get(key)
        if new is None:
            text = self._strings[key]
            new = self._strings.add(text.translate(self._accents).translate(self._quotes))
            if len(self._cache) < 500_000:
                self._cache[key] = new
        return int(new)

    def __call__(self, doc: Any) -> Any:
        if len(doc) and self._prefilter and not _POLLUTION_HINT.search(doc_text(doc)):
            self._tag(doc)
            doc.spans["pollutions"] = []
            return doc
        if len(doc):
            self._tag(doc)
        return self.pollution(doc)

    def _tag(self, doc: Any) -> None:
        if len(doc):
            numpy: Any = importlib.import_module("numpy")
            attrs: Any = importlib.import_module("spacy.attrs")
            array = doc.to_array([attrs.NORM, attrs.TAG, attrs.IS_SPACE]).astype(numpy.uint64)
            norms = array[:, 0]
            unique = numpy.unique(norms)
            mapped = numpy.asarray([self._norm(k) for k in unique.tolist()], dtype=numpy.uint64)
            array[:, 0] = mapped[numpy.searchsorted(unique, norms)]
            array[array[:, 2] == 1, 1] = self._space
            doc.from_array([attrs.NORM, attrs.TAG], array[:, :2])


def build_pipeline() -> Any:
    """A fresh pipeline (a few seconds: matchers compile their terms)."""
    edsnlp: Any = importlib.import_module("edsnlp")
    eds: Any = importlib.import_module("edsnlp.pipes")
    numpy: Any = importlib.import_module("numpy")
    attrs: Any = importlib.import_module("spacy.attrs")
    from spacy.language import Language
    from spacy.tokens import Doc

    for name in ("onco_sections", "onco_candidates", "onco_text"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)

    if "oncobase_candidates" not in Language.factories:

        @Language.component("oncobase_candidates")
        def candidates_component(doc: Any) -> Any:
            # sections and regex candidates in one pass: ``doc.text`` is a join over
            # every token, computed once here and kept for :func:`doc_mentions`
            text = doc_text(doc)
            for group in ("histology", "site"):
                # only the longest of overlapping terms can count (the assembler keeps
                # them): the qualifiers need not run over the nested ones
                if len(doc.spans.get(group, ())) > 1:
                    doc.spans[group] = _longest_spans(list(doc.spans[group]))
            doc._.onco_sections = split_sections(text)
            kept = [c for c in find_candidates(text, fold(text)) if c.end > c.start]
            starts = doc.to_array([attrs.IDX]).astype(numpy.int64).reshape(-1)
            doc.spans["candidates"] = _token_spans(
                doc, starts, [(c.start, c.end, c.kind) for c in kept]
            )
            doc._.onco_candidates = kept
            return doc

    nlp = edsnlp.blank("eds")
    nlp.tokenizer = _KeepText(nlp.tokenizer)
    nlp.add_pipe(eds.sentences())
    nlp.add_pipe(FastNormalizer(nlp), name="normalizer")
    nlp.add_pipe(eds.matcher(terms=_terms(MORPHOLOGY_TERMS), attr="NORM",
                             span_setter={"histology": True}), name="histology")  # fmt: skip
    nlp.add_pipe(eds.matcher(terms=_terms(TOPOGRAPHY_TERMS), attr="NORM",
                             span_setter={"site": True}), name="site")  # fmt: skip
    nlp.add_pipe("oncobase_candidates")
    nlp.add_pipe(eds.tnm(span_setter={"tnm": True}))
    nlp.add_pipe(eds.adicap(span_setter={"adicap": True}))
    qualifiers = "edsnlp.pipes.qualifiers"
    hypothesis_patterns: Any = importlib.import_module(f"{qualifiers}.hypothesis.patterns")
    negation_patterns: Any = importlib.import_module(f"{qualifiers}.negation.patterns")

    # our cues extend EDS-NLP's own lists (passing a list replaces the defaults); each
    # qualifier runs only over the spans whose flag the assembler reads
    nlp.add_pipe(
        eds.negation(
            span_getter=NEGATION_SPANS,
            pseudo=_merge(negation_patterns.pseudo, NEGATION_PSEUDO),
            preceding=_merge(negation_patterns.preceding, NEGATION_PRECEDING),
        )
    )
    nlp.add_pipe(
        eds.hypothesis(
            span_getter=HYPOTHESIS_SPANS,
            preceding=_merge(hypothesis_patterns.preceding, HYPOTHESIS_PRECEDING),
            following=_merge(hypothesis_patterns.following, HYPOTHESIS_FOLLOWING),
        )
    )
    history_patterns: Any = importlib.import_module(f"{qualifiers}.history.patterns")
    history = _merge(history_patterns.history, HISTORY_CUES)
    # no ``eds.family``: its scope (the sentence up to a termination cue) lies inside the
    # sentence-level family backstop of :func:`doc_mentions`, whose cues hold EDS-NLP's
    nlp.add_pipe(eds.history(span_getter=dict.fromkeys(SPAN_GROUPS, True), history=history))
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
    r"\b(?:mere|pere|freres?|soeurs?|tante|oncle|cousine?s?|grand-mere|grand-pere|fils"
    r"|filles?|familia(?:l|ux|le|les)|famille|apparentee?s?|aieul|aieux|enfants?|epouse"
    r"|epoux|fiancee?|maman|mari|papa|parents?|grands-parents|neveux?|nieces?"
    r"|antecedents? familia(?:l|ux))\b"
)


def _sentence_flags(doc: Any, text: str) -> tuple[list[int], list[tuple[bool, bool]]]:
    # an array of token flags, not ``doc.sents`` (quadratic in spaCy 3.8 on long documents)
    # nor a walk over Token objects
    attrs: Any = importlib.import_module("spacy.attrs")
    array = doc.to_array([attrs.SENT_START, attrs.IDX]).astype("int64") if len(doc) else None
    starts = [0] if array is None else array[array[:, 0] == 1, 1].tolist() or [0]
    starts[0] = 0
    bounds = [*starts[1:], len(text)]
    low = fold(text)
    flags: list[tuple[bool, bool]] = []
    for start, end in zip(starts, bounds, strict=True):
        flags.append(
            (
                bool(_PAST_SENTENCE.search(low, start, end)),
                bool(_FAMILY_SENTENCE.search(low, start, end)),
            )
        )
    return starts, flags


def doc_mentions(doc: Any) -> list[Mention]:
    """Typed mentions of a processed doc."""
    sections = doc._.onco_sections or []
    section_starts = [section.header_start for section in sections]
    text = doc_text(doc)
    sentence_starts, sentence_flags = _sentence_flags(doc, text)
    out: list[Mention] = []

    candidates = doc._.onco_candidates or []
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
            at = bisect.bisect_right(section_starts, start) - 1
            section = sections[at].name if at >= 0 else "other"  # as ``section_at``
            sentence = max(bisect.bisect_right(sentence_starts, start) - 1, 0)
            ext = span._  # one extension accessor for the three flags
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
                    negated=bool(ext.negation),
                    hypothesis=bool(ext.hypothesis),
                    family=family,
                    history=bool(ext.history) or past,
                )
            )
    return out
