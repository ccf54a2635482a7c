"""Regex parsers over a folded report (lower case, no accents, same offsets as the text).

Each parser returns :class:`Candidate` mentions with character offsets; the assembler
(:mod:`oncobase.nlp.extract`) chooses among them using sections and EDS-NLP qualifiers.
Pure functions: no spaCy here.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from oncobase.nlp.lexicon import GRADED_SUBTYPES, MORPHOLOGY_TERMS, SKIN_REGIONS
from oncobase.nlp.schema import fold

__all__ = ["Candidate", "find_candidates", "isup_from_gleason", "parse_number"]


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: str  # "tnm", "grade", "size", "nodes", "margin", "er", "pr", "her2", …
    start: int
    end: int
    value: Any
    rank: int = 0  # lower is better within a kind (e.g. histological size < macroscopic)


_NUM = r"(\d+(?:[.,]\d+)?)"
_PCT = r"(<\s*1|\d+(?:[.,]\d+)?)\s*%"
_WORDS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
    "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "aucun": 0, "aucune": 0,
}  # fmt: skip
_INT = r"(\d+|un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|aucun|aucune)"
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}


def _scan(regex: re.Pattern[str], low: str, gate: re.Pattern[str]) -> list[re.Match[str]]:
    """``regex.finditer`` restricted to the lines that contain ``gate`` (much faster)."""
    out: list[re.Match[str]] = []
    start = 0
    for line in low.split("\n"):
        if gate.search(line):
            out.extend(regex.finditer(low, start, start + len(line)))
        start += len(line) + 1
    return out


def parse_number(text: str) -> float:
    text = text.replace(" ", "")
    if text.startswith("<"):
        return 0.0
    return float(text.replace(",", "."))


def _int(text: str) -> int:
    return _WORDS[text] if text in _WORDS else int(text)


def isup_from_gleason(primary: int, secondary: int) -> int:
    """ISUP 2014 grade group from a Gleason pattern pair."""
    total = primary + secondary
    if total <= 6:
        return 1
    if total == 7:
        return 2 if primary <= 3 else 3
    return 4 if total == 8 else 5


# --------------------------------------------------------------------------------------
# TNM (on the original text: case matters for "pT2" vs words)
# --------------------------------------------------------------------------------------

_TNM_RE = re.compile(
    r"(?<![A-Za-z0-9])(?P<prefix>yp|py|p|c|yc|u|r|rp|a)\s?T\s?(?P<T>is|[0-4](?:[a-d][1-3]?)?(?:mi)?|x|a)"
    r"(?:\s*\((?:m|\d+|multi\w*)\))?"
    r"(?:(?:\s*[,;/]\s*|\s+et\s+|\s*-\s*|\s*)(?P<np>yp|p|c|u)?\s?N\s?(?P<N>[0-3x](?:mi|[a-c])?)"
    r"(?:\s*\((?:sn|i\+|i-|mol[+-]|\d+\s*/\s*\d+)\))*(?:\s?\((?P<n_counts>\d+\s*/\s*\d+)\))?)?"
    r"(?:\s*R\s?(?P<R_inline>[012x]))?"
    r"(?:(?:\s*[,;/]\s*|\s+et\s+|\s*)(?P<mp>yp|p|c)?\s?M\s?(?P<M>[01x][a-c]?))?"
    r"(?:\s*R\s?(?P<R>[012x]))?"
    r"(?![A-Za-z0-9])"
)
_TNM_SIZE_RE = re.compile(r"\((\d+)\s*/\s*(\d+)\)")


def _tnm(text: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in _TNM_RE.finditer(text):
        prefix = m.group("prefix").lower().replace("py", "yp")
        t = m.group("T").lower()
        if t == "a" and prefix not in ("p", "yp", "c"):
            continue
        value = {
            "prefix": prefix,
            "T": t,
            "N": m.group("N").lower() if m.group("N") else None,
            "M": m.group("M").lower() if m.group("M") else None,
        }
        out.append(Candidate("tnm", m.start(), m.end(), value))
        counts = _TNM_SIZE_RE.search(m.group(0))
        if counts:
            pos, exam = int(counts.group(1)), int(counts.group(2))
            if pos <= exam:
                out.append(Candidate("nodes", m.start(), m.end(), (pos, exam), rank=2))
        r_status = m.group("R") or m.group("R_inline")
        if r_status in ("0", "1", "2"):
            out.append(Candidate("margin", m.start(), m.end(), f"R{r_status}", rank=0))
    return out


# --------------------------------------------------------------------------------------
# Grade
# --------------------------------------------------------------------------------------

_GRADE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("na", r"grade\s*(?::\s*)?non (?:evaluable|evalue|applicable)|non gradable"),
    ("sbr", r"(?:grade\s+)?(?:histopronostique\s+)?(?:de\s+|d')?\(?(?:sbr(?:\s+modifie)?"
     r"|elston(?:\s*(?:et|-|&)\s*ellis)?|\bee|nottingham|scarff[- ]bloom[- ]richardson"
     r"|(?:de la\s+)?fnclcc)\)?\s*(?:modifie\s*)?:?\s*(?P<v>iii|ii|i|[1-3])\b"),
    ("sbr_after", r"\bgrade\s+(?P<v>iii|ii|i|[1-3])\s+(?:de\s+|d')?(?:(?:la\s+)?\(?fnclcc|sbr"
     r"|elston|nottingham)"),
    ("figo", r"grade\s+(?:figo|de la figo)\s*:?\s*(?P<v>[1-3])\b|\bde grade\s+(?P<v2>[1-3])\s+"
     r"(?:de la|selon la)\s+figo|\(figo\s+(?P<v3>[1-3])\)|\bfigo\s+grade\s+(?P<v4>[1-3])"),
    ("nuc", r"grade\s+(?:nucleaire\s+|nucleolaire\s+)?(?:isup/oms|oms/isup|isup|de fuhrman"
     r"|fuhrman|who/isup)\s*:?\s*(?P<v>[1-4])\b"),
    ("edm", r"(?:edmondson(?:[- ]steiner)?|grade\s+(?P<v2>iv|iii|ii|i|[1-4])\s+d'edmondson)"
     r"(?:\s*:?\s*(?P<v>iv|iii|ii|i|[1-4])\b)?"),
    ("cns", r"(?:cns\s+)?who\s+grade\s+(?P<v>[1-4])\b|\bgrade\s+(?P<v2>[1-4])\s+(?:oms|de l'oms"
     r"|selon l'oms|\(oms)|\bgrade\s+oms\s*:?\s*(?P<v3>[1-4])\b|\bgrade\s+(?P<v4>[1-4])"
     r"\s+\(oms 1973\)"),
    ("g", r"(?<![a-z0-9])g(?P<v>[1-4])\b"),
    ("tier", r"\bde (?P<v>haut|bas) grade\b|\bgrade\s*:?\s*(?P<v2>haut|bas)\b"
     r"|\b(?P<v3>high|low)[- ]grade\b"),
    ("diff", r"\b(?P<v>bien|moyennement|peu|tres peu|faiblement)\s+differencie"
     r"|\b(?P<v2>in|non )differencie"),
    ("plain", r"\bgrade\s*:?\s*(?P<v>iv|iii|ii|i|[1-4])\b(?!\s*(?:group|\+|/))"),
)  # fmt: skip
_GRADE_RE = re.compile("|".join(f"(?P<{k}>{p.replace('(?P<v', f'(?P<{k}_v')})"
                                for k, p in _GRADE_PATTERNS))  # fmt: skip
_GRADE_GATE = re.compile(r"grade|differenci|sbr|elston|nottingham|figo|edmondson|fnclcc|\bg[1-4]\b")
# a two-tier grade of a pre-invasive lesion ("lésion malpighienne intraépithéliale de haut
# grade", "carcinome in situ associé : oui, de haut grade") is not the tumour's grade
_PRE_INVASIVE = re.compile(
    r"(?:dysplasie|\bpin|lesion|neoplasie intra\w*|\bsil|in situ|intra-?epitheliale?s?"
    r"|\bcin)(?:(?!carcinome)[^.;\n]){0,30}$"
)
_DIFF = {"bien": "G1", "moyennement": "G2", "peu": "G3", "tres peu": "G3", "faiblement": "G3",
         "in": "G4", "non ": "G4"}  # fmt: skip


def _grade(low: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in _scan(_GRADE_RE, low, _GRADE_GATE):
        kind = m.lastgroup or ""
        kind = kind.split("_v")[0]
        groups = {k: v for k, v in m.groupdict().items() if v is not None and "_v" in k}
        raw = next(iter(groups.values()), None)
        value: str | None
        if kind == "na":
            value = "na"
        elif kind == "tier":
            value = "high" if raw in ("haut", "high") else "low"
        elif kind == "diff":
            value = _DIFF.get(raw or "")
        elif kind == "edm" and raw is None:
            continue
        elif raw is not None and raw in _ROMAN:
            value = f"G{_ROMAN[raw]}"
        else:
            continue
        if value is None:
            continue
        if kind == "tier" and _PRE_INVASIVE.search(low[max(0, m.start() - 45) : m.start()]):
            continue
        rank = {"diff": 1, "tier": 1, "g": 2, "plain": 3}.get(kind, 0)
        out.append(Candidate("grade", m.start(), m.end(), value, rank=rank))
    return out


# --------------------------------------------------------------------------------------
# Size
# --------------------------------------------------------------------------------------

_UNIT = r"\s*(mm|cm)\b"
_SIZE_RE = re.compile(
    r"(?P<histo>taille\s+(?:de\s+la\s+tumeur\s+|tumorale\s+)?\(?(?:histologique|microscopique)\)?"
    r"|taille (?:de la composante |du contingent )?(?:invasive|infiltrante?)|taille du reliquat"
    r"(?: tumoral)?|dont le plus grand (?:mesure|fait)"
    r"|plus grand foyer(?: tumoral)?(?: residuel)?\s*(?:mesure|de|:)?|foyers? residuels?"
    r"(?: de| mesurant)?|taille du plus grand foyer residuel|tumeur residuelle de)"
    r"\s*:?\s*(?:de\s+)?" + _NUM + _UNIT
    + r"|(?P<tumour>taille (?:de la tumeur|du foyer (?:index|principal|tumoral))|taille"
    r"(?: tumorale)?|tumeur(?: infiltrante)? mesurant|mesurant|mesure|s'etendant sur|etendue? sur"
    r"|diametre(?: tumoral)?|dimension|grand axe|infiltrant sur|de taille)\s*:?\s*(?:de\s+)?"
    + _NUM + r"(?:\s*(?:x|×)\s*" + _NUM + r")?(?:\s*(?:x|×)\s*" + _NUM + r")?" + _UNIT
    + r"|(?<![\d,.])" + _NUM + _UNIT
    + r"\s+(?P<axis>de (?:plus )?grand(?:e)? (?:axe|diametre|dimension)"
    r"|de grand axe)"
    + r"|(?P<lesion>(?:tumeur|lesion|masse|formation|nodule)\b[^.;:\n\d]{0,45}?\bde\s+"
    + _NUM + _UNIT
    + r"(?!\s*(?:x|×)))"
    + r"|(?<=, )(?P<appos>" + _NUM + _UNIT + r")(?=\s*(?:[,;)]|\.(?:\s|$)|$))"
    + r"|(?P<dims>(?<![\d,.])" + _NUM + r"\s*(?:x|×)\s*" + _NUM + r"(?:\s*(?:x|×)\s*" + _NUM
    + r")?" + _UNIT + r")"
)  # fmt: skip
_SIZE_EXCLUDE = re.compile(
    r"breslow|scanner|echograph|mammograph|irm\b|tdm|tep|radiolog|imagerie|ganglion|adenopathie"
    r"|carotte|biopsie|longueur|lit tumoral|fibreux|cicatri|marge|limite|distance|a \d+(?:[.,]\d+)?"
    r"\s*(?:mm|cm) de|fragment|epaisseur|nodule de .* au|piece|pesant|kyste|polype de|colle"
    r"|exerese (?:cutanee|de peau)|fuseau|lambeau|\blobe de|>\s*$"
)
_SIZE_AFTER_EXCLUDE = re.compile(
    r"^\s*(?:au scanner|a l'examen|a la palpation|a l'endoscopie|en endoscopie|a l'echo"
    r"|a l'irm|a la mammo|en imagerie|en echo|de la limite|de la marge"
    r"|des limites|de la berge|du bord|de la recoupe|de la tranche|au tdm|de profondeur"
    r"|d'epaisseur)"
)


_SIZE_GATE = re.compile(r"\d\s*(?:mm|cm)\b")


def _size(low: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in _scan(_SIZE_RE, low, _SIZE_GATE):
        groups = [g for g in m.groups() if g is not None and re.fullmatch(r"\d+(?:[.,]\d+)?", g)]
        unit_match = re.search(r"(mm|cm)\b(?!.*(?:mm|cm)\b)", m.group(0))
        if not groups or unit_match is None:
            continue
        unit = unit_match.group(1)
        values = [parse_number(g) * (10.0 if unit == "cm" else 1.0) for g in groups]
        before = low[max(0, m.start() - 45) : m.start()]
        before = before[max(before.rfind("."), before.rfind(";"), before.rfind("\n")) + 1 :]
        after = low[m.end() : m.end() + 25]
        if _SIZE_EXCLUDE.search(before + m.group(0)) or _SIZE_AFTER_EXCLUDE.search(after):
            if not m.group("histo"):
                continue
            if re.search(r"breslow|ganglion|carotte|lit tumoral", before + m.group(0)):
                continue
        if m.group("histo"):
            rank = 0
        elif m.group("dims"):
            rank = 3
        elif m.group("lesion") or m.group("appos"):
            rank = 2
        else:
            rank = 1
        out.append(Candidate("size", m.start(), m.end(), round(max(values), 1), rank=rank))
    return out


# --------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------

_POS_WORD = r"(?:metastatiques?|envahis?|positifs?|atteints?|tumoraux|metastases?)"
_NODES_RE = re.compile(
    r"(?P<a>" + _INT + r")\s*n\s*\+\s*/\s*(?P<b>\d+)"
    r"|(?P<c>" + _INT + r")\s+ganglions?(?:\s*\(s\))?(?:\s+lymphatiques?)?\s+" + _POS_WORD
    + r"(?:\s*\(s\))?(?:\s+sur\s+|\s*/\s*)(?P<d>\d+)"
    r"|(?P<e>\d+)\s+ganglions?(?:\s+lymphatiques?)?\s+(?:examines|preleves|isoles|analyses"
    r"|retrouves|identifies)(?:\s*[,;:]\s*|\s+)(?:dont|avec)\s+(?P<f>" + _INT + r")\s+"
    r"(?:" + _POS_WORD + r"|micrometastatiques?|siege d'une (?:micro)?metastase)"
    r"|(?P<g>\d+)\s+ganglions?(?:\s+lymphatiques?)?\s+(?:(?:examines|preleves|isoles|analyses)"
    r"\s*[,;]?\s*(?:tous\s+)?)?(?:indemnes|non envahis|sains|negatifs|sans metastase)"
    r"|(?:aucun|aucune|absence de)\s+(?:des\s+)?(?:metastase\s+ganglionnaire\s*\(0\s*/\s*"
    r"(?P<h>\d+)\)|(?P<i>\d+)\s+ganglions?\s+(?:n'est|examines|n'etait|preleves))"
    r"|(?P<j>\d+)\s*/\s*(?P<k>\d+)\s+ganglions?(?:\s+lymphatiques?)?\s*(?:\(s\))?\s*"
    + _POS_WORD
    + r"|(?P<l>" + _INT + r")\s+(?:ganglions?\s+)?(?:metastatiques?|envahis|positifs?)\s+"
    r"(?:sur|parmi)\s+(?P<m>\d+)(?:\s+ganglions?)?"
    r"|(?P<n>\d+)\s+ganglions?\s+(?:sentinelles?\s+)?(?:examines|preleves)?\s*:?\s*"
    r"(?:tous\s+)?(?:indemnes|negatifs)"
    r"|(?:ganglions?|curage)(?:\s+(?:sentinelles?|axillaires?|regionaux|du curage))?\s*:\s*"
    r"(?P<o>\d+)\s*/\s*(?P<p>\d+)(?!\s*(?:biopsies|carottes))"
    r"|(?:micro)?metastases?\b[^.;\n]{0,40}?\bsur\s+(?P<s>\d+|un)\s+ganglions?"
    r"(?:\s+\w+)?\s*/\s*(?P<t>\d+)"
    r"|(?P<u>" + _INT + r")\s+(?:macro|micro)?metastases?\s*(?:/|sur)\s*(?P<v>\d+)\s+ganglions?"
    r"|(?P<q>\d+)\s*/\s*(?P<r>\d+)\s+ganglions?(?:\s+\w+)?\s*(?:\(s\))?\s*"
    r"(?:du compartiment \w+|obturateurs?|sentinelles?|axillaires?|regionaux|examines)?"
)  # fmt: skip


_NODES_GATE = re.compile(r"ganglion|n\s*\+|adenopathie|curage")


def _nodes(low: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in _scan(_NODES_RE, low, _NODES_GATE):
        g = m.groupdict()
        pos: int | None = None
        exam: int | None = None
        if g["a"] is not None:
            pos, exam = _int(g["a"]), int(g["b"])
        elif g["c"] is not None:
            pos, exam = _int(g["c"]), int(g["d"])
        elif g["e"] is not None:
            pos, exam = _int(g["f"]), int(g["e"])
        elif g["g"] is not None:
            pos, exam = 0, int(g["g"])
        elif g["h"] is not None or g["i"] is not None:
            pos, exam = 0, int(g["h"] or g["i"])
        elif g["j"] is not None:
            pos, exam = int(g["j"]), int(g["k"])
        elif g["l"] is not None:
            pos, exam = _int(g["l"]), int(g["m"])
        elif g["n"] is not None:
            pos, exam = 0, int(g["n"])
        elif g["o"] is not None:
            pos, exam = int(g["o"]), int(g["p"])
        elif g["s"] is not None:
            pos, exam = _int(g["s"]), int(g["t"])
        elif g["u"] is not None:
            pos, exam = _int(g["u"]), int(g["v"])
        elif g["q"] is not None:
            pos, exam = int(g["q"]), int(g["r"])
        if pos is None or exam is None or pos > exam or exam == 0 or exam > 150:
            continue
        if re.search(r"biopsies?|carottes?|prelevements?", low[m.end() : m.end() + 15]):
            continue
        out.append(Candidate("nodes", m.start(), m.end(), (pos, exam), rank=0))
    out.extend(_summed_nodes(low, out))
    for m in re.finditer(r"absence de ganglion|aucun ganglion (?:n'a ete )?(?:identifie|retrouve|"
                         r"preleve|isole)|pas de ganglion (?:identifie|retrouve)",
                         low):  # fmt: skip
        out.append(Candidate("nodes", m.start(), m.end(), None, rank=1))
    return out


def _summed_nodes(low: str, counts: list[Candidate]) -> list[Candidate]:
    """Sentinel nodes then the completion dissection in one sentence ("ganglion sentinelle :
    1 macrométastase sur 2 ; au curage complémentaire, 2 ganglions envahis sur 11"): the
    two groups summed (3/13), preferred to either group alone."""
    out: list[Candidate] = []
    for a, b in itertools.pairwise(counts):
        between = low[a.end : b.start]
        if (
            len(between) <= 80
            and re.search(r"[.\n]", between) is None
            and re.search(r"\bcurage|\bevidement", between)
            and re.search(r"sentinel", low[max(0, a.start - 40) : a.end])
            and re.search(r"\b(?:soit|total|dont)\b", between) is None
        ):
            (pa, ea), (pb, eb) = a.value, b.value
            out.append(Candidate("nodes", a.start, b.end, (pa + pb, ea + eb), rank=-1))
    return out


# --------------------------------------------------------------------------------------
# Margins
# --------------------------------------------------------------------------------------

_MARGIN_WORDS: tuple[tuple[str, str], ...] = (
    ("R2", r"reliquat (?:tumoral )?macroscopique|residu (?:tumoral )?macroscopique|exerese"
     r" macroscopiquement incomplete|resection macroscopiquement incomplete"),
    ("R0", r"(?:limites?|marges?|berges?|recoupes?|tranches?)(?: de section| d'exerese| de "
     r"resection| chirurgicales?| circonferentielles?| [a-z]+(?:ale|ales|aire|ique|ee)s?)?"
     r"\s*:?\s+(?:sont\s+)?(?:saines?|non envahies?"
     r"|indemnes|libres|in sano)|exerese (?:complete|en zone saine)|en zone saine|in sano"
     r"|resection complete|marges? negatives?"),
    ("R1", r"(?:limites?|marges?|berges?|recoupes?|tranches?)(?: de section| d'exerese| de "
     r"resection| chirurgicales?| circonferentielles?)?\s*:?\s+(?:(?:est|sont)\s+)?(?:envahies?"
     r"|atteintes?|positives?|tumorales?|au contact)|(?:au )?contact (?:de la |avec la |des )?"
     r"(?:limite|marge|berge|recoupe|tranche)|exerese incomplete|resection incomplete"
     r"|marge nulle|limite (?:profonde |laterale )?(?:tumorale|envahie)"),
)  # fmt: skip
_MARGIN_RE = re.compile("|".join(f"(?P<{k}>{p})" for k, p in _MARGIN_WORDS))


_MARGIN_GATE = re.compile(
    r"limite|marge|berge|recoupe|tranche|exerese|resection|sano|reliquat"
    r"|residu|contact|zone saine"
)


def _margins(text: str, low: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in re.finditer(r"(?<![A-Za-z0-9])R\s?([012])(?![A-Za-z0-9%])", text):
        before = text[max(0, m.start() - 3) : m.start()]
        if re.search(r"[NMT][0-9x]?$", before):  # glued TNM handled there
            continue
        out.append(Candidate("margin", m.start(), m.end(), f"R{m.group(1)}", rank=0))
    for m in _scan(_MARGIN_RE, low, _MARGIN_GATE):
        status = m.lastgroup or "R0"
        before = low[max(0, m.start() - 12) : m.start()]
        if status == "R1" and re.search(r"(?:non|pas|sans)\s*$", before):
            status = "R0"
        out.append(Candidate("margin", m.start(), m.end(), status, rank=1))
    return out


# --------------------------------------------------------------------------------------
# Biomarkers
# --------------------------------------------------------------------------------------

_ER_CUE = (r"(?<![a-z0-9])(?:r\.?o\.?|r\.?e\.?|er|re\s?\+?|recepteurs?\s+(?:aux\s+|des\s+|a\s+l')?"
           r"(?:o?estrogenes?|oestrogeniques?)|o?estrogenes?)(?![a-z])")  # fmt: skip
_PR_CUE = (r"(?<![a-z])(?:r\.?p\.?|pr|rpg|recepteurs?\s+(?:a\s+la\s+|de\s+la\s+)?progesterone"
           r"|progesterone)(?![a-z])")  # fmt: skip
_STOP = r"(?:[;\n]|\bher\s?2|\bki|\bpd-?l1|\brp\b|\bro\b|\bre\b|progesterone|oestrogen)"


def _receptor(low: str, cue: str, kind: str, stop: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in re.finditer(cue, low):
        window = low[m.end() : m.end() + 90]
        cut = re.search(stop, window)
        if cut is not None:
            window = window[: cut.start()]
        pct = re.search(_PCT, window)
        if pct is not None:
            out.append(Candidate(kind, m.start(), m.end() + pct.end(), parse_number(pct.group(1))))
        elif re.match(r"\s*(?::\s*)?(?:negatifs?|negatives?|non exprimes?|\(?0\s*%|absents?)",
                      window):  # fmt: skip
            out.append(Candidate(kind, m.start(), m.end() + 8, 0.0, rank=1))
    return out


_ISH_NEXT = re.compile(r"\s*(?:(?:s|f|c|dd)?ish|hybridation in situ)\b")


def _her2(low: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in re.finditer(r"(?<![a-z])(?:her\s?-?2(?:/neu)?|c-?erb-?b2|erbb2)(?![a-z0-9])", low):
        window = low[m.end() : m.end() + 160]
        cut = re.search(r"[;\n]|\bki|\bpd-?l1|\bro\b|\brp\b|\bre\b|\.\s", window)
        clause = window[: cut.start()] if cut is not None else window
        if cut is not None and cut.group(0) == ";" and _ISH_NEXT.match(window, cut.end()):
            more = re.search(r"[;\n]|\bki|\bpd-?l1|\bro\b|\brp\b|\bre\b|\.\s", window[cut.end() :])
            clause = window[: cut.end() + more.start()] if more is not None else window
        ihc: str | None = None
        score = re.search(r"(?:score|ihc|immunohistochimie|cotation)?\s*:?\s*(?<![\d,])([0-3])"
                          r"\s*(\+|\s|$|\)|,)", clause)  # fmt: skip
        if score is not None and (score.group(2) == "+" or score.group(1) == "0"):
            ihc = "0" if score.group(1) == "0" else f"{score.group(1)}+"
        elif re.match(r"\s*(?::\s*)?(?:negatif|negative)\b", clause) and ihc is None:
            ihc = None
        ish: str | None = None
        if re.search(r"en cours|a suivre|a confirmer|demandee?|en attente|sera", clause):
            ish = None
        elif re.search(r"non amplifi|absence d'amplification|pas d'amplification|sans amplifi"
                       r"|ratio[^;]{0,20}<\s*2", clause):  # fmt: skip
            ish = "not amplified"
        elif re.search(r"amplifi|amplification", clause):
            ish = "amplified"
        if ihc is None and ish is None:
            continue
        out.append(Candidate("her2", m.start(), m.end() + len(clause), {"ihc": ihc, "ish": ish}))
    return out


def _ki67(low: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in re.finditer(r"(?<![a-z])(?:ki\s?-?67|mib-?1)(?![0-9])", low):
        window = low[m.end() : m.end() + 70]
        cut = re.search(r"[;\n]|\bher|\bro\b|\brp\b|\bpd-?l1", window)
        window = window[: cut.start()] if cut is not None else window
        pct = re.search(_PCT, window)
        if pct is None or re.search(r">\s*$", window[: pct.start()]):
            continue
        context = low[max(0, m.start() - 40) : m.end() + pct.end() + 50]
        if re.search(r"reactionnel|non tumoral|muqueuse saine|tissu sain|lymphocytes", context):
            continue
        out.append(Candidate("ki67", m.start(), m.end() + pct.end(), parse_number(pct.group(1))))
    return out


_MMR_RE = re.compile(
    r"(?P<p>\bpmmr\b|mmr\s*(?:proficient|conserve|normal|efficient)|proficient"
    r"|expression (?:nucleaire )?conservee des (?:4 |quatre )?proteines(?: mmr| de reparation)?"
    r"|expression (?:nucleaire )?conservee (?:de|des) (?:proteines |marqueurs )?(?:mlh1|msh2)"
    r"|absence de perte d'expression(?: des proteines)?(?: mmr| de (?:la )?reparation| de mlh1)?"
    r"|statut mmr\s*:?\s*(?:normal|conserve|proficient|pmmr)|pas de perte d'expression)"
    r"|(?P<d>\bdmmr\b|mmr\s*(?:deficient|defici)|deficient|deficience (?:du systeme )?mmr"
    r"|perte d'expression (?:nucleaire )?(?:de |des proteines |isolee de )?(?:mlh1|msh2|msh6|pms2)"
    r"|statut mmr\s*:?\s*deficient|(?:mlh1|msh2|msh6|pms2)[^;.\n]{0,30}(?:eteinte?s?|perdues?"
    r"|non exprimee?s?|negatif))"
)  # fmt: skip
_MSI_RE = re.compile(
    r"(?P<s>\bmss\b|microsatellites? stables?|stabilite microsatellitaire|absence d'instabilite"
    r"(?: des microsatellites| microsatellitaire)?|statut microsatellitaire\s*:?\s*stable)"
    r"|(?P<h>\bmsi-?h(?:igh)?\b|\bmsi\s+haut|instabilite (?:microsatellitaire|des microsatellites)"
    r"(?: de haut niveau)?|statut msi[^;\n]{0,25}msi-?h|phenotype msi\b|tumeur msi\b)"
)  # fmt: skip


_MMR_GATE = re.compile(
    r"mmr|mlh1|msh|pms2|microsatell|msi|mss|instabilit|reparation|proficient"
    r"|deficien"
)


def _mmr_msi(low: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in _scan(_MMR_RE, low, _MMR_GATE):
        status = "proficient" if m.group("p") else "deficient"
        if status == "deficient" and re.search(
            r"(?:absence de|pas de)\s*$", low[max(0, m.start() - 12) : m.start()]
        ):
            status = "proficient"
        out.append(Candidate("mmr", m.start(), m.end(), status))
    for m in _scan(_MSI_RE, low, _MMR_GATE):
        before = low[max(0, m.start() - 15) : m.start()]
        status = "MSS" if m.group("s") else "MSI-H"
        if status == "MSI-H" and re.search(r"(?:absence d'|pas d'|sans )\s*$", before):
            status = "MSS"
        out.append(Candidate("msi", m.start(), m.end(), status))
    return out


def _pdl1(low: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in re.finditer(r"\btps\b\s*(?:[:=]|de|a|estime a)?\s*" + _PCT, low):
        out.append(Candidate("tps", m.start(), m.end(), parse_number(m.group(1))))
    for m in re.finditer(r"pd-?l1[^;\n]{0,40}?(?:par|sur|dans)\s+" + _PCT
                         + r"\s+des cellules tumorales", low):  # fmt: skip
        out.append(Candidate("tps", m.start(), m.end(), parse_number(m.group(1)), rank=1))
    for m in re.finditer(r"(?:tumor proportion score|score de proportion tumorale)\s*:?\s*"
                         + _PCT, low):  # fmt: skip
        out.append(Candidate("tps", m.start(), m.end(), parse_number(m.group(1))))
    for m in re.finditer(r"\bcps\b(?:\s*\([^)]{0,30}\))?\s*(?:[:=]|de|a|estime a)?\s*"
                         r"(<\s*1|\d+(?:[.,]\d+)?)(?!\s*\+)", low):  # fmt: skip
        out.append(Candidate("cps", m.start(), m.end(), parse_number(m.group(1))))
    return out


_GENES = ("egfr", "kras", "nras", "braf", "alk", "ros1")
_GENE_RE = re.compile(r"(?<![a-z0-9])(egfr|kras|nras|braf|alk|ros-?1|ras)(?![a-z0-9])")
_LIST_GAP = re.compile(
    r"^[\s,:]*(?:(?:du|des|de|d'|sur|les|le)\s+)*(?:genes?\s+|hotspots?\s+)?"
    r"(?:(?:egfr|kras|nras|braf|alk|ros-?1|ras|her2|pik3ca|met|ret|ntrk)\s*(?:v600e?\s*)?"
    r"(?:,|et|ni|ou|/)?\s*)*$"
)
_NEG_CUE = re.compile(
    r"(?:absence de (?:mutation|variant|alteration|reamenagement|rearrangement|fusion"
    r"|translocation)"
    r"|pas de (?:mutation|variant|alteration|rearrangement|reamenagement|fusion|translocation)"
    r"|aucune? (?:mutation|variant|alteration|rearrangement|fusion)(?: pathogene)?"
    r"|non mute|sans mutation)s?(?: (?:detectee?s?|identifiee?s?|pathogenes?|activatrices?))?"
)  # fmt: skip
_VARIANT_RE = re.compile(r"(?<![A-Za-z0-9])(?:p\.\s?)?([ACDEFGHIKLMNPQRSTVWY]\d{1,4}"
                         r"(?:_[ACDEFGHIKLMNPQRSTVWY]\d{1,4})?(?:delins[A-Z]*|del|ins[A-Z]*|dup"
                         r"|fs\*?\d*|\*|[ACDEFGHIKLMNPQRSTVWY]))(?![a-z0-9])")  # fmt: skip


_WT_AFTER = re.compile(
    r"(?:\s*\([^)]{0,20}\))?[\s:()]*(?:sauvages?|wild[- ]?type|wt\b|non mute|statut sauvage"
    r"|absence de mutation|pas de mutation|negatif|negative|non rearrange"
    r"|absence de rearrangement|pas de rearrangement|normal|absence de (?:transcrit de )?fusion"
    r"|pas de (?:transcrit de )?fusion)"
)
# the technique before the result ("ALK : IHC (D5F3) négative")
_TECHNIQUE = re.compile(r"[\s:]*(?:ihc|fish|ngs|rna-?seq|immunohistochimie)\b")
# a list of genes sharing one result ("ALK et ROS1 non réarrangés")
_LIST_TAIL = re.compile(
    r"(?:\s*(?:,|et|ou|/)\s*(?:egfr|kras|nras|braf|alk|ros-?1|ras)(?![a-z0-9]))+"
)
_AMINO = {
    "ala": "A", "arg": "R", "asn": "N", "asp": "D", "cys": "C", "gln": "Q", "glu": "E",
    "gly": "G", "his": "H", "ile": "I", "leu": "L", "lys": "K", "met": "M", "phe": "F",
    "pro": "P", "ser": "S", "thr": "T", "trp": "W", "tyr": "Y", "val": "V", "ter": "*",
}  # fmt: skip
_AA3 = "|".join(a.capitalize() for a in _AMINO)
_VARIANT3_RE = re.compile(
    rf"p\.\s?\(?({_AA3})(\d{{1,4}})({_AA3}|\*|fs|del|dup)\)?(?![a-z0-9])", re.IGNORECASE
)


def _variant3(text: str) -> str | None:
    """A three-letter protein variant ("p.(Gly12Cys)") in one-letter form ("G12C")."""
    m = _VARIANT3_RE.search(text)
    if m is None:
        return None
    last = m.group(3).lower()
    return f"{_AMINO[m.group(1).lower()]}{m.group(2)}{_AMINO.get(last, last)}"


_MUTATION_BEFORE = re.compile(
    r"(?:mutation|variant)(?: pathogene)?(?: activatrice)?(?: (?:de |du gene |d'))?\s*$"
)
_FUSION_BEFORE = re.compile(
    r"(?:rearrangement|reamenagement|fusion|translocation)\s+(?:de |du gene |d')?\s*$"
)
_FUSION_AFTER = re.compile(r"[\s:()\w]{0,30}?(?:rearrang|reamenag|fusion|positi|transloqu)")
_MUTATION_AFTER = re.compile(
    r"[\s:()]*(?:exons?\s+\d+[\s,:]*)?(?:c\.[^\s;]+[\s,]*)?(?:mute|mutation|variant|p\."
    r"|[a-z]\d+[a-z]\b)"
)


def _genes(text: str, low: str) -> list[Candidate]:
    out: list[Candidate] = []
    mentions = list(_GENE_RE.finditer(low))
    for i, m in enumerate(mentions):
        name = m.group(1).replace("-", "")
        # the clause around the mention
        left = max(low.rfind(";", 0, m.start()), low.rfind("\n", 0, m.start()),
                   low.rfind(". ", 0, m.start()), 0)  # fmt: skip
        right_candidates = [p for p in (low.find(";", m.end()), low.find("\n", m.end()),
                                        low.find(". ", m.end())) if p >= 0]  # fmt: skip
        right = min(right_candidates) if right_candidates else len(low)
        nxt = next((x.start() for x in mentions[i + 1 :] if x.start() < right), right)
        after = low[m.end() : nxt]
        after_text = text[m.end() : nxt]
        before = low[left : m.start()]
        status: str | None = None
        variant: str | None = None
        neg_before = None
        for cue in _NEG_CUE.finditer(before):
            if _LIST_GAP.match(before[cue.end() :]):
                neg_before = cue
        fusion_gene = name in ("alk", "ros1")
        if re.match(r"\s*(?::\s*)?(?:amplifi|amplification|\(?amplif)", after) or re.search(
            r"amplification (?:de |du gene )?(?:l')?\s*$", before
        ):
            continue
        span_end = m.end() + len(after)
        tail = _LIST_TAIL.match(low, m.end())
        if tail is not None and tail.end() < right:
            # a coordinated list: the result follows the last gene
            after, span_end = low[tail.end() : right], right
        technique = _TECHNIQUE.match(after)
        if technique is not None and _WT_AFTER.match(after, technique.end()):
            after = after[technique.end() :]
        if neg_before is not None or _WT_AFTER.match(after):
            status = "not rearranged" if fusion_gene else "wild-type"
        elif _MUTATION_BEFORE.search(before):
            status = "mutated"
        elif fusion_gene and (_FUSION_BEFORE.search(before) or _FUSION_AFTER.match(after)):
            status = "rearranged"
        elif _MUTATION_AFTER.match(after):
            status = "mutated"
        if status is None:
            continue
        if status == "mutated":
            v = _VARIANT_RE.search(after_text[:60]) or _VARIANT_RE.search(
                text[left : m.start()][-25:]
            )
            variant = _variant3(after_text[:60]) or (v.group(1) if v else None)
        if name == "braf" and status == "wild-type":
            variant = None
        targets = ("kras", "nras") if name == "ras" else (name,)
        for target in targets:
            if target in _GENES:
                out.append(Candidate(target, m.start(), span_end,
                                     {"status": status, "variant": variant}))  # fmt: skip
    return out


_GLEASON_RE = re.compile(
    r"gleason\s*(?:score\s*)?(?:[:=]\s*)?(?:(?P<s1>\d{1,2})\s*\(\s*(?P<a1>[1-5])\s*\+\s*(?P<b1>[1-5])"
    r"\s*\)|(?P<a2>[1-5])\s*\+\s*(?P<b2>[1-5])(?:\s*=\s*\d{1,2})?)"
)  # fmt: skip
_ISUP_RE = re.compile(
    r"(?:groupe\s+(?:pronostique\s+)?(?:isup\s+)?|grade\s+group\s+|\bisup\s*(?:grade\s*|groupe\s*)?"
    r"(?:[:=]\s*)?|groupe de grade\s+|grade isup\s+)(?P<v>[1-5])\b"
)  # fmt: skip


def _gleason(low: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in _GLEASON_RE.finditer(low):
        a = int(m.group("a1") or m.group("a2"))
        b = int(m.group("b1") or m.group("b2"))
        out.append(Candidate("gleason", m.start(), m.end(), (a, b)))
    for m in _ISUP_RE.finditer(low):
        out.append(Candidate("isup", m.start(), m.end(), int(m.group("v"))))
    return out


# --------------------------------------------------------------------------------------
# Histological subtypes named after words between the generic term and the subtype
# ("carcinome épidermoïde infiltrant non kératinisant", "adénocarcinome gastrique de type
# intestinal", "astrocytome IDH-muté, grade 3"); skin regions
# --------------------------------------------------------------------------------------


def _subtype_pairs() -> list[tuple[str, str, str, str]]:
    """(generic term, modifier, generic code, subtype code) from the lexicon: a subtype term
    that is a generic term of the same behaviour followed by a modifier."""
    generic = {fold(t): code for code, terms in MORPHOLOGY_TERMS.items() for t in terms}
    pairs = set()
    for code, terms in MORPHOLOGY_TERMS.items():
        for term in map(fold, terms):
            for head, head_code in generic.items():
                if (head_code != code and head_code[-2:] == code[-2:]
                        and term.startswith(head + " ")):  # fmt: skip
                    pairs.add((head, term[len(head) + 1 :], head_code, code))
    return sorted(pairs, key=lambda x: (-len(x[0]), -len(x[1]), x))


def _words(term: str) -> str:
    return r"\s+".join(re.escape(w) for w in term.split())


_SUBTYPE_PAIRS = _subtype_pairs()
_MORPHOLOGY_WORDINGS = frozenset(fold(t) for terms in MORPHOLOGY_TERMS.values() for t in terms)
# per generic term: one anchored pattern (up to two words, then the longest modifier)
_SUBTYPE_HEADS: dict[str, list[tuple[re.Pattern[str], dict[str, tuple[str, str]]]]] = {}
for _head in sorted({h for h, *_ in _SUBTYPE_PAIRS}, key=len, reverse=True):
    _mods = {m: (g, c) for h, m, g, c in _SUBTYPE_PAIRS if h == _head}
    _pattern = re.compile(
        rf"{_words(_head)}(?:,?\s+[a-z0-9'-]+){{0,2}}?(?:,?\s+de\s+type)?,?\s+(?P<mod>"
        + "|".join(_words(m) for m in sorted(_mods, key=len, reverse=True))
        + r")(?![a-z])"
    )
    _SUBTYPE_HEADS.setdefault(_head.split()[0], []).append((_pattern, _mods))
_SUBTYPE_START = re.compile(
    r"(?<![a-z])(?:"
    + "|".join(sorted(map(re.escape, _SUBTYPE_HEADS), key=len)[::-1])
    + r")(?![a-z])"
)
_GRADED_HEADS = {fold(t): code for code in GRADED_SUBTYPES for t in MORPHOLOGY_TERMS.get(code, ())}
_GRADED_RE = re.compile(
    r"(?<![a-z])(?P<head>" + "|".join(_words(h) for h in sorted(_GRADED_HEADS, key=len)[::-1])
    + r")(?![a-z])[^.;:\n]{0,40}?\bgrade\s*(?:oms\s*|who\s*)?:?\s*(?P<g>iv|iii|ii|i|[1-4])\b"
)  # fmt: skip
_SKIN_TERMS = {fold(t): code for code, terms in SKIN_REGIONS.items() for t in terms}
_SKIN_RE = re.compile(
    r"(?<![a-z-])(?:"
    + "|".join(_words(t) for t in sorted(_SKIN_TERMS, key=len)[::-1])
    + r")(?![a-z-])"
)


def _subtypes(low: str) -> list[Candidate]:
    out: list[Candidate] = []
    for start in _SUBTYPE_START.finditer(low):
        for pattern, mods in _SUBTYPE_HEADS[start.group(0)]:
            m = pattern.match(low, start.start())
            # a contiguous lexicon term is the histology matcher's already
            if m is not None and re.sub(r"\s+", " ", m.group(0)) not in _MORPHOLOGY_WORDINGS:
                head_code, code = mods[re.sub(r"\s+", " ", m.group("mod"))]
                out.append(Candidate("subtype", m.start(), m.end(), (head_code, code)))
    if _GRADED_HEADS:
        for m in _GRADED_RE.finditer(low):
            head_code = _GRADED_HEADS[re.sub(r"\s+", " ", m.group("head"))]
            graded = GRADED_SUBTYPES[head_code].get(_ROMAN[m.group("g")])
            if graded is not None:
                out.append(Candidate("subtype", m.start(), m.end(), (head_code, graded)))
    return out


def _skin(low: str) -> list[Candidate]:
    return [
        Candidate("skin", m.start(), m.end(), _SKIN_TERMS[re.sub(r"\s+", " ", m.group(0))])
        for m in _SKIN_RE.finditer(low)
    ]


_NON_INVASIVE_RE = re.compile(r"\bnon[- ](?:invasi(?:f|ve)s?|infiltrante?s?)(?![a-z])")


# words that make "non infiltrant" describe another component ("carcinome canalaire
# infiltrant avec composante in situ non infiltrante")
_OTHER_COMPONENT = re.compile(r"avec|associe|composante|contingent|in situ|\bet\b|\bcis\b|\bdont\b")


def _non_invasive(low: str) -> list[Candidate]:
    """ "non invasif" / "non infiltrant" (the assembler reads it right after a histology)."""
    if "non" not in low:
        return []
    return [
        Candidate("noninvasive", m.start(), m.end(), True)
        for m in _NON_INVASIVE_RE.finditer(low)
        if _OTHER_COMPONENT.search(low, max(0, m.start() - 40), m.start()) is None
    ]


def find_candidates(text: str, low: str) -> list[Candidate]:
    """Every candidate mention in ``text`` (``low`` = ``fold(text)``)."""
    found: list[Candidate] = []
    found += _tnm(text)
    found += _grade(low)
    found += _size(low)
    found += _nodes(low)
    found += _margins(text, low)
    found += _receptor(low, _ER_CUE, "er", _STOP)
    found += _receptor(low, _PR_CUE, "pr", _STOP)
    found += _her2(low)
    found += _ki67(low)
    found += _mmr_msi(low)
    found += _pdl1(low)
    found += _genes(text, low)
    found += _gleason(low)
    found += _subtypes(low)
    found += _skin(low)
    found += _non_invasive(low)
    return found
