"""From a French pathology report to one object with the PATHOLOGY_SCHEMA keys.

:func:`extract_report` runs the EDS-NLP pipeline (:mod:`oncobase.nlp._eds`) and
:func:`assemble` chooses, among the qualified mentions, the values of the current tumour:
the conclusion wins over the other sections, negated / hypothetical / family / antecedent
mentions never fill a key, and when no invasive cancer is established every key but
``cancer`` (false) is null.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Sequence
from typing import Any

from oncobase.nlp._eds import Mention, doc_mentions, get_pipeline, longest_intervals
from oncobase.nlp.parsers import isup_from_gleason
from oncobase.nlp.schema import GENE_KEYS, empty_result, fold, preprocess_with_map

__all__ = ["MAX_CHARS", "assemble", "extract_report", "extract_reports"]

_TRIM = frozenset(" \t\n,;.:")
MAX_CHARS = 100_000  # longer texts are cut (a pathology report is a few thousand characters)

_BODY = {
    "conclusion": 0,
    "synoptic": 1,
    "microscopy": 2,
    "immunohistochemistry": 3,
    "molecular": 3,
    "other": 4,
    "macroscopy": 5,
    "specimen": 6,
    "header": 8,
    "clinical": 9,
}
_BIOMARKER_ORDER = {
    "immunohistochemistry": 0,
    "molecular": 0,
    "synoptic": 1,
    "microscopy": 2,
    "conclusion": 2,
    "other": 3,
    "macroscopy": 4,
    "specimen": 5,
    "clinical": 6,
    "header": 9,
}


def _clean(m: Mention) -> bool:
    return not (m.family or m.history)


def _asserted(m: Mention) -> bool:
    return not (m.negated or m.hypothesis or m.family or m.history)


def _longest(mentions: list[Mention]) -> list[Mention]:
    """Drop mentions nested in (or overlapping) a longer one."""
    order = sorted(mentions, key=lambda x: (-(x.end - x.start), x.start))
    keep = longest_intervals([(m.start, m.end) for m in order])
    return sorted((order[i] for i in keep), key=lambda x: x.start)


def _value(m: Mention) -> Any:
    return m.value[0]


def _rank(m: Mention) -> int:
    return int(m.value[1])


def _is_haem(morph: str | None) -> bool:
    return morph is not None and morph[:4].isdigit() and 9590 <= int(morph[:4]) <= 9999


def assemble(mentions: Sequence[Mention]) -> dict[str, Any]:
    """The schema object from the qualified mentions of one report, with ``evidence``
    (offsets into the processed text)."""
    result, sources = _assemble(mentions)
    result["evidence"] = {
        key: {"start": m.start, "end": m.end, "text": m.text} for key, m in sources.items()
    }
    return result


def _assemble(mentions: Sequence[Mention]) -> tuple[dict[str, Any], dict[str, Mention]]:
    """The schema object and, for each non-null key, the mention its value came from."""
    result = empty_result()
    ev: dict[str, Mention] = {}
    by_kind: dict[str, list[Mention]] = {}
    for m in mentions:
        if m.group in ("candidates", "tnm"):
            by_kind.setdefault(m.kind, []).append(m)

    # -- histology and cancer ----------------------------------------------------------
    histology = _longest([m for m in mentions if m.group == "histology"])
    usable = [m for m in histology if _BODY.get(m.section, 4) < 8]
    asserted = [m for m in usable if _asserted(m)]
    # the best section holding an asserted histology decides (an in-situ conclusion wins
    # over an invasive wording elsewhere)
    best_section = min((_BODY.get(m.section, 4) for m in asserted), default=None)
    non_invasive = by_kind.get("noninvasive", [])
    invasive = sorted(
        (
            m
            for m in asserted
            if m.kind.endswith("/3")
            and _BODY.get(m.section, 4) == best_section
            and not _said_non_invasive(m, non_invasive)
        ),
        key=lambda m: m.start,
    )
    tnm_mention = _choose_tnm(by_kind)
    tnm = _tnm_value(tnm_mention) if tnm_mention is not None else None
    chosen: Mention | None = invasive[0] if invasive else None
    staged = tnm is not None and tnm["prefix"] in ("p", "yp") and tnm["T"] not in ("a", "is")
    if chosen is None and staged and not asserted:
        # staged without an asserted histology (ypT0: "absence de cellule tumorale résiduelle …")
        negated = sorted(
            (m for m in usable if m.kind.endswith("/3") and not (m.family or m.history)),
            key=lambda m: (_BODY.get(m.section, 4), m.start),
        )
        chosen = negated[0] if negated else None
    elif chosen is None:
        return result, ev
    result["cancer"] = True
    morph = chosen.kind if chosen is not None else None
    result["morphology_icdo3"] = morph
    if chosen is not None:
        ev["cancer"] = ev["morphology_icdo3"] = chosen
        subtype = _choose_subtype(by_kind.get("subtype", []), chosen)
        if subtype is not None:
            morph = result["morphology_icdo3"] = _value(subtype)[1]
            ev["morphology_icdo3"] = subtype
    elif tnm_mention is not None:
        ev["cancer"] = tnm_mention

    # -- topography --------------------------------------------------------------------
    sites = [m for m in _longest([m for m in mentions if m.group == "site"]) if _clean(m)]
    site = _choose_site(sites, chosen)
    if site is not None:
        result["topography_icdo3"] = site.kind
        ev["topography_icdo3"] = site
    if site is None or site.kind == "C44.9":
        # a cutaneous tumour: the body region names the skin subsite
        skin = _choose_skin(by_kind.get("skin", []), chosen, site, morph)
        if skin is not None:
            result["topography_icdo3"] = _value(skin)
            ev["topography_icdo3"] = skin
    if site is None and _is_soft_tissue_sarcoma(morph) and chosen is not None:
        # a soft-tissue sarcoma: the body region names the soft-tissue subsite ("cuisse" → C49.2)
        region = _choose_skin(by_kind.get("skin", []), chosen, chosen, None)
        if region is not None:
            result["topography_icdo3"] = _soft_tissue_site(region)
            ev["topography_icdo3"] = region

    # -- grade and prostate --------------------------------------------------------------
    gleasons = [m for m in by_kind.get("gleason", []) if _clean(m) and m.section != "header"]
    prostate = bool(gleasons) or result["topography_icdo3"] == "C61.9"
    if gleasons:
        best = max(gleasons, key=lambda m: (sum(_value(m)), _value(m)[0]))
        primary, secondary = _value(best)
        result["gleason_primary"], result["gleason_secondary"] = primary, secondary
        ev["gleason_primary"] = ev["gleason_secondary"] = best
        stated = [m for m in by_kind.get("isup", []) if _clean(m)]
        if stated:
            isup = max(stated, key=lambda m: (_value(m), -m.start))
            result["isup_group"] = _value(isup)
            ev["isup_group"] = isup
        else:
            result["isup_group"] = isup_from_gleason(primary, secondary)
            ev["isup_group"] = best
    if not prostate:
        grade = _choose_grade(by_kind.get("grade", []), chosen)
        if grade is not None:
            result["grade"] = str(_value(grade))
            ev["grade"] = grade

    # -- stage -------------------------------------------------------------------------
    if tnm is not None and tnm_mention is not None:
        for key in ("prefix", "T", "N", "M"):
            result[key] = tnm[key]
            if tnm[key] is not None:
                ev[key] = tnm_mention

    # -- size, nodes, margins ------------------------------------------------------------
    if not _is_haem(morph):
        sizes = [
            m
            for m in by_kind.get("size", [])
            if _asserted(m)
            and m.section not in ("clinical", "header", "specimen")
            and not (m.section == "other" and _rank(m) >= 2)
        ]
        if sizes:
            best = min(
                sizes,
                key=lambda m: (
                    _rank(m) + (2 if m.section == "macroscopy" else 0),
                    _BODY.get(m.section, 4),
                    m.start,
                ),
            )
            size = float(_value(best))
            if 0 < size < 500:
                result["tumor_size_mm"] = size
                ev["tumor_size_mm"] = best
    nodes = [m for m in by_kind.get("nodes", []) if _clean(m) and m.section != "clinical"]
    if nodes:
        best = min(nodes, key=lambda m: (_rank(m), _BODY.get(m.section, 4), m.start))
        if _value(best) is not None:
            result["nodes_positive"], result["nodes_examined"] = _value(best)
            for key in ("nodes_positive", "nodes_examined"):
                if result[key] is not None:
                    ev[key] = best
    margins = [m for m in by_kind.get("margin", []) if _clean(m) and m.section != "clinical"]
    if margins:
        best = min(margins, key=lambda m: (_rank(m), _BODY.get(m.section, 4), m.start))
        result["margin_status"] = _value(best)
        if result["margin_status"] is not None:
            ev["margin_status"] = best

    # -- biomarkers ----------------------------------------------------------------------
    for kind, key in (
        ("er", "er_pct"),
        ("pr", "pr_pct"),
        ("her2", "her2"),
        ("ki67", "ki67_pct"),
        ("mmr", "mmr"),
        ("msi", "msi"),
        ("tps", "pdl1_tps_pct"),
        ("cps", "pdl1_cps"),
        *((g, g) for g in GENE_KEYS),
    ):
        found = [m for m in by_kind.get(kind, []) if _clean(m) and m.section != "header"]
        if found:
            best = min(found, key=lambda m: (_rank(m), _BIOMARKER_ORDER.get(m.section, 3), m.start))
            value = _value(best)
            result[key] = dict(value) if isinstance(value, dict) else value
            if value is not None:
                ev[key] = best
    return result, ev


def _choose_subtype(subtypes: list[Mention], chosen: Mention) -> Mention | None:
    """A subtype named after the chosen generic term (same start, same generic code)."""
    found = [m for m in subtypes if m.start == chosen.start and _value(m)[0] == chosen.kind]
    return max(found, key=lambda m: m.end) if found else None


def _said_non_invasive(m: Mention, cues: list[Mention]) -> bool:
    """A histology followed in its sentence by "non invasif" / "non infiltrant" ("carcinome
    urothélial papillaire de bas grade non infiltrant"): not an invasive tumour."""
    return any(c.sentence == m.sentence and 0 <= c.start - m.end <= 40 for c in cues)


# skin subsite of a body region → soft-tissue subsite (C49.x); trunk words refined below
_SOFT_TISSUE = {"C44.0": "C49.0", "C44.1": "C49.0", "C44.2": "C49.0", "C44.3": "C49.0",
                "C44.4": "C49.0", "C44.5": "C49.6", "C44.6": "C49.1", "C44.7": "C49.2"}  # fmt: skip
_SOFT_TISSUE_TRUNK = {"thorax": "C49.3", "poitrine": "C49.3", "paroi thoracique": "C49.3",
                      "region presternale": "C49.3", "abdomen": "C49.4",
                      "paroi abdominale": "C49.4", "fesse": "C49.5"}  # fmt: skip


def _is_soft_tissue_sarcoma(morph: str | None) -> bool:
    if morph is None or not morph[:4].isdigit():
        return False
    code = int(morph[:4])
    return (8800 <= code <= 8935 or 8990 <= code <= 8991 or 9040 <= code <= 9044
            or code in (9120, 9540))  # fmt: skip


def _soft_tissue_site(region: Mention) -> str:
    word = " ".join(fold(region.text).split())
    return _SOFT_TISSUE_TRUNK.get(word) or _SOFT_TISSUE.get(str(_value(region)), "C49.9")


def _is_skin_tumour(morph: str | None) -> bool:
    # melanomas, basal cell carcinomas, Merkel cell carcinoma
    return (
        morph is not None
        and morph[:4].isdigit()
        and (
            8720 <= int(morph[:4]) <= 8790 or 8090 <= int(morph[:4]) <= 8098 or morph[:4] == "8247"
        )
    )


def _choose_skin(
    regions: list[Mention], chosen: Mention | None, site: Mention | None, morph: str | None
) -> Mention | None:
    if site is None and not _is_skin_tumour(morph):
        return None
    usable = [m for m in regions if _clean(m) and m.section not in ("clinical", "header")]
    if chosen is not None:
        same = [m for m in usable if m.sentence == chosen.sentence and m.start >= chosen.end]
        if same:
            return same[0]
    if site is not None:
        near = [m for m in usable if m.sentence == site.sentence and m.start >= site.end]
        if near:
            return near[0]
    return None


def _refine_site(site: Mention, same: list[Mention]) -> Mention:
    """An organ ("gastrique", C16.9) and, in the same sentence, a subsite of it ("antre",
    C16.3; "lobe supérieur droit" after "pulmonaire"): the subsite."""
    if not site.kind.endswith(".9"):
        return site
    finer = [m for m in same if m.kind[:3] == site.kind[:3] and m.kind[-2:] not in (".8", ".9")]
    return finer[0] if len({m.kind for m in finer}) == 1 else site


def _choose_site(sites: list[Mention], chosen: Mention | None) -> Mention | None:
    if not sites:
        return None
    if chosen is not None:
        same = [m for m in sites if m.sentence == chosen.sentence and m.section == chosen.section]
        after = [m for m in same if m.start >= chosen.end]
        if after:
            return _refine_site(after[0], after)
        if same:
            return _refine_site(same[-1], same)
    order = {"conclusion": 0, "synoptic": 1, "specimen": 2, "microscopy": 3, "other": 4,
             "macroscopy": 5, "immunohistochemistry": 6, "molecular": 6, "clinical": 7}  # fmt: skip
    ranked = sorted(
        (m for m in sites if m.section != "header"),
        key=lambda m: (order.get(m.section, 5), m.start),
    )
    return ranked[0] if ranked else None


def _choose_grade(grades: list[Mention], chosen: Mention | None) -> Mention | None:
    usable = [m for m in grades if _clean(m) and not m.hypothesis and m.section not in
              ("clinical", "header", "specimen", "macroscopy")]  # fmt: skip
    if not usable:
        return None

    def key(m: Mention) -> tuple[int, int, int, int]:
        near = 0 if chosen is not None and m.sentence == chosen.sentence else 1
        return (_BODY.get(m.section, 4), near, _rank(m), m.start)

    best = min(usable, key=key)
    return None if _value(best) == "na" else best


def _choose_tnm(by_kind: dict[str, list[Mention]]) -> Mention | None:
    mine = [m for m in by_kind.get("tnm", []) if m.group == "candidates"]
    theirs = [m for m in by_kind.get("tnm", []) if m.group == "tnm" and _value(m) is not None]
    mentions = mine + [m for m in theirs if all(m.end <= x.start or m.start >= x.end for x in mine)]
    mentions = [m for m in mentions if _clean(m) and not m.hypothesis]
    if not mentions:
        return None

    def key(m: Mention) -> tuple[int, int]:
        return (_BODY.get(m.section, 4), m.start)

    pathological = [m for m in mentions if _value(m).get("prefix") in ("p", "yp")]
    clinical = [m for m in mentions if _value(m).get("prefix") == "c"]
    pool = pathological or clinical
    if not pool:
        return None
    return min(pool, key=key)


def _tnm_value(m: Mention) -> dict[str, Any]:
    value: dict[str, Any] = dict(_value(m))
    t = str(value["T"]).lower()
    value["T"] = "0" if t == "o" else t
    return value


def _safe_text(text: Any) -> str:
    """The report as text (bytes decoded as UTF-8, errors replaced), cut at ``MAX_CHARS``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise TypeError(f"a report is text, not {type(text).__name__}")
    return text[:MAX_CHARS]


def _with_evidence(
    mentions: Sequence[Mention], original: str, mapping: list[int] | None
) -> dict[str, Any]:
    """The schema object with ``evidence`` as offsets into ``original`` (the input text)."""
    result, sources = _assemble(mentions)
    evidence: dict[str, dict[str, Any]] = {}
    for key, m in sources.items():
        start, end = m.start, m.end
        if mapping is not None:
            start, end = mapping[start], (mapping[end - 1] + 1 if end > start else mapping[start])
        while end > start and original[end - 1] in _TRIM:
            end -= 1
        while start < end and original[start] in _TRIM:
            start += 1
        evidence[key] = {"start": start, "end": end, "text": original[start:end]}
    result["evidence"] = evidence
    return result


def extract_report(text: str | bytes) -> dict[str, Any]:
    """The schema object of one report (bytes are decoded as UTF-8, errors replaced).

    Every schema key, plus ``evidence``: for each non-null key but ``cancer: false``, the
    ``start``/``end`` offsets and ``text`` of the span of the input it came from.
    """
    original = _safe_text(text)
    processed, mapping = preprocess_with_map(original)
    doc = get_pipeline()(processed)
    return _with_evidence(doc_mentions(doc), original, mapping)


def _extract_chunk(texts: list[str]) -> list[dict[str, Any]]:
    nlp = get_pipeline()
    prepared = [preprocess_with_map(t) for t in texts]
    docs = nlp.pipe([p for p, _ in prepared], batch_size=32)
    return [
        _with_evidence(doc_mentions(doc), original, mapping)
        for doc, original, (_, mapping) in zip(docs, texts, prepared, strict=True)
    ]


def extract_reports(
    texts: Iterable[str | bytes], *, processes: int = 1, chunk_size: int = 200
) -> list[dict[str, Any]]:
    """Schema objects of many reports, in order (``processes`` > 1: a multiprocessing pool)."""
    clean = [_safe_text(t) for t in texts]
    if processes <= 1 or len(clean) < 2 * chunk_size:
        return _extract_chunk(clean)
    chunks = [clean[i : i + chunk_size] for i in range(0, len(clean), chunk_size)]
    get_pipeline()  # built once here; forked workers inherit it
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        results = pool.map(_extract_chunk, chunks)
    return [r for chunk in results for r in chunk]
