"""The pathology-lab feed: French anatomo-cytopathology reports in free text, with a gold JSON.

One report per truth specimen, written by the specimen's lab to
``feeds/pathology/<LABxx>/reports.ndjson`` (one JSON object a line: the lab's identity
envelope from its ``source_records`` row, the specimen's metadata and the ``text``), and one
gold object per report to ``truth/pathology_gold.ndjson`` (``report_id`` plus exactly the
keys of ``PATHOLOGY_SCHEMA.md``).

How the text and the gold agree: each report is first reduced to *facts* (what will be
written: the site wording and its code, the histology wording and its code, the grade
wording and its grade, the stage, size, nodes, margins, biomarkers). The gold is built from
those facts only, and the text renders every fact, so a truth attribute the chosen template
does not write (a grade left out, a biomarker "cf. biopsie") is null in the gold, and a
less specific wording ("poumon droit" for a truth C34.1) gives the less specific code.

Distractors written on purpose, never in the gold: antecedent cancers and family history in
the clinical information, negated findings ("absence d'emboles"), excluded hypotheses
("un lymphome est à éliminer" … "absence d'argument pour un lymphome"), clinical or
echo-endoscopic staging quoted before a pathological stage, imaging sizes, macroscopic sizes
beside the histological one, the tumour bed after neoadjuvant treatment, Breslow thickness,
prostate core counts and tumour lengths, EGFR amplification in glioblastoma, ``RO``/``RP``
(hormone receptors) beside ``R0`` margins. Biomarkers quoted from the initial biopsy in a
post-neoadjuvant resection *are* gold, as the schema says. A clinical stage quoted in a
biopsy report (no pathological stage exists) is gold with prefix ``c``.

Extra non-cancer reports: for a share (``benign_share``) of biopsy specimens the lab also
sends an earlier benign or suspicious-but-not-diagnostic report (ASAP, B3, dysplasia,
"cellules atypiques") of the same person, 2 to 10 weeks before the specimen, with its own
``report_id`` (``…A``) and ``specimen_id`` (``…-PRE``); its gold has ``cancer`` false and
every other key null.

Deterministic: the chunk's random stream is derived from ``(seed, chunk.index)``, so the
same chunk and seed give the same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from oncobase.nlp.schema import SCHEMA_KEYS
from oncobase.synth.capture import OUTSIDE_NAMES
from oncobase.synth.schema import FACILITIES, LAYOUT, TruthChunk

__all__ = [
    "GOLD_KEYS",
    "STYLES",
    "PathologyFeedWriter",
    "RenderedReport",
    "format_number",
    "format_percent",
    "format_size",
    "isup_from_gleason",
    "report_family",
    "specimen_identifier",
]

# The gold follows the extraction's output schema (PATHOLOGY_SCHEMA.md): one definition.
GOLD_KEYS: tuple[str, ...] = SCHEMA_KEYS

STYLES: tuple[str, ...] = ("classic", "synoptic", "compact", "narrative")

_SALT = 0x5A7B0  # separates this feed's random stream from the other writers'


# --------------------------------------------------------------------------------------
# Numbers as a French pathologist writes them
# --------------------------------------------------------------------------------------


def format_number(value: float, *, sep: str = ",", decimals: int = 1) -> str:
    """``12.0`` → ``"12"``, ``2.5`` → ``"2,5"``: at most ``decimals`` decimals, no trailing 0."""
    text = f"{round(value, decimals):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.replace(".", sep)


def format_size(mm: float, *, unit: str = "mm", sep: str = ",") -> tuple[str, float]:
    """A size written in mm or cm, and the gold value in mm (rounded to 0.1 mm).

    Centimetres are written with up to two decimals, so that the written value converts
    back to the gold millimetres exactly.
    """
    gold = round(mm, 1)
    if unit == "cm":
        return f"{format_number(gold / 10, sep=sep, decimals=2)} cm", gold
    return f"{format_number(gold, sep=sep)} mm", gold


def format_percent(pct: float, *, style: int = 0, sep: str = ",") -> tuple[str, float]:
    """A percentage of stained cells and its gold value (``< 1 %`` → 0, per the schema)."""
    if pct < 1:
        return ("< 1 %", "0 %", "<1%")[style % 3], 0.0
    gold = round(pct, 1)
    num = format_number(gold, sep=sep)
    return (f"{num} %", f"{num} %", f"{num}%")[style % 3], gold


def isup_from_gleason(primary: int, secondary: int) -> int:
    """ISUP 2014 grade group from a Gleason pattern pair."""
    score = primary + secondary
    if score <= 6:
        return 1
    if score == 7:
        return 2 if primary <= 3 else 3
    if score == 8:
        return 4
    return 5


def specimen_identifier(specimen_key: int) -> str:
    """The specimen number a lab and a hospital both know (the truth key, formatted)."""
    return f"SP{specimen_key:010d}"


# --------------------------------------------------------------------------------------
# Vocabulary: site wordings → ICD-O-3 topography, histology wordings → morphology
# --------------------------------------------------------------------------------------

# Phrases carry their definite article (for "du"/"de la" forms); placeholders:
# {lat} droit/gauche, {latf} droite/gauche, {L} D/G.
_TOPO: dict[str, tuple[str, ...]] = {
    # breast
    "C50.0": ("le mamelon du sein {lat}", "la région mamelonnaire du sein {lat}"),
    "C50.1": ("la région centrale du sein {lat}", "la région rétro-aréolaire du sein {lat}"),
    "C50.2": ("le quadrant supéro-interne du sein {lat}", "le QSI du sein {lat}"),
    "C50.3": ("le quadrant inféro-interne du sein {lat}", "le QII du sein {lat}"),
    "C50.4": ("le quadrant supéro-externe du sein {lat}", "le QSE du sein {lat}"),
    "C50.5": ("le quadrant inféro-externe du sein {lat}", "le QIE du sein {lat}"),
    "C50.6": ("le prolongement axillaire du sein {lat}",),
    "C50.8": (
        "l'union des quadrants externes du sein {lat}",
        "l'UQE du sein {lat}",
        "l'union des quadrants supérieurs du sein {lat}",
        "l'union des quadrants internes du sein {lat}",
    ),
    "C50.9": ("le sein {lat}",),
    # digestive
    "C15.3": ("le tiers supérieur de l'œsophage", "l'œsophage thoracique supérieur"),
    "C15.4": ("le tiers moyen de l'œsophage", "l'œsophage thoracique moyen"),
    "C15.5": ("le tiers inférieur de l'œsophage", "le bas œsophage"),
    "C15.9": ("l'œsophage", "l'oesophage"),
    "C16.0": ("le cardia", "la jonction œso-gastrique"),
    "C16.1": ("le fundus gastrique",),
    "C16.2": ("le corps gastrique", "le corps de l'estomac"),
    "C16.3": ("l'antre gastrique", "l'antre"),
    "C16.4": ("le pylore",),
    "C16.5": ("la petite courbure gastrique",),
    "C16.6": ("la grande courbure gastrique",),
    "C16.9": ("l'estomac",),
    "C17.9": ("l'intestin grêle",),
    "C18.0": ("le caecum", "le cæcum"),
    "C18.1": ("l'appendice",),
    "C18.2": ("le côlon ascendant", "le côlon droit"),
    "C18.3": ("l'angle colique droit", "l'angle hépatique du côlon"),
    "C18.4": ("le côlon transverse",),
    "C18.5": ("l'angle colique gauche", "l'angle splénique du côlon"),
    "C18.6": ("le côlon descendant", "le côlon gauche"),
    "C18.7": ("le côlon sigmoïde", "le sigmoïde"),
    "C18.9": ("le côlon",),
    "C19.9": ("la jonction recto-sigmoïdienne", "la charnière recto-sigmoïdienne"),
    "C20.9": ("le rectum", "le haut rectum", "le moyen rectum", "le bas rectum"),
    "C21.0": ("l'anus",),
    "C21.1": ("le canal anal",),
    "C22.0": ("le foie",),
    "C22.1": ("les voies biliaires intra-hépatiques",),
    "C23.9": ("la vésicule biliaire",),
    "C24.0": ("la voie biliaire principale", "le cholédoque"),
    "C25.0": ("la tête du pancréas", "la tête pancréatique"),
    "C25.1": ("le corps du pancréas", "le corps pancréatique"),
    "C25.2": ("la queue du pancréas", "la queue pancréatique"),
    "C25.9": ("le pancréas",),
    # thorax
    "C33.9": ("la trachée",),
    "C34.0": ("la bronche souche {latf}",),
    "C34.1": ("le lobe supérieur {lat}", "le LS{L}"),
    "C34.2": ("le lobe moyen",),
    "C34.3": ("le lobe inférieur {lat}", "le LI{L}"),
    "C34.9": ("le poumon {lat}",),
    "C37.9": ("le thymus",),
    "C38.4": ("la plèvre", "la plèvre pariétale {latf}"),
    "C48.0": ("le rétropéritoine",),
    "C48.2": ("le péritoine",),
    # head and neck
    "C00.9": ("la lèvre",),
    "C01.9": ("la base de langue",),
    "C02.1": ("le bord latéral de la langue",),
    "C02.9": ("la langue mobile", "la langue"),
    "C04.9": ("le plancher buccal", "le plancher de la bouche"),
    "C06.9": ("la cavité buccale",),
    "C08.9": ("la glande salivaire principale", "la glande sous-mandibulaire {latf}"),
    "C07.9": ("la glande parotide {latf}",),
    "C09.9": ("l'amygdale {latf}", "la loge amygdalienne {latf}"),
    "C10.9": ("l'oropharynx",),
    "C11.9": ("le cavum", "le nasopharynx"),
    "C13.9": ("l'hypopharynx",),
    "C32.0": ("la glotte", "la corde vocale {latf}"),
    "C32.1": ("la région sus-glottique", "l'étage sus-glottique"),
    "C32.9": ("le larynx",),
    # skin (melanoma)
    "C44.3": ("la peau de la joue {latf}", "la peau du front", "la peau du nez"),
    "C44.4": ("le cuir chevelu", "la peau du cou"),
    "C44.5": ("la peau du dos", "la peau du tronc", "la peau de la paroi abdominale"),
    "C44.6": ("la peau du bras {lat}", "la peau de l'avant-bras {lat}", "la peau de l'épaule"),
    "C44.7": ("la peau de la jambe {latf}", "la peau de la cuisse {latf}", "la plante du pied"),
    "C44.9": ("la peau",),
    # genito-urinary
    "C53.0": ("l'endocol",),
    "C53.1": ("l'exocol",),
    "C53.9": ("le col utérin", "le col de l'utérus"),
    "C54.1": ("l'endomètre",),
    "C54.9": ("le corps utérin",),
    "C55.9": ("l'utérus",),
    "C56.9": ("l'ovaire {lat}",),
    "C57.0": ("la trompe utérine {latf}",),
    "C61.9": ("la prostate",),
    "C62.1": ("le testicule descendu {lat}",),
    "C62.9": ("le testicule {lat}",),
    "C64.9": ("le rein {lat}",),
    "C65.9": ("le bassinet {lat}",),
    "C66.9": ("l'uretère {lat}",),
    "C67.0": ("le trigone vésical",),
    "C67.2": ("la paroi latérale de la vessie", "la face latérale {latf} de la vessie"),
    "C67.3": ("la paroi antérieure de la vessie",),
    "C67.4": ("la paroi postérieure de la vessie",),
    "C67.5": ("le col vésical",),
    "C67.8": ("la vessie (lésion étendue à plusieurs faces)",),
    "C67.9": ("la vessie",),
    # other solid
    "C49.9": ("les tissus mous",),
    "C71.0": ("l'hémisphère cérébral {lat}",),
    "C71.1": ("le lobe frontal {lat}",),
    "C71.2": ("le lobe temporal {lat}",),
    "C71.3": ("le lobe pariétal {lat}",),
    "C71.4": ("le lobe occipital {lat}",),
    "C71.6": ("le cervelet",),
    "C71.9": ("l'encéphale",),
    "C73.9": ("la thyroïde", "le lobe thyroïdien {lat}"),
    "C74.9": ("la glande surrénale {latf}", "la surrénale {latf}"),
    "C80.9": ("un site primitif inconnu",),
    # lymph nodes, marrow
    "C42.1": ("la moelle osseuse",),
    "C42.2": ("la rate",),
    "C77.0": ("le ganglion cervical {lat}", "l'adénopathie cervicale {latf}"),
    "C77.1": ("le ganglion médiastinal", "l'adénopathie médiastinale"),
    "C77.2": ("le ganglion mésentérique", "l'adénopathie rétropéritonéale"),
    "C77.3": ("le ganglion axillaire {lat}", "l'adénopathie axillaire {latf}"),
    "C77.4": ("le ganglion inguinal {lat}", "l'adénopathie inguinale {latf}"),
    "C77.5": ("le ganglion iliaque {lat}",),
    "C77.8": ("les ganglions de plusieurs territoires, cervical et axillaire",),
    "C77.9": ("le ganglion lymphatique",),
}

# Histology wordings by code; an entry may imply a grade (the wording states it).
_Morph = tuple[str, str | None]
_MORPH: dict[str, tuple[_Morph, ...]] = {
    "8000/3": (("tumeur maligne", None), ("néoplasme malin", None)),
    "8010/3": (("carcinome", None), ("carcinome SAI", None)),
    "8012/3": (("carcinome à grandes cellules", None),),
    "8013/3": (("carcinome neuroendocrine à grandes cellules", None),),
    "8020/3": (("carcinome indifférencié", "G4"),),
    "8021/3": (("carcinome anaplasique", None),),
    "8041/3": (
        ("carcinome à petites cellules", None),
        ("carcinome neuroendocrine à petites cellules", None),
    ),
    "8046/3": (("carcinome non à petites cellules", None), ("CBNPC sans autre précision", None)),
    "8070/3": (("carcinome épidermoïde", None), ("carcinome épidermoïde infiltrant", None)),
    "8071/3": (("carcinome épidermoïde kératinisant", None),),
    "8072/3": (("carcinome épidermoïde non kératinisant", None),),
    "8083/3": (("carcinome épidermoïde basaloïde", None),),
    "8120/3": (("carcinome urothélial infiltrant", None), ("carcinome urothélial", None)),
    "8130/3": (("carcinome urothélial papillaire infiltrant", None),),
    "8140/3": (("adénocarcinome", None), ("ADK", None), ("adénocarcinome infiltrant", None)),
    "8144/3": (
        ("adénocarcinome de type intestinal", None),
        ("adénocarcinome de type intestinal de Lauren", None),
    ),
    "8145/3": (
        ("carcinome de type diffus", None),
        ("adénocarcinome de type diffus de Lauren", None),
    ),
    "8160/3": (("cholangiocarcinome", None), ("cholangiocarcinome intra-hépatique", None)),
    "8170/3": (("carcinome hépatocellulaire", None), ("CHC", None)),
    "8211/3": (("carcinome tubuleux", None),),
    "8240/3": (("tumeur carcinoïde typique", None), ("carcinoïde typique", None)),
    "8246/3": (("carcinome neuroendocrine", None),),
    "8250/3": (
        ("adénocarcinome à prédominance lépidique", None),
        ("adénocarcinome non mucineux à prédominance lépidique", None),
    ),
    "8260/3": (("carcinome papillaire", None),),
    "8310/3": (("carcinome à cellules claires", None),),
    "8312/3": (("carcinome à cellules rénales", None), ("carcinome rénal SAI", None)),
    "8317/3": (("carcinome chromophobe", None), ("carcinome rénal chromophobe", None)),
    "8330/3": (("carcinome vésiculaire", None), ("carcinome folliculaire", None)),
    "8340/3": (("carcinome papillaire, variante vésiculaire", None),),
    "8345/3": (("carcinome médullaire", None),),
    "8380/3": (("adénocarcinome endométrioïde", None), ("carcinome endométrioïde", None)),
    "8441/3": (("carcinome séreux", None),),
    "8460/3": (("carcinome séreux de bas grade", "low"),),
    "8461/3": (
        ("carcinome séreux de haut grade", "high"),
        ("carcinome séreux papillaire de haut grade", "high"),
    ),
    "8480/3": (
        ("adénocarcinome mucineux", None),
        ("carcinome mucineux", None),
        ("adénocarcinome colloïde muqueux", None),
    ),
    "8490/3": (
        ("carcinome à cellules indépendantes", None),
        ("carcinome à cellules en bague à chaton", None),
    ),
    "8500/3": (("carcinome canalaire infiltrant", None),),
    "8520/3": (("carcinome lobulaire infiltrant", None), ("CLI", None)),
    "8522/3": (
        ("carcinome canalaire et lobulaire infiltrant", None),
        ("carcinome infiltrant mixte canalaire et lobulaire", None),
    ),
    "8560/3": (("carcinome adénosquameux", None),),
    "8720/3": (("mélanome", None), ("mélanome malin", None)),
    "8721/3": (("mélanome nodulaire", None),),
    "8742/3": (("mélanome de Dubreuilh", None), ("mélanome de type lentigo malin", None)),
    "8743/3": (
        ("mélanome à extension superficielle", None),
        ("mélanome superficiel extensif (SSM)", None),
    ),
    "8744/3": (("mélanome acral lentigineux", None),),
    "8800/3": (("sarcome", None), ("sarcome SAI", None)),
    "8890/3": (("léiomyosarcome", None),),
    "8980/3": (("carcinosarcome", None),),
    "9050/3": (("mésothéliome malin", None), ("mésothéliome pleural malin", None)),
    "9051/3": (("mésothéliome sarcomatoïde", None),),
    "9052/3": (("mésothéliome épithélioïde", None), ("mésothéliome malin épithélioïde", None)),
    "9053/3": (("mésothéliome biphasique", None),),
    "9061/3": (("séminome", None), ("séminome classique", None)),
    "9070/3": (("carcinome embryonnaire", None),),
    "9085/3": (("tumeur germinale mixte", None),),
    "9380/3": (("gliome malin", None),),
    "9400/3": (("astrocytome", None), ("astrocytome diffus", None)),
    "9401/3": (("astrocytome anaplasique", None),),
    "9440/3": (("glioblastome", None), ("glioblastome, IDH non muté", None)),
    "9450/3": (("oligodendrogliome", None),),
    "9591/3": (("lymphome non hodgkinien", None), ("lymphome malin non hodgkinien", None)),
    "9650/3": (("lymphome de Hodgkin classique", None),),
    "9652/3": (("lymphome de Hodgkin classique, type cellularité mixte", None),),
    "9659/3": (("lymphome de Hodgkin nodulaire à prédominance lymphocytaire", None),),
    "9663/3": (
        ("lymphome de Hodgkin classique, type scléro-nodulaire", None),
        ("lymphome de Hodgkin scléro-nodulaire", None),
    ),
    "9673/3": (("lymphome à cellules du manteau", None),),
    "9680/3": (("lymphome B diffus à grandes cellules", None), ("LBDGC", None)),
    "9690/3": (("lymphome folliculaire", None),),
    "9699/3": (("lymphome B de la zone marginale", None),),
    "9702/3": (("lymphome T périphérique", None),),
    "9732/3": (("myélome multiple", None), ("myélome", None)),
    "9811/3": (("leucémie aiguë lymphoblastique B", None),),
    "9823/3": (("leucémie lymphoïde chronique", None),),
    "9861/3": (("leucémie aiguë myéloïde", None),),
    "9866/3": (("leucémie aiguë promyélocytaire", None),),
    "9875/3": (("leucémie myéloïde chronique BCR-ABL positive", None),),
    "9891/3": (("leucémie aiguë monoblastique", None),),
    "9945/3": (("leucémie myélomonocytaire chronique", None),),
}

# Site-specific wordings (searched first).
_MORPH_SITE: dict[tuple[str, str], tuple[_Morph, ...]] = {
    ("breast", "8500/3"): (
        ("carcinome infiltrant de type non spécifique (NST)", None),
        ("carcinome canalaire infiltrant", None),
        ("carcinome mammaire infiltrant de type NST", None),
        ("CCI", None),
    ),
    ("breast", "8480/3"): (("carcinome mucineux", None), ("carcinome colloïde muqueux", None)),
    ("colorectal", "8140/3"): (
        ("adénocarcinome lieberkühnien", None),
        ("adénocarcinome", None),
        ("ADK lieberkühnien", None),
    ),
    ("pancreas", "8500/3"): (
        ("adénocarcinome canalaire", None),
        ("adénocarcinome canalaire pancréatique", None),
        ("ADK canalaire", None),
    ),
    ("pancreas", "8240/3"): (("tumeur neuroendocrine", None), ("TNE", None)),
    ("prostate", "8140/3"): (
        ("adénocarcinome prostatique de type acinaire", None),
        ("adénocarcinome acinaire", None),
        ("adénocarcinome", None),
    ),
    ("kidney", "8260/3"): (("carcinome papillaire", None), ("carcinome rénal papillaire", None)),
    ("kidney", "8310/3"): (
        ("carcinome à cellules claires", None),
        ("carcinome rénal à cellules claires", None),
    ),
    ("thyroid", "8260/3"): (
        ("carcinome papillaire", None),
        ("carcinome papillaire thyroïdien", None),
    ),
    ("thyroid", "8020/3"): (("carcinome anaplasique (indifférencié)", "G4"),),
    ("lung", "8140/3"): (
        ("adénocarcinome", None),
        ("ADK", None),
        ("adénocarcinome pulmonaire", None),
    ),
}

# Histologies never given a separate grade (ungraded or graded by definition).
_NO_GRADE_MORPH = frozenset(
    {"8041/3", "8012/3", "8013/3", "8441/3", "8980/3", "8490/3", "8145/3", "8000/3", "8021/3"}
)


def _article_forms(phrase: str) -> tuple[str, str]:
    """(bare, de-form) of a phrase carrying its article: "le sein" → ("sein", "du sein")."""
    for art, de in (("le ", "du "), ("la ", "de la "), ("l'", "de l'"), ("les ", "des ")):
        if phrase.startswith(art):
            return phrase[len(art) :], de + phrase[len(art) :]
    if phrase.startswith("un "):
        return phrase[3:], "d'" + phrase
    return phrase, "de " + phrase


_TOPO_FORMS: dict[str, tuple[tuple[str, str], ...]] = {
    code: tuple(_article_forms(p) for p in phrases) for code, phrases in _TOPO.items()
}

_VOWELS = frozenset("aeiouyàâéèêëîïôöûüœhAEIOUYÉÈÊÀÂÎÔŒH")


def _d(word: str) -> str:
    """ "de" + word with elision: "d'adénocarcinome", "de carcinome"."""
    return ("d'" if word[0] in _VOWELS else "de ") + word


# --------------------------------------------------------------------------------------
# Site families: which templates, grading system and distractors a report uses
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Family:
    grade_system: str | None
    biopsy: tuple[str, ...]
    resection: tuple[str, ...]
    cytology: tuple[str, ...]
    clinical: tuple[str, ...]
    negations: tuple[str, ...]
    staged: bool = True
    sized: bool = True
    clinical_stage: bool = False  # clinical TNM usually quoted before treatment
    benign: tuple[tuple[str, str, str], ...] = ()


_GENERIC_BENIGN = (
    (
        "Biopsies {de_site}",
        "Remaniements inflammatoires chroniques sans atypie cytonucléaire.",
        "Absence de lésion tumorale maligne sur ce prélèvement.",
    ),
    (
        "Biopsies {de_site}",
        "Atypies cellulaires d'interprétation difficile sur ce matériel limité et remanié.",
        "Lésion atypique de signification indéterminée ; une néoplasie ne peut être "
        "formellement éliminée. Un nouveau prélèvement est souhaitable.",
    ),
)

_FAMILIES: dict[str, _Family] = {
    "breast": _Family(
        grade_system="sbr",
        biopsy=(
            "Macrobiopsies {de_site} sous échographie",
            "Biopsies percutanées {de_site} (3 carottes)",
            "Microbiopsies {de_site}",
            "Macrobiopsies sous stéréotaxie {de_site}",
        ),
        resection=(
            "Tumorectomie {de_site} avec ganglion sentinelle",
            "Pièce de mastectomie (lésion {de_site}) et curage axillaire",
            "Zonectomie {de_site}",
            "Tumorectomie orientée {de_site}",
        ),
        cytology=("Cytoponction d'un nodule {de_site}",),
        clinical=(
            "Nodule {de_site} classé ACR 5.",
            "Opacité stellaire {de_site} de {img} mm à la mammographie.",
            "Masse palpable {de_site}, {img} mm à l'échographie.",
            "Dépistage organisé : lésion ACR 5 {de_site}.",
        ),
        negations=(
            "Absence d'emboles vasculaires.",
            "Pas d'engainement périnerveux.",
            "Absence de composante intracanalaire associée.",
            "Absence de microcalcifications.",
        ),
        clinical_stage=True,
        benign=(
            (
                "Macrobiopsies {de_site}",
                "Remaniements de mastopathie fibrokystique avec adénose. Absence d'atypie.",
                "Mastopathie fibrokystique bénigne (B2), sans lésion tumorale maligne.",
            ),
            (
                "Macrobiopsies {de_site}",
                "Prolifération canalaire atypique de faible étendue.",
                "Hyperplasie canalaire atypique (lésion B3). Une exérèse chirurgicale est "
                "conseillée pour éliminer un carcinome associé.",
            ),
        ),
    ),
    "colorectal": _Family(
        grade_system="diff",
        biopsy=(
            "Biopsies {de_site} (coloscopie)",
            "Biopsies d'une lésion bourgeonnante {de_site}",
            "Coloscopie : biopsies {de_site}",
        ),
        resection=(
            "Pièce d'exérèse {de_site} et mésocôlon/mésorectum",
            "Résection segmentaire {de_site}",
            "Pièce opératoire : exérèse {de_site} avec curage",
        ),
        cytology=("Cytologie de brossage {de_site}",),
        clinical=(
            "Lésion bourgeonnante {de_site} à la coloscopie.",
            "Anémie ferriprive ; tumeur {de_site}.",
            "Test immunologique fécal positif ; lésion {de_site}.",
            "Syndrome subocclusif ; épaississement {de_site} de {img} mm au scanner.",
        ),
        negations=(
            "Absence d'emboles veineux extra-muraux.",
            "Pas d'engainement périnerveux.",
            "Absence de dépôt tumoral.",
            "Pas de perforation tumorale.",
        ),
        clinical_stage=True,
        benign=(
            (
                "Biopsies {de_site}",
                "Adénome tubuleux avec dysplasie de bas grade.",
                "Adénome tubuleux en dysplasie de bas grade ; absence de carcinome invasif.",
            ),
            (
                "Biopsies {de_site}",
                "Muqueuse colique remaniée par un processus inflammatoire.",
                "Remaniements inflammatoires non spécifiques, sans dysplasie ni tumeur.",
            ),
        ),
    ),
    "lung": _Family(
        grade_system="diff",
        biopsy=(
            "Biopsies bronchiques ({site})",
            "Biopsie transthoracique sous scanner ({site})",
            "Biopsies per-fibroscopiques {de_site}",
        ),
        resection=(
            "Lobectomie ({site}) avec curage ganglionnaire",
            "Pièce de résection pulmonaire {de_site}",
            "Segmentectomie {de_site} et curage",
        ),
        cytology=("Aspiration bronchique ({site})", "Brossage bronchique ({site})"),
        clinical=(
            "Masse {de_site} de {img} mm au scanner, tabagisme à 40 PA.",
            "Nodule spiculé {de_site}, hypermétabolique au TEP-TDM.",
            "Opacité {de_site} chez un ancien fumeur.",
        ),
        negations=(
            "Absence d'envahissement pleural (PL0).",
            "Pas d'emboles vasculaires.",
            "Absence de STAS.",
        ),
        clinical_stage=True,
        benign=(
            (
                "Biopsies bronchiques ({site})",
                "Muqueuse bronchique inflammatoire, métaplasie malpighienne sans atypie.",
                "Absence de prolifération tumorale maligne sur ce prélèvement. À confronter "
                "aux données radiologiques.",
            ),
            (
                "Aspiration bronchique ({site})",
                "Quelques cellules atypiques isolées, en nombre insuffisant.",
                "Cellules atypiques suspectes mais non diagnostiques ; un carcinome ne peut être "
                "éliminé. Nouveau prélèvement souhaitable.",
            ),
        ),
    ),
    "prostate": _Family(
        grade_system=None,
        biopsy=(
            "Biopsies prostatiques échoguidées ({cores} prélèvements)",
            "Biopsies de prostate ciblées et systématisées ({cores} carottes)",
        ),
        resection=(
            "Pièce de prostatectomie totale",
            "Prostatectomie radicale avec curage ilio-obturateur",
        ),
        cytology=("Biopsies prostatiques ({cores} prélèvements)",),
        clinical=(
            "PSA à {psa} ng/mL ; IRM PI-RADS 5.",
            "Élévation du PSA ({psa} ng/mL), toucher rectal suspect.",
            "PSA {psa} ng/mL, nodule de {img} mm à l'IRM.",
        ),
        negations=(
            "Absence d'engainement périnerveux.",
            "Absence de composante intracanalaire.",
            "Pas de contingent neuroendocrine.",
        ),
        benign=(
            (
                "Biopsies prostatiques échoguidées (12 prélèvements)",
                "Sur une biopsie, petit foyer de glandes atypiques ne permettant pas de porter "
                "le diagnostic de carcinome.",
                "Prolifération microacinaire atypique (ASAP). De nouvelles biopsies sont "
                "souhaitables.",
            ),
            (
                "Biopsies prostatiques échoguidées (12 prélèvements)",
                "Hyperplasie bénigne et foyers de prostatite chronique.",
                "Absence de lésion tumorale maligne.",
            ),
        ),
    ),
    "pancreas": _Family(
        grade_system="diff",
        biopsy=(
            "Biopsies sous écho-endoscopie ({site})",
            "Microbiopsies d'une masse {de_site}",
        ),
        resection=(
            "Pièce de pancréatectomie ({site})",
            "Pièce d'exérèse pancréatique ({site}) avec curage",
        ),
        cytology=("Cytoponction sous écho-endoscopie d'une masse {de_site}",),
        clinical=(
            "Ictère ; masse {de_site} de {img} mm au scanner.",
            "Masse {de_site}, CA 19-9 élevé.",
        ),
        negations=("Absence d'emboles vasculaires.", "Absence de TIPMP associée."),
    ),
    "stomach": _Family(
        grade_system="diff",
        biopsy=(
            "Biopsies gastriques ({site}) au cours d'une gastroscopie",
            "Biopsies {de_site}",
        ),
        resection=(
            "Pièce de gastrectomie ({site}) avec curage D2",
            "Gastrectomie ({site})",
        ),
        cytology=("Brossage {de_site}",),
        clinical=(
            "Ulcération {de_site} à la fibroscopie.",
            "Épigastralgies, amaigrissement ; lésion ulcéro-bourgeonnante {de_site}.",
        ),
        negations=(
            "Absence d'Helicobacter pylori.",
            "Pas d'emboles vasculaires.",
            "Absence d'engainement périnerveux.",
        ),
        clinical_stage=True,
        benign=(
            (
                "Biopsies gastriques",
                "Gastrite chronique active avec présence d'Helicobacter pylori.",
                "Gastrite chronique active à Helicobacter pylori, sans dysplasie ni lésion "
                "tumorale.",
            ),
        ),
    ),
    "oesophagus": _Family(
        grade_system="diff",
        biopsy=("Biopsies œsophagiennes ({site})", "Biopsies {de_site} (endoscopie)"),
        resection=(
            "Pièce d'œsophagectomie ({site}), intervention de Lewis-Santy",
            "Œsophagectomie ({site}) avec curage deux champs",
        ),
        cytology=("Brossage œsophagien ({site})",),
        clinical=(
            "Dysphagie ; lésion sténosante {de_site}.",
            "Endobrachyœsophage connu ; lésion {de_site}.",
        ),
        negations=("Absence d'emboles.", "Pas d'engainement périnerveux."),
        clinical_stage=True,
    ),
    "liver": _Family(
        grade_system="edmondson",
        biopsy=(
            "Biopsie hépatique percutanée ({site})",
            "Ponction-biopsie d'un nodule {de_site}",
        ),
        resection=("Hépatectomie partielle ({site})", "Pièce de résection hépatique ({site})"),
        cytology=("Cytoponction d'un nodule {de_site}",),
        clinical=(
            "Nodule hépatique de {img} mm sur cirrhose alcoolique.",
            "Nodule de {img} mm, hépatopathie chronique virale C.",
        ),
        negations=("Absence d'emboles vasculaires.", "Absence de nodule satellite."),
    ),
    "melanoma": _Family(
        grade_system=None,
        biopsy=("Biopsie cutanée ({site})", "Biopsie-exérèse d'une lésion pigmentée ({site})"),
        resection=(
            "Exérèse cutanée ({site})",
            "Reprise d'exérèse élargie ({site})",
            "Exérèse d'une lésion pigmentée ({site}) et ganglion sentinelle",
        ),
        cytology=("Cytoponction ganglionnaire (drainage {de_site})",),
        clinical=(
            "Lésion pigmentée {de_site}, critères ABCDE présents.",
            "Lésion pigmentée évolutive {de_site}.",
        ),
        negations=(
            "Absence de régression.",
            "Pas de satellitose microscopique.",
            "Absence d'emboles.",
        ),
        sized=False,
        benign=(
            (
                "Biopsie cutanée ({site})",
                "Naevus composé avec atypies architecturales modérées.",
                "Naevus dysplasique (atypies modérées), exérèse complète.",
            ),
        ),
    ),
    "kidney": _Family(
        grade_system="isup_nuc",
        biopsy=("Biopsie rénale percutanée ({site})", "Microbiopsies d'une masse {de_site}"),
        resection=(
            "Néphrectomie totale élargie ({site})",
            "Néphrectomie partielle ({site})",
        ),
        cytology=("Cytologie urinaire",),
        clinical=(
            "Masse {de_site} de {img} mm de découverte fortuite.",
            "Hématurie ; masse tissulaire {de_site}.",
        ),
        negations=(
            "Absence de nécrose tumorale.",
            "Pas de composante sarcomatoïde.",
            "Absence de différenciation rhabdoïde.",
        ),
    ),
    "bladder": _Family(
        grade_system="two_tier",
        biopsy=(
            "Résection transurétrale de vessie ({site})",
            "Copeaux de RTUV ({site})",
            "Biopsies vésicales ({site})",
        ),
        resection=("Pièce de cystectomie totale", "Cystectomie avec curage ilio-obturateur"),
        cytology=("Cytologie urinaire",),
        clinical=(
            "Hématurie macroscopique ; tumeur {de_site}.",
            "Tumeur vésicale ({site}) à la cystoscopie.",
        ),
        negations=("Absence de carcinome in situ associé.", "Absence d'emboles."),
    ),
    "ovary": _Family(
        grade_system="figo",
        biopsy=("Biopsies péritonéales (cœlioscopie)", "Biopsie d'une masse {de_site}"),
        resection=(
            "Annexectomie bilatérale, hystérectomie et omentectomie",
            "Pièce de cytoréduction (annexes, utérus, épiploon)",
        ),
        cytology=("Liquide d'ascite",),
        clinical=(
            "Masse {de_site} de {img} mm, CA-125 élevé.",
            "Carcinose péritonéale ; masse {de_site}.",
        ),
        negations=("Absence d'emboles lymphovasculaires.",),
    ),
    "endometrium": _Family(
        grade_system="figo",
        biopsy=("Biopsie d'endomètre (pipelle de Cornier)", "Curetage biopsique de l'endomètre"),
        resection=(
            "Hystérectomie totale avec annexectomie bilatérale",
            "Pièce d'hystérectomie totale",
        ),
        cytology=("Frottis cervico-vaginal",),
        clinical=(
            "Métrorragies post-ménopausiques.",
            "Épaississement endométrial de {img} mm à l'échographie.",
        ),
        negations=("Absence d'emboles lymphovasculaires.",),
    ),
    "cervix": _Family(
        grade_system="diff",
        biopsy=("Biopsies du col utérin sous colposcopie", "Biopsie {de_site}"),
        resection=("Hystérectomie élargie (Wertheim)", "Pièce de conisation"),
        cytology=("Frottis cervico-utérin",),
        clinical=(
            "Frottis HSIL ; lésion {de_site}.",
            "Métrorragies ; lésion exophytique {de_site}.",
        ),
        negations=("Absence d'emboles.", "Pas de lésion glandulaire associée."),
        clinical_stage=True,
    ),
    "thyroid": _Family(
        grade_system=None,
        biopsy=("Microbiopsie thyroïdienne ({site})",),
        resection=("Thyroïdectomie totale", "Lobo-isthmectomie ({site})"),
        cytology=("Cytoponction à l'aiguille fine d'un nodule ({site})",),
        clinical=(
            "Nodule {de_site} EU-TIRADS 5 de {img} mm.",
            "Goitre multinodulaire ; nodule suspect {de_site}.",
        ),
        negations=("Absence d'emboles vasculaires.", "Absence de nécrose."),
        benign=(
            (
                "Cytoponction thyroïdienne",
                "Cellules vésiculaires sans atypie, colloïde abondante.",
                "Bethesda II : lésion bénigne.",
            ),
            (
                "Cytoponction thyroïdienne",
                "Atypies cytonucléaires focales de signification indéterminée.",
                "Bethesda III (AUS). Un contrôle cytologique est conseillé.",
            ),
        ),
    ),
    "headneck": _Family(
        grade_system="diff",
        biopsy=(
            "Biopsie ({site}) sous anesthésie générale",
            "Biopsies {de_site} (panendoscopie)",
        ),
        resection=(
            "Pièce d'exérèse {de_site} et évidement ganglionnaire",
            "Exérèse chirurgicale {de_site} avec curage cervical",
        ),
        cytology=("Cytoponction d'une adénopathie cervicale",),
        clinical=(
            "Lésion ulcéro-bourgeonnante {de_site}, intoxication alcoolo-tabagique.",
            "Lésion {de_site} de {img} mm à l'examen ORL.",
        ),
        negations=(
            "Absence d'engainement périnerveux.",
            "Absence d'emboles.",
            "Pas de rupture capsulaire ganglionnaire.",
        ),
        clinical_stage=True,
    ),
    "brain": _Family(
        grade_system="who_cns",
        biopsy=("Biopsie stéréotaxique ({site})",),
        resection=(
            "Exérèse chirurgicale d'une lésion {de_site}",
            "Pièce d'exérèse tumorale ({site})",
        ),
        cytology=("Liquide cérébro-spinal",),
        clinical=(
            "Lésion {de_site} prenant le contraste en cocarde à l'IRM ({img} mm).",
            "Crise comitiale inaugurale ; processus expansif {de_site}.",
        ),
        negations=("Pas d'argument pour une métastase de carcinome (cytokératines négatives).",),
        staged=False,
        sized=False,
    ),
    "lymphoma": _Family(
        grade_system=None,
        biopsy=(
            "Biopsie-exérèse ({site})",
            "Biopsie ganglionnaire ({site})",
            "Microbiopsies sous échographie ({site})",
        ),
        resection=("Exérèse ganglionnaire ({site})", "Adénectomie ({site})"),
        cytology=("Cytoponction ganglionnaire ({site})",),
        clinical=(
            "Adénopathie ({site}) de {img} mm, fièvre et sueurs nocturnes.",
            "Polyadénopathies, altération de l'état général.",
            "Masse hypermétabolique au TEP ({site}).",
        ),
        negations=("Absence de nécrose.",),
        staged=False,
        sized=False,
        benign=(
            (
                "Biopsie ganglionnaire ({site})",
                "Hyperplasie folliculaire réactionnelle, architecture ganglionnaire conservée.",
                "Lymphadénite réactionnelle ; absence d'argument pour un lymphome.",
            ),
        ),
    ),
    "haem": _Family(
        grade_system=None,
        biopsy=(
            "Biopsie ostéomédullaire (crête iliaque postérieure)",
            "BOM, crête iliaque",
        ),
        resection=("Biopsie ostéomédullaire (crête iliaque postérieure)",),
        cytology=("Biopsie ostéomédullaire (crête iliaque)",),
        clinical=(
            "Pancytopénie.",
            "Pic monoclonal ; douleurs osseuses.",
            "Hyperleucocytose à l'hémogramme.",
        ),
        negations=("Absence de fibrose réticulinique significative.",),
        staged=False,
        sized=False,
    ),
    "mesothelioma": _Family(
        grade_system=None,
        biopsy=("Biopsies pleurales sous thoracoscopie", "Biopsies {de_site}"),
        resection=("Pièce de pleurectomie-décortication", "Pièce de pleuro-pneumonectomie"),
        cytology=("Liquide pleural",),
        clinical=(
            "Exposition professionnelle à l'amiante ; épanchement pleural récidivant.",
            "Épaississement pleural nodulaire de {img} mm au scanner.",
        ),
        negations=(
            "Absence d'argument pour une métastase d'adénocarcinome (TTF1 et ACE négatifs).",
        ),
        sized=False,
    ),
    "testis": _Family(
        grade_system=None,
        biopsy=("Biopsie testiculaire ({site})",),
        resection=("Orchidectomie par voie inguinale ({site})",),
        cytology=("Cytoponction ({site})",),
        clinical=("Masse {de_site} de {img} mm à l'échographie ; marqueurs à doser.",),
        negations=("Absence d'emboles vasculaires.",),
    ),
    "other": _Family(
        grade_system="diff",
        biopsy=("Biopsie ({site})", "Biopsies d'une lésion {de_site}"),
        resection=("Pièce d'exérèse ({site})", "Exérèse chirurgicale ({site})"),
        cytology=("Cytologie ({site})",),
        clinical=("Lésion {de_site} à explorer.", "Masse {de_site} de {img} mm au scanner."),
        negations=("Absence d'emboles.",),
    ),
}

_TOPO_FAMILY: dict[str, str] = {
    **dict.fromkeys(("C18", "C19", "C20", "C21"), "colorectal"),
    **dict.fromkeys(("C33", "C34"), "lung"),
    **dict.fromkeys(("C22", "C23", "C24"), "liver"),
    **dict.fromkeys(("C64", "C65", "C66"), "kidney"),
    **dict.fromkeys(("C67", "C68"), "bladder"),
    **dict.fromkeys(("C56", "C57"), "ovary"),
    **dict.fromkeys(("C54", "C55"), "endometrium"),
    **dict.fromkeys(("C70", "C71", "C72"), "brain"),
    **dict.fromkeys((*(f"C{i:02d}" for i in range(15)), "C30", "C31", "C32"), "headneck"),
    "C50": "breast",
    "C61": "prostate",
    "C25": "pancreas",
    "C16": "stomach",
    "C15": "oesophagus",
    "C53": "cervix",
    "C73": "thyroid",
    "C62": "testis",
    "C77": "lymphoma",
    "C42": "haem",
}


_FAMILY_CACHE: dict[tuple[str, str], str] = {}


def report_family(topography: str, morphology: str) -> str:
    """The template family of a tumour, from its ICD-O-3 codes (site group names vary)."""
    key = (topography, morphology)
    family = _FAMILY_CACHE.get(key)
    if family is None:
        family = _FAMILY_CACHE[key] = _report_family(topography, morphology)
    return family


def _report_family(topography: str, morphology: str) -> str:
    m = int(morphology[:4]) if morphology[:4].isdigit() else 0
    if 9590 <= m <= 9729 or m == 9761:
        return "lymphoma"
    if m >= 9730:
        return "haem"
    if 9050 <= m <= 9055:
        return "mesothelioma"
    if 8720 <= m <= 8799:
        return "melanoma"
    return _TOPO_FAMILY.get(topography[:3], "other")


# --------------------------------------------------------------------------------------
# Distractors: antecedents, family history
# --------------------------------------------------------------------------------------

# (sentence with {y}, family, sex restriction)
_ANTECEDENTS: tuple[tuple[str, str, str], ...] = (
    ("Antécédent de carcinome canalaire infiltrant du sein droit traité en {y} "
     "(pT1cN0, RO 90 %).", "breast", "F"),
    ("ATCD de cancer du sein gauche en {y}, traité par tumorectomie et "
     "radiothérapie.", "breast", "F"),
    ("ATCD d'adénocarcinome du côlon sigmoïde opéré en {y} (pT3N0).", "colorectal", ""),
    ("Antécédent de carcinome épidermoïde du larynx en {y}.", "headneck", ""),
    ("Opéré en {y} d'un adénocarcinome prostatique (Gleason 3+4).", "prostate", "M"),
    ("Antécédent de mélanome du dos (Breslow 0,8 mm) en {y}.", "melanoma", ""),
    ("ATCD de lymphome de Hodgkin traité en {y}.", "lymphoma", ""),
    ("Antécédent de carcinome papillaire de la thyroïde (thyroïdectomie en {y}).", "thyroid", ""),
    ("Antécédent de carcinome urothélial de bas grade de la vessie réséqué en {y}.", "bladder", ""),
    ("Opérée en {y} d'un cancer de l'endomètre.", "endometrium", "F"),
    ("Antécédent de carcinome à cellules claires du rein gauche "
     "(néphrectomie en {y}).", "kidney", ""),
    ("ATCD d'adénocarcinome pulmonaire du lobe inférieur gauche (lobectomie en {y}).", "lung", ""),
)  # fmt: skip

_ANTECEDENT_CHOICES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    (family, sex): tuple((a, f) for a, f, only in _ANTECEDENTS if f != family and only in ("", sex))
    for family in _FAMILIES
    for sex in ("M", "F")
}

_NO_LYMPHOMA_HYPOTHESIS = frozenset({"lymphoma", "haem", "melanoma", "brain"})

_FAMILY_HISTORY: tuple[str, ...] = (
    "Mère traitée pour un cancer du sein.",
    "Père décédé d'un cancer du poumon.",
    "Frère suivi pour un cancer colorectal.",
    "Antécédents familiaux : sœur atteinte d'un cancer de l'ovaire.",
)

_ROMAN = ("", "I", "II", "III", "IV")

_SBR_COMPONENTS = {
    1: ((1, 1, 1), (2, 1, 1), (2, 2, 1)),
    2: ((3, 2, 1), (2, 2, 2), (3, 3, 1), (3, 2, 2)),
    3: ((3, 3, 2), (3, 3, 3), (3, 2, 3)),
}

_HEADERS = {
    "clinical": (
        "RENSEIGNEMENTS CLINIQUES",
        "Renseignements cliniques",
        "Contexte clinique",
        "Indication",
    ),
    "specimen": ("PRÉLÈVEMENT", "Nature du prélèvement", "Prélèvement reçu", "Matériel adressé"),
    "macro": ("MACROSCOPIE", "Examen macroscopique", "Description macroscopique"),
    "micro": ("MICROSCOPIE", "Examen microscopique", "Examen histologique", "Histologie"),
    "ihc": ("IMMUNOHISTOCHIMIE", "Étude immunohistochimique", "Immunomarquages"),
    "mol": ("BIOLOGIE MOLÉCULAIRE", "Analyse moléculaire", "Biologie moléculaire"),
    "conclusion": ("CONCLUSION", "Conclusion", "EN CONCLUSION", "Diagnostic"),
}

_LAB_NAMES = {f.id: f.name for f in FACILITIES} | OUTSIDE_NAMES
# Only the participating labs send their reports (specimens read elsewhere: capture.py).
_PARTICIPATING_LABS = frozenset(f.id for f in FACILITIES if f.kind == "lab")

_EMPTY_GOLD: dict[str, Any] = dict.fromkeys(("report_id", *GOLD_KEYS))


# --------------------------------------------------------------------------------------
# One rendered report
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class RenderedReport:
    """A report as the lab sends it, its gold, and how it was written (for tests)."""

    lab_id: str
    envelope: dict[str, Any]
    gold: dict[str, Any]
    template: str  # "<family>/<kind>/<style>"
    tags: tuple[str, ...] = field(default=())
    specimen_key: int | None = None


class _Dice:
    """Choices from one random stream (``random.Random`` draws only, stable across versions)."""

    __slots__ = ("r",)

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed).random  # noqa: S311 (synthetic text, not security)

    def c(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.r() * len(seq))]

    def p(self, prob: float) -> bool:
        return self.r() < prob

    def i(self, lo: int, hi: int) -> int:
        """Integer in [lo, hi]."""
        return lo + int(self.r() * (hi - lo + 1))


def _chunk_seed(seed: int, index: int) -> int:
    state = np.random.SeedSequence([seed % (1 << 63), index % (1 << 63), _SALT]).generate_state(
        2, dtype=np.uint64
    )
    return (int(state[0]) << 64) | int(state[1])


def _dmy(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


# --------------------------------------------------------------------------------------
# Fact renderers (each returns the text and the gold value it states)
# --------------------------------------------------------------------------------------


def _site(code: str, dice: _Dice) -> tuple[str, str, str]:
    """(bare wording, "de" wording, gold code) of a topography."""
    forms = _TOPO_FORMS.get(code)
    gold = code
    if forms is None:
        gold = code[:3] + ".9"
        forms = _TOPO_FORMS.get(gold)
        if forms is None:
            return f"localisation {code}", f"de localisation {code}", code
    bare, de = dice.c(forms)
    if "{" in bare:
        lat, latf, letter = dice.c((("droit", "droite", "D"), ("gauche", "gauche", "G")))
        bare = bare.replace("{latf}", latf).replace("{lat}", lat).replace("{L}", letter)
        de = de.replace("{latf}", latf).replace("{lat}", lat).replace("{L}", letter)
    return bare, de, gold


def _morph(family: str, code: str, dice: _Dice) -> tuple[str, str | None]:
    """(wording, implied grade) of a morphology; unknown codes are written with the code."""
    options = _MORPH_SITE.get((family, code)) or _MORPH.get(code)
    if options is None:
        return f"tumeur maligne (CIM-O-3 : {code})", None
    wording, implied = dice.c(options)
    return str(wording), implied


_GRADE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "sbr": (
        ", grade SBR {r}",
        ", grade histopronostique d'Elston et Ellis {n}",
        ", grade EE {r} (score {a}+{b}+{c} = {s})",
        ", grade de Nottingham {n}",
        ", SBR modifié {r}",
    ),
    "figo": (", grade FIGO {n}", " de grade {n} de la FIGO", " (FIGO {n})"),
    "isup_nuc": (", grade nucléolaire ISUP {n}", ", grade ISUP/OMS {n}", ", grade de Fuhrman {n}"),
    "edmondson": (", grade {r} d'Edmondson-Steiner", " (Edmondson {r})"),
    "two_tier": (", grade {n} (OMS 1973)",),
    "who_cns": (", grade {n} OMS", " (CNS WHO grade {n})", ", grade {n} selon l'OMS 2021"),
    "who_net": (" de grade {n} (OMS)", ", G{n}"),
}
_GRADE_RANGE = {"sbr": (1, 3), "figo": (1, 3), "two_tier": (1, 3), "who_cns": (2, 4)}
_DIFF = {
    "G1": " bien différencié",
    "G2": " moyennement différencié",
    "G3": " peu différencié",
    "G4": " indifférencié",
    "low": " de bas grade",
    "high": " de haut grade",
}


def _grade(system: str | None, grade: str | None, dice: _Dice) -> str | None:
    """The grade wording to append after the histology, or None if it cannot be written."""
    if system is None or grade is None:
        return None
    if system == "diff" or (system == "two_tier" and grade in ("low", "high")):
        return _DIFF.get(grade)
    if len(grade) != 2 or grade[0] != "G" or not grade[1].isdigit():
        return None
    n = int(grade[1])
    lo, hi = _GRADE_RANGE.get(system, (1, 4))
    templates = _GRADE_TEMPLATES.get(system)
    if templates is None or not lo <= n <= hi:
        return None
    tpl: str = dice.c(templates)
    if "{a}" in tpl:
        a, b, c = dice.c(_SBR_COMPONENTS[n])
        return tpl.format(r=_ROMAN[n], n=n, a=a, b=b, c=c, s=a + b + c)
    return tpl.format(r=_ROMAN[n], n=n)


def _tnm(
    prefix: str,
    t: str,
    n: str | None,
    m: str | None,
    *,
    counts: str,
    dice: _Dice,
) -> str:
    """A pTNM/ypTNM string; ``counts`` is an optional "(2/14)" or "(sn)" suffix for N."""
    mtxt = ""
    if m is not None:
        mtxt = {"0": dice.c(("cM0", "M0")), "x": "Mx"}.get(m) or dice.c((f"pM{m}", f"M{m}"))
    if n is None:
        return f"{prefix}T{t}" + (f" {mtxt}" if mtxt else "")
    kind = dice.i(0, 4)
    if kind == 0:
        text = f"{prefix}T{t} {prefix}N{n}{counts}"
    elif kind == 1:
        glued = {"0": "M0", "x": "Mx"}.get(m, f"M{m}") if m is not None else ""
        return f"{prefix}T{t}N{n}{glued}"
    elif kind == 2:
        text = f"{prefix}T{t} N{n}{counts}"
    elif kind == 3:
        text = f"{prefix}T{t} ; {prefix}N{n}{counts}"
    else:
        text = f"{prefix}T{t} et {prefix}N{n}{counts}"
    return text + (f" {mtxt}" if mtxt else "")


def _bump_t(t: str) -> str:
    d = t[:1]
    return str(min(int(d) + 1, 4)) if d.isdigit() else "3"


def _pct_num(v: float, dice: _Dice) -> tuple[str, float]:
    return format_percent(v, style=dice.i(0, 2))


_ER_PR_BOTH = (
    "RO : {e} ; RP : {p}",
    "Récepteurs hormonaux : œstrogènes {e}, progestérone {p}",
    "RE {e} / RP {p}",
    "Récepteurs aux œstrogènes exprimés par {e} des cellules tumorales (intensité {i}) ; "
    "récepteurs à la progestérone : {p}",
)
_ER_ONLY = ("RO : {e}", "Récepteurs aux œstrogènes : {e}")
_PR_ONLY = ("RP : {p}", "Récepteurs à la progestérone : {p}")
_INTENSITY = ("forte", "modérée", "forte à modérée")


def _er_pr(
    er: float | None, pr: float | None, dice: _Dice
) -> tuple[str, float | None, float | None]:
    et, eg = _pct_num(er, dice) if er is not None else ("", None)
    pt, pg = _pct_num(pr, dice) if pr is not None else ("", None)
    templates: tuple[str, ...]
    if er is not None and pr is not None:
        templates = _ER_PR_BOTH
    elif er is not None:
        templates = _ER_ONLY
    else:
        templates = _PR_ONLY
    tpl: str = dice.c(templates)
    return tpl.format(e=et, p=pt, i=dice.c(_INTENSITY)), eg, pg


_ISH_TEXT = {
    "amplified": (
        "amplifié en HIS",
        "présence d'une amplification (FISH)",
        "HIS : amplification du gène HER2",
    ),
    "not amplified": (
        "non amplifié en HIS",
        "absence d'amplification en SISH",
        "FISH : pas d'amplification",
    ),
}
_ISH_PENDING = ("HIS en cours", "hybridation in situ demandée, résultat à suivre")
_HER2_HEAD = ("HER2 : score {}", "HER2 {}", "Surexpression HER2 : score {}")


def _her2(ihc: str | None, ish: str | None, dice: _Dice) -> tuple[str, dict[str, Any]]:
    ish_txt = ""
    gold_ish = ish
    options = _ISH_TEXT.get(ish) if ish is not None else None
    if options is not None:
        ish_txt = dice.c(options)
    elif ihc == "2+" and dice.p(0.5):
        ish_txt = dice.c(_ISH_PENDING)
        gold_ish = None
    else:
        gold_ish = None
    if ihc is None:
        text = f"HER2 : {ish_txt}"
    else:
        head: str = dice.c(_HER2_HEAD).format(ihc)
        text = f"{head}, {ish_txt}" if ish_txt else head
    return text, {"ihc": ihc, "ish": gold_ish}


_GENE_TEXT = {
    "mutated": (
        "mutation {g} {v}",
        "{g} muté (p.{v})",
        "présence d'une mutation de {g} : p.{v}",
        "{g} : mutation {v} détectée",
    ),
    "mutated_nov": ("présence d'une mutation {g}", "{g} muté"),
    "wild-type": (
        "absence de mutation {g}",
        "pas de mutation {g} détectée",
        "{g} sauvage",
        "{g} non muté",
    ),
    "wild-type_BRAF": (
        "absence de mutation {g}",
        "pas de mutation {g} détectée",
        "{g} sauvage",
        "{g} non muté",
        "absence de mutation BRAF V600E",
    ),
    "rearranged": (
        "réarrangement {g} détecté",
        "{g} réarrangé en FISH",
        "IHC {g}{c} positive, réarrangement confirmé en FISH",
    ),
    "not rearranged": (
        "absence de réarrangement {g}",
        "{g} non réarrangé",
        "{g} négatif en immunohistochimie{c}",
    ),
}


def _gene(
    name: str, status: str, variant: str | None, dice: _Dice
) -> tuple[str, dict[str, Any]] | None:
    key = status
    v = variant if status == "mutated" else None
    if status == "mutated" and not v:
        key = "mutated_nov"
    elif status == "wild-type" and name == "BRAF":
        key = "wild-type_BRAF"
    templates = _GENE_TEXT.get(key)
    if templates is None:
        return None
    tpl: str = dice.c(templates)
    clone = " (clone D5F3)" if name == "ALK" else ""
    return tpl.format(g=name, v=v, c=clone), {"status": status, "variant": v}


def _mmr(value: str, dice: _Dice) -> str:
    if value == "proficient":
        return str(
            dice.c(
                (
                    "Expression conservée des protéines MLH1, PMS2, MSH2 et MSH6 (phénotype pMMR)",
                    "Absence de perte d'expression des protéines MMR",
                    "Statut MMR : pMMR",
                    "MMR : expression nucléaire conservée des 4 protéines (pMMR)",
                )
            )
        )
    return str(
        dice.c(
            (
                "Perte d'expression nucléaire de MLH1 et PMS2 (dMMR)",
                "Perte d'expression de MSH2 et MSH6 : phénotype dMMR",
                "Statut MMR : déficient (dMMR)",
            )
        )
    )


def _msi(value: str, dice: _Dice) -> str:
    if value == "MSS":
        return str(
            dice.c(
                (
                    "Absence d'instabilité des microsatellites (MSS) en biologie moléculaire",
                    "Statut microsatellitaire : stable (MSS)",
                    "Pentaplex : MSS",
                )
            )
        )
    return str(
        dice.c(
            (
                "Instabilité microsatellitaire de haut niveau (MSI-H) en biologie moléculaire",
                "Statut MSI (PCR pentaplex) : MSI-H",
            )
        )
    )


# --------------------------------------------------------------------------------------
# The writer
# --------------------------------------------------------------------------------------


class _Cols:
    """Columns of an Arrow table as Python lists, fetched on first use."""

    __slots__ = ("_cache", "_table")

    def __init__(self, table: Any) -> None:
        self._table = table
        self._cache: dict[str, list[Any]] = {}

    def __getitem__(self, name: str) -> list[Any]:
        col = self._cache.get(name)
        if col is None:
            if name in self._table.column_names:
                col = self._table.column(name).to_pylist()
            else:
                col = [None] * self._table.num_rows
            self._cache[name] = col
        return col


class PathologyFeedWriter:
    """Writes each chunk's pathology reports per lab, and their gold, under ``out``.

    Only specimens read by a participating lab are reported (``capture.OUTSIDE_LAB`` sends
    nothing; the truth keeps them).

    ``benign_share``: share of biopsy specimens preceded by an extra benign or
    suspicious (non-cancer) report. Files are truncated when this writer first opens them
    and appended to for every later chunk.
    """

    def __init__(self, out: Path, *, seed: int, benign_share: float = 0.05) -> None:
        self.out = Path(out)
        self.seed = seed
        self.benign_share = benign_share
        self._files: dict[str, IO[bytes]] = {}
        self._gold: IO[bytes] | None = None
        self.reports_written = 0

    # -- files -------------------------------------------------------------------------

    def _lab_file(self, lab_id: str) -> IO[bytes]:
        fh = self._files.get(lab_id)
        if fh is None:
            path = self.out / LAYOUT["pathology"].format(facility=lab_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = path.open("wb")
            self._files[lab_id] = fh
        return fh

    def _gold_file(self) -> IO[bytes]:
        if self._gold is None:
            path = self.out / LAYOUT["pathology_gold"]
            path.parent.mkdir(parents=True, exist_ok=True)
            self._gold = path.open("wb")
        return self._gold

    def write(self, chunk: TruthChunk) -> int:
        """Render and append the chunk's reports; returns how many were written."""
        reports = self.render(chunk)
        by_lab: dict[str, list[bytes]] = {}
        gold_lines: list[bytes] = []
        dumps = orjson.dumps
        for rep in reports:
            by_lab.setdefault(rep.lab_id, []).append(dumps(rep.envelope) + b"\n")
            gold_lines.append(dumps(rep.gold) + b"\n")
        for lab_id in sorted(by_lab):
            self._lab_file(lab_id).write(b"".join(by_lab[lab_id]))
        gold = self._gold_file()
        gold.write(b"".join(gold_lines))
        self.reports_written += len(reports)
        return len(reports)

    def close(self) -> None:
        """Flush and close every file this writer opened."""
        for fh in self._files.values():
            fh.close()
        self._files.clear()
        if self._gold is not None:
            self._gold.close()
            self._gold = None

    def __enter__(self) -> PathologyFeedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- rendering ---------------------------------------------------------------------

    def render(self, chunk: TruthChunk) -> list[RenderedReport]:
        """The chunk's reports in specimen order (an extra benign report before its biopsy)."""
        dice = _Dice(_chunk_seed(self.seed, chunk.index))
        sp = _Cols(chunk.specimens)
        tu = _Cols(chunk.tumours)
        pe = _Cols(chunk.persons)
        sr = _Cols(chunk.source_records)
        cols = {name: tu[name] for name in _TUMOUR_COLUMNS}
        tumour_row = {k: i for i, k in enumerate(tu["tumour_key"])}
        person_sex = dict(zip(pe["person_key"], pe["sex"], strict=True))
        identity: dict[tuple[str, int], int] = {}
        for i, (src, pk) in enumerate(zip(sr["source_id"], sr["person_key"], strict=True)):
            identity.setdefault((src, pk), i)
        ids = (sr["local_id"], sr["family_name"], sr["first_names"], sr["birth_date"])
        id_sex, id_nir = sr["sex"], sr["nir"]
        out: list[RenderedReport] = []
        benign_share = self.benign_share
        sp_key, sp_tum, sp_pers = sp["specimen_key"], sp["tumour_key"], sp["person_key"]
        sp_lab, sp_hosp, sp_date = sp["lab_id"], sp["hospital_id"], sp["collected_date"]
        sp_proc, sp_neo = sp["procedure"], sp["post_neoadjuvant"]
        for i in range(chunk.specimens.num_rows):
            row = tumour_row.get(sp_tum[i])
            if row is None:
                continue
            lab = sp_lab[i]
            if lab not in _PARTICIPATING_LABS:
                continue
            pkey = sp_pers[i]
            ident = identity.get((lab, pkey))
            if ident is None:
                base: dict[str, Any] = dict(_NO_IDENTITY)
            else:
                bd = ids[3][ident]
                base = {
                    "local_patient_id": ids[0][ident],
                    "family_name": ids[1][ident],
                    "first_names": ids[2][ident],
                    "birth_date": bd.isoformat() if bd is not None else None,
                    "sex": id_sex[ident],
                    "nir": id_nir[ident],
                }
            ctx = _Ctx(
                dice=dice,
                tu=cols,
                row=row,
                lab=lab,
                hospital=sp_hosp[i],
                collected=sp_date[i],
                procedure=sp_proc[i],
                post_neo=bool(sp_neo[i]),
                sex=person_sex.get(pkey) or "F",
                specimen_key=sp_key[i],
            )
            if ctx.procedure == "biopsy" and dice.p(benign_share):
                out.append(_render_benign(ctx, base))
            out.append(_render_cancer(ctx, base))
        return out


_NO_IDENTITY: dict[str, Any] = dict.fromkeys(
    ("local_patient_id", "family_name", "first_names", "birth_date", "sex", "nir")
)


@dataclass(slots=True)
class _Ctx:
    dice: _Dice
    tu: dict[str, list[Any]]
    row: int
    lab: str
    hospital: str
    collected: date
    procedure: str
    post_neo: bool
    sex: str
    specimen_key: int


_HOUSE_STYLE: dict[str, str] = {}


def _style_for(lab: str, dice: _Dice) -> str:
    """Each lab has a house style (55 %) and uses the others too."""
    house = _HOUSE_STYLE.get(lab)
    if house is None:
        digits = "".join(ch for ch in lab if ch.isdigit())
        house = STYLES[(int(digits) - 1) % len(STYLES)] if digits else STYLES[0]
        _HOUSE_STYLE[lab] = house
    return house if dice.p(0.55) else str(dice.c(STYLES))


def _header(ctx: _Ctx, rid: str, collected: date, received: date, style: str) -> str:
    dice = ctx.dice
    lab_name = _LAB_NAMES.get(ctx.lab, ctx.lab)
    hosp = _LAB_NAMES.get(ctx.hospital, ctx.hospital)
    if style == "compact":
        return f"{lab_name} — N° {rid}\nPrélevé le {_dmy(collected)} ({hosp})"
    title = dice.c(
        (
            "COMPTE RENDU D'EXAMEN ANATOMOPATHOLOGIQUE",
            "Compte rendu anatomo-cytopathologique",
            "ANATOMIE ET CYTOLOGIE PATHOLOGIQUES",
            "Compte-rendu histopathologique",
        )
    )
    return (
        f"{lab_name}\n{title}\nExamen n° {rid} — prélevé le {_dmy(collected)} "
        f"({hosp}), reçu le {_dmy(received)}"
    )


def _report_id(lab: str, letter: str, d: date, key: int, suffix: str = "") -> str:
    return f"{lab}-{letter}{d.year % 100:02d}-{key:07d}{suffix}"


def _finish(
    ctx: _Ctx,
    base: dict[str, Any],
    *,
    rid: str,
    specimen_id: str,
    collected: date,
    received: date,
    procedure: str,
    text: str,
) -> dict[str, Any]:
    env: dict[str, Any] = {"report_id": rid, "lab_id": ctx.lab}
    env.update(base)
    env["specimen_id"] = specimen_id
    env["hospital_id"] = ctx.hospital
    env["collected_date"] = collected.isoformat()
    env["received_date"] = received.isoformat()
    env["procedure"] = procedure
    env["text"] = text
    return env


def _render_benign(ctx: _Ctx, base: dict[str, Any]) -> RenderedReport:
    dice = ctx.dice
    topo = ctx.tu["topography"][ctx.row]
    family = report_family(topo, ctx.tu["morphology"][ctx.row])
    fam = _FAMILIES[family]
    spec, micro, concl = dice.c(fam.benign or _GENERIC_BENIGN)
    site, de_site, _ = _site(topo, dice)
    collected = ctx.collected - timedelta(days=dice.i(14, 70))
    received = collected + timedelta(days=dice.i(0, 3))
    rid = _report_id(ctx.lab, "B", collected, ctx.specimen_key, "A")
    style = dice.c(("classic", "compact"))
    spec = spec.replace("{site}", site).replace("{de_site}", de_site).replace("{cores}", "12")
    head = _header(ctx, rid, collected, received, style)
    if style == "compact":
        text = f"{head}\nPrlvt : {spec}.\nHisto : {micro}\nCCL : {concl}"
    else:
        h = _HEADERS
        text = (
            f"{head}\n{dice.c(h['specimen'])} : {spec}.\n{dice.c(h['micro'])} : {micro}\n"
            f"{dice.c(h['conclusion'])} : {concl}"
        )
    gold = dict(_EMPTY_GOLD)
    gold["report_id"] = rid
    gold["cancer"] = False
    env = _finish(
        ctx,
        base,
        rid=rid,
        specimen_id=specimen_identifier(ctx.specimen_key) + "-PRE",
        collected=collected,
        received=received,
        procedure="cytology" if spec.startswith(("Cyto", "Aspiration")) else "biopsy",
        text=text,
    )
    return RenderedReport(
        lab_id=ctx.lab,
        envelope=env,
        gold=gold,
        template=f"{family}/benign/{style}",
        tags=("benign",),
        specimen_key=None,
    )


_NODES_NONE = (
    "{e} ganglions indemnes (0N+/{e})",
    "absence de métastase ganglionnaire (0/{e})",
    "0N+/{e}",
    "{e} ganglions examinés, tous indemnes",
)
_NODES_POS = (
    "{p}N+/{e}{mi}",
    "{p} ganglion(s) {w} sur {e} examinés{mi}",
    "{e} ganglions examinés, dont {p} {w}{mi}",
)
_MARGINS = {
    "R0": (
        "limites d'exérèse saines",
        "exérèse complète (R0)",
        "R0",
        "marges saines, marge la plus proche à {d} mm",
        "limites chirurgicales saines",
    ),
    "R1": (
        "tumeur au contact de la limite de résection (R1)",
        "limite de résection envahie",
        "R1 (marge envahie)",
    ),
    "R2": ("résection incomplète (R2)", "reliquat tumoral macroscopique, R2"),
}
_SIZE_RESIDUAL = (
    "foyers tumoraux résiduels dont le plus grand mesure {s}",
    "taille du plus grand foyer résiduel : {s}",
)
_SIZE_TEXT = (
    "taille tumorale : {s}",
    "tumeur mesurant {s} de grand axe",
    "{s} de plus grand diamètre",
)
_KI67 = ("Ki67 : {}", "Index de prolifération Ki-67 : {}", "Ki-67 estimé à {}")
_TPS = (
    "PD-L1 (clone 22C3) : TPS {}",
    "Expression de PD-L1 par {} des cellules tumorales (TPS)",
    "PD-L1 TPS = {}",
)
_CPS = ("PD-L1 : CPS {}", "score CPS (PD-L1 22C3) = {}")
_RAS_WT = ("statut RAS sauvage (KRAS et NRAS non mutés)", "RAS sauvage")
_GLEASON = (
    "score de Gleason {s} ({p}+{q})",
    "Gleason {p}+{q}={s}",
    "score de Gleason {p} + {q} = {s}",
    "Gleason {s} ({p}+{q})",
)
_ISUP = (
    ", groupe ISUP {}",
    " (ISUP {})",
    ", grade group {}",
    ", groupe pronostique {} (ISUP 2016)",
)
_MICRO_DX = (
    ("Prolifération tumorale maligne : {}.", False),
    ("Aspect histologique {}.", True),  # "d'adénocarcinome"
    ("Diagnostic histologique : {}.", False),
)
_NEO_CLINICAL = (
    "Pièce opératoire après traitement néoadjuvant.",
    "Chirurgie après chimiothérapie néoadjuvante.",
    "Après radio-chimiothérapie préopératoire.",
)
_BIOPSY_MACRO = (
    "{k} fragments biopsiques.",
    "{k} carottes de {l} mm.",
    "Fragments inclus en totalité.",
)
_BRESLOW = {"1": (2, 9), "2": (11, 19), "3": (21, 39), "4": (41, 80)}
_TUMOUR_COLUMNS = (
    "topography", "morphology", "grade", "t", "n", "m", "tumour_size_mm", "nodes_positive",
    "nodes_examined", "margin_status", "er_pct", "pr_pct", "her2_ihc", "her2_ish", "ki67_pct",
    "mmr", "msi", "pdl1_tps_pct", "pdl1_cps", "egfr_status", "egfr_variant", "kras_status",
    "kras_variant", "nras_status", "nras_variant", "braf_status", "braf_variant", "alk_status",
    "ros1_status", "gleason_primary", "gleason_secondary", "isup_group", "age_at_diagnosis",
)  # fmt: skip
_GENES = (
    ("EGFR", "egfr", "egfr_variant"),
    ("KRAS", "kras", "kras_variant"),
    ("NRAS", "nras", "nras_variant"),
    ("BRAF", "braf", "braf_variant"),
    ("ALK", "alk", ""),
    ("ROS1", "ros1", ""),
)
_KINDS = {"biopsy": "biopsy", "resection": "resection", "cytology": "cytology"}
_WT = {"status": "wild-type", "variant": None}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _render_cancer(ctx: _Ctx, base: dict[str, Any]) -> RenderedReport:
    dice = ctx.dice
    r = dice.r
    c = ctx.tu
    row = ctx.row
    topo = c["topography"][row]
    morph_code = c["morphology"][row]
    family = report_family(topo, morph_code)
    fam = _FAMILIES[family]
    proc = ctx.procedure
    kind = _KINDS.get(proc, "biopsy")
    if kind == "resection" and ctx.post_neo:
        kind = "post_neoadjuvant"
    resected = kind in ("resection", "post_neoadjuvant")
    style = _style_for(ctx.lab, dice)
    tags: list[str] = []
    g: dict[str, Any] = dict(_EMPTY_GOLD)
    g["cancer"] = True

    # -- site and histology -----------------------------------------------------------
    if family == "haem":
        topo = "C42.1"
    site, de_site, topo_gold = _site(topo, dice)
    g["topography_icdo3"] = topo_gold
    morph_txt, implied = _morph(family, morph_code, dice)
    g["morphology_icdo3"] = morph_code
    t, n, m = c["t"][row], c["n"][row], c["m"][row]
    ypt0 = kind == "post_neoadjuvant" and fam.staged and t == "0"
    grade_txt = ""
    grade_line = ""
    if implied is not None:
        g["grade"] = implied
    elif kind != "cytology" and morph_code not in _NO_GRADE_MORPH and not ypt0:
        system = fam.grade_system
        if family == "pancreas" and morph_code == "8240/3":
            system = "who_net"
        elif (family == "liver" and morph_code != "8170/3") or (
            family == "ovary" and morph_code != "8380/3"
        ):
            system = "diff"
        roll = r()
        if kind == "biopsy" and roll < 0.05 and system is not None:
            grade_line = "Grade non évaluable sur ce prélèvement biopsique."
            tags.append("grade_not_assessable")
        elif roll < 0.9:
            grade = c["grade"][row]
            gtxt = _grade(system, grade, dice)
            if gtxt is not None:
                grade_txt = gtxt
                g["grade"] = grade
    diagnosis = f"{morph_txt}{grade_txt}"
    # the grade follows the histology ("… bien différencié") or the site (", grade SBR II")
    attached = grade_txt.startswith(" ") and not grade_txt.startswith(" (")
    core_dx = diagnosis if attached else morph_txt
    trailing = "" if attached else grade_txt

    # -- stage and nodes ----------------------------------------------------------------
    tnm_txt = ""
    clinical_bits: list[str] = []
    nodes_txt = ""
    if fam.staged and resected and t is not None:
        prefix = "yp" if kind == "post_neoadjuvant" else "p"
        pos, exam = c["nodes_positive"][row], c["nodes_examined"][row]
        counts = ""
        if exam is not None and exam > 0 and pos is not None:
            pos, exam = int(pos), int(exam)
            g["nodes_positive"], g["nodes_examined"] = pos, exam
            if pos == 0:
                nodes_txt = dice.c(_NODES_NONE).format(e=exam)
            else:
                nodes_txt = dice.c(_NODES_POS).format(
                    p=pos,
                    e=exam,
                    w="métastatique" if pos == 1 else "métastatiques",
                    mi=" dont une micrométastase" if n == "1mi" else "",
                )
            if n is not None and r() < 0.4:
                counts = f" ({pos}/{exam})"
            if family == "breast" and exam <= 3:
                if n == "0" and r() < 0.3:
                    nodes_txt += " ; cellules tumorales isolées dans un ganglion sentinelle"
                    counts = "(i+)"
                    tags.append("itc")
                elif r() < 0.3:
                    counts = "(sn)"
        elif n in (None, "x") and r() < 0.6:
            nodes_txt = "absence de ganglion identifié sur la pièce"
            tags.append("no_nodes")
        written_m = m if (m is not None and r() < 0.2) else None
        tnm_txt = _tnm(prefix, t, n, written_m, counts=counts, dice=dice)
        g["prefix"], g["T"], g["N"], g["M"] = prefix, t, n, written_m
        if fam.clinical_stage and r() < 0.35:
            post = kind == "post_neoadjuvant"
            ct = _bump_t(t) if post else t
            cn = "1" if post or n is None or not n[:1].isdigit() else n[:1]
            if family == "colorectal" and r() < 0.5:
                clinical_bits.append(f"Bilan initial : uT{ct} N+ en écho-endoscopie.")
            else:
                clinical_bits.append(f"Stade clinique initial cT{ct} N{cn}.")
            tags.append("clinical_stage_quoted")
    elif fam.staged and kind == "biopsy" and t is not None and fam.clinical_stage and r() < 0.2:
        cn = (n[:1] if n[:1].isdigit() else n) if n is not None else None
        ctext = f"cT{t}" + (f" N{cn}" if cn is not None else "")
        if m is not None and r() < 0.3:
            ctext += " M0" if m == "0" else f" M{m}"
            g["M"] = m
        clinical_bits.append(f"Bilan d'extension : {ctext}.")
        g["prefix"], g["T"], g["N"] = "c", t, cn
        tags.append("clinical_stage_gold")

    # -- size, margins ------------------------------------------------------------------
    size_txt = ""
    macro_dims = ""
    size_mm = c["tumour_size_mm"][row]
    if fam.sized and resected and not ypt0 and size_mm is not None and size_mm > 0:
        unit = "cm" if r() < 0.4 else "mm"
        sep = "." if r() < 0.15 else ","
        s_txt, s_gold = format_size(size_mm, unit=unit, sep=sep)
        g["tumor_size_mm"] = s_gold
        if kind == "post_neoadjuvant":
            bed = format_size(round(s_gold * 1.6 + 8), unit=unit, sep=sep)[0]
            macro_dims = f"lit tumoral fibreux de {bed} de grand axe"
            size_txt = dice.c(_SIZE_RESIDUAL).format(s=s_txt)
            tags.append("tumour_bed")
        elif r() < 0.25:
            big = format_size(round(s_gold * 1.2 + 3), unit=unit, sep=sep)[0]
            macro_dims = f"lésion mal limitée de {big} de grand axe"
            size_txt = f"taille histologique : {s_txt}"
            tags.append("macro_vs_histo")
        else:
            b_mm = max(1, round(s_gold * 0.7))
            c_mm = max(1, round(s_gold * 0.5))
            if unit == "cm":
                dims = (
                    f"{format_number(s_gold / 10, sep=sep, decimals=2)} x "
                    f"{format_number(b_mm / 10, sep=sep)} x {format_number(c_mm / 10, sep=sep)} cm"
                )
            else:
                dims = f"{format_number(s_gold, sep=sep)} x {b_mm} x {c_mm} mm"
            macro_dims = f"lésion de {dims}"
            size_txt = dice.c(_SIZE_TEXT).format(s=s_txt)
    elif ypt0:
        macro_dims = "lit tumoral fibreux cicatriciel"
    margin_txt = ""
    margin = c["margin_status"][row]
    if resected and margin in _MARGINS and family not in ("lymphoma", "haem"):
        g["margin_status"] = margin
        margin_txt = dice.c(_MARGINS[margin]).format(d=dice.i(2, 15))

    # -- biomarkers ---------------------------------------------------------------------
    ihc: list[str] = []
    mol: list[str] = []
    if kind == "biopsy" or (kind == "cytology" and family == "lung") or (resected and r() < 0.75):
        er, pr = c["er_pct"][row], c["pr_pct"][row]
        if er is not None or pr is not None:
            text, g["er_pct"], g["pr_pct"] = _er_pr(er, pr, dice)
            ihc.append(text)
        ihc_v, ish_v = c["her2_ihc"][row], c["her2_ish"][row]
        if ihc_v is not None or ish_v is not None:
            text, g["her2"] = _her2(ihc_v, ish_v, dice)
            ihc.append(text)
        ki = c["ki67_pct"][row]
        if ki is not None:
            kt, g["ki67_pct"] = _pct_num(ki, dice)
            ihc.append(dice.c(_KI67).format(kt))
        mmr = c["mmr"][row]
        if mmr in ("proficient", "deficient"):
            g["mmr"] = mmr
            ihc.append(_mmr(mmr, dice))
        tps = c["pdl1_tps_pct"][row]
        if tps is not None:
            tt, g["pdl1_tps_pct"] = _pct_num(tps, dice)
            ihc.append(dice.c(_TPS).format(tt))
        cps = c["pdl1_cps"][row]
        if cps is not None:
            if cps < 1:
                cps_txt, g["pdl1_cps"] = "< 1", 0.0
            else:
                g["pdl1_cps"] = round(cps, 1)
                cps_txt = format_number(cps)
            ihc.append(dice.c(_CPS).format(cps_txt))
        msi = c["msi"][row]
        if msi in ("MSS", "MSI-H"):
            g["msi"] = msi
            mol.append(_msi(msi, dice))
        ras_done = False
        if (
            c["kras_status"][row] == "wild-type"
            and c["nras_status"][row] == "wild-type"
            and r() < 0.5
        ):
            mol.append(dice.c(_RAS_WT))
            g["kras"] = dict(_WT)
            g["nras"] = dict(_WT)
            ras_done = True
        for name, key, vkey in _GENES:
            status = c[key + "_status"][row]
            if status is None or (ras_done and key in ("kras", "nras")):
                continue
            res = _gene(name, status, c[vkey][row] if vkey else None, dice)
            if res is not None:
                mol.append(res[0])
                g[key] = res[1]
        if kind == "post_neoadjuvant" and (ihc or mol):
            tags.append("quoted_biopsy")
    elif resected and (c["er_pct"][row] is not None or c["mmr"][row] is not None):
        ihc.append("cf. biopsie antérieure pour le profil immunohistochimique")
        tags.append("biomarkers_elsewhere")
    if family == "brain" and morph_code == "9440/3" and c["egfr_status"][row] is None and r() < 0.4:
        mol.append("amplification de l'EGFR en FISH")
        tags.append("egfr_amplification")

    # -- site-specific lines ------------------------------------------------------------
    gleason_txt = ""
    extra: list[str] = []
    cores = dice.i(10, 14)
    if family == "prostate":
        gp, gs = c["gleason_primary"][row], c["gleason_secondary"][row]
        if gp is not None and gs is not None:
            gp, gs = int(gp), int(gs)
            g["gleason_primary"], g["gleason_secondary"] = gp, gs
            gleason_txt = dice.c(_GLEASON).format(s=gp + gs, p=gp, q=gs)
            isup = c["isup_group"][row]
            if isup is not None and r() < 0.75:
                gleason_txt += dice.c(_ISUP).format(int(isup))
                g["isup_group"] = int(isup)
            else:
                g["isup_group"] = isup_from_gleason(gp, gs)
            diagnosis = f"{diagnosis}, {gleason_txt}"
            trailing = f"{trailing}, {gleason_txt}"
        if kind == "biopsy":
            extra.append(
                f"{dice.i(1, cores // 2)} biopsies positives sur {cores} ; longueur tumorale "
                f"maximale {dice.i(2, 14)} mm"
            )
            tags.append("core_counts")
    elif family == "melanoma" and kind != "cytology":
        lo, hi = _BRESLOW.get((t or "1")[:1], (5, 30))
        extra.append(
            f"Indice de Breslow : {format_number(dice.i(lo, hi) / 10)} mm ; niveau de Clark "
            f"{dice.c(('II', 'III', 'IV'))} ; {dice.i(0, 8)} mitoses/mm²"
        )
        tags.append("breslow")

    # -- clinical information and distractors -------------------------------------------
    img = str(dice.i(8, 60))
    ci: str = dice.c(fam.clinical)
    if "{" in ci:
        ci = ci.format(de_site=de_site, site=site, img=img, psa=format_number(dice.i(45, 400) / 10))
        if f"{img} mm" in ci:
            tags.append("imaging_size")
    ci_parts: list[str] = []
    if r() < 0.3:
        age = c["age_at_diagnosis"][row]
        if age is not None:
            ci_parts.append(f"{'Patiente' if ctx.sex == 'F' else 'Patient'} de {age} ans.")
    ci_parts.append(ci)
    if r() < 0.15:
        choices = _ANTECEDENT_CHOICES[(family, ctx.sex)]
        ant, afam = dice.c(choices)
        ci_parts.append(ant.format(y=ctx.collected.year - dice.i(3, 15)))
        tags.append(f"antecedent:{afam}")
    if r() < 0.06:
        ci_parts.append(dice.c(_FAMILY_HISTORY))
        tags.append("family_history")
    if kind == "post_neoadjuvant":
        ci_parts.append(dice.c(_NEO_CLINICAL))
    ci_parts.extend(clinical_bits)
    negs: list[str] = []
    if r() < 0.65:
        negs.append(dice.c(fam.negations))
        tags.append("negation")
    hypo_micro = ""
    if family == "lymphoma":
        if r() < 0.2:
            hypo_micro = "Une métastase de carcinome est à éliminer."
            ihc.insert(
                0,
                "pancytokératine AE1/AE3 négative : absence d'argument pour une métastase "
                "de carcinome",
            )
            tags.append("hypothesis:carcinome")
    elif kind == "biopsy" and family not in _NO_LYMPHOMA_HYPOTHESIS and r() < 0.08:
        hypo_micro = "Un lymphome est à éliminer."
        ihc.insert(0, "CD45 négatif, cytokératines positives : absence d'argument pour un lymphome")
        tags.append("hypothesis:lymphome")

    # -- sections -----------------------------------------------------------------------
    if ypt0:
        conclusion = (
            "Absence de cellule tumorale résiduelle après traitement néoadjuvant "
            f"{_d(core_dx)} {de_site}{trailing}"
        )
    else:
        conclusion = f"{_cap(core_dx)} {de_site}{trailing}"
    spec: str = dice.c(
        fam.biopsy if kind == "biopsy" else fam.cytology if kind == "cytology" else fam.resection
    )
    if "{" in spec:
        spec = spec.format(de_site=de_site, site=site, cores=cores)
    received = ctx.collected + timedelta(days=dice.i(0, 3))
    letter = "B" if kind == "biopsy" else "C" if kind == "cytology" else "P"
    rid = _report_id(ctx.lab, letter, ctx.collected, ctx.specimen_key)
    head = _header(ctx, rid, ctx.collected, received, style)
    micro_bits: list[str] = []
    if hypo_micro:
        micro_bits.append(hypo_micro)
    if ypt0:
        micro_bits.append(
            "Remaniements fibro-inflammatoires du lit tumoral, sans cellule tumorale résiduelle."
        )
    else:
        tpl, elide = dice.c(_MICRO_DX)
        micro_bits.append(tpl.format(_d(diagnosis) if elide else diagnosis))
    if grade_line:
        micro_bits.append(grade_line)
    micro_bits.extend(_cap(e) + "." for e in extra)
    if size_txt:
        micro_bits.append(_cap(size_txt) + ".")
    micro_bits.extend(negs)
    if nodes_txt:
        micro_bits.append(f"Ganglions : {nodes_txt}.")
    if margin_txt:
        micro_bits.append(f"Limites : {margin_txt}.")
    if resected:
        weight = f"Pièce pesant {dice.i(12, 480)} g"
        macro = f"{weight} ; {macro_dims}." if macro_dims else f"{weight}, examinée en totalité."
    elif kind == "cytology":
        macro = "Étalements et cytobloc."
    else:
        macro = dice.c(_BIOPSY_MACRO).format(k=dice.i(2, 6), l=dice.i(6, 18))
    bio_intro = "Rappel des données de la biopsie initiale : " if "quoted_biopsy" in tags else ""
    ci_text = " ".join(ci_parts)
    stage = f", {tnm_txt}" if tnm_txt else ""
    if style == "classic":
        h = _HEADERS
        lines = [
            head,
            f"{dice.c(h['clinical'])} : {ci_text}",
            f"{dice.c(h['specimen'])} : {spec}.",
            f"{dice.c(h['macro'])} : {macro}",
            f"{dice.c(h['micro'])} : {' '.join(micro_bits)}",
        ]
        if ihc:
            lines.append(f"{dice.c(h['ihc'])} : {bio_intro}{' ; '.join(ihc)}.")
        if mol:
            lines.append(f"{dice.c(h['mol'])} : {'' if ihc else bio_intro}{' ; '.join(mol)}.")
        lines.append(f"{dice.c(h['conclusion'])} : {conclusion}{stage}.")
    elif style == "synoptic":
        lines = [
            head,
            f"Renseignements cliniques : {ci_text}",
            f"Nature du prélèvement : {spec}.",
            f"Macroscopie : {macro}",
            "",
            "COMPTE RENDU STANDARDISÉ (données minimales)",
            f"- Localisation : {site}",
            f"- Type histologique : {morph_txt}",
        ]
        if ypt0:
            lines.append("- Tumeur résiduelle : absente (réponse histologique complète)")
        if grade_txt:
            lines.append(f"- Grade : {grade_txt.lstrip(', ').strip()}")
        elif grade_line:
            lines.append("- Grade : non évaluable")
        if gleason_txt:
            lines.append(f"- Gleason : {gleason_txt}")
        lines.extend(f"- {e}" for e in extra)
        if size_txt:
            lines.append(f"- Taille : {size_txt}")
        if hypo_micro:
            lines.append(f"- Remarque : {hypo_micro}")
        lines.extend(f"- {x}" for x in negs)
        if margin_txt:
            lines.append(f"- Limites d'exérèse : {margin_txt}")
        if nodes_txt:
            lines.append(f"- Ganglions : {nodes_txt}")
        if ihc or mol:
            lines.append(f"- Biomarqueurs : {bio_intro}{' ; '.join(ihc + mol)}")
        if tnm_txt:
            lines.append(f"- Stade (TNM UICC 8e édition) : {tnm_txt}")
        lines.append(f"Conclusion : {conclusion}{stage}.")
    elif style == "compact":
        lines = [
            head,
            f"RC : {ci_text}",
            f"Prlvt : {spec}.",
            f"Macro : {macro}",
            f"Histo : {' '.join(micro_bits)}",
        ]
        if ihc or mol:
            lines.append(f"IHC/BM : {bio_intro}{' ; '.join(ihc + mol)}.")
        lines.append(f"CCL : {conclusion}{' - ' + tnm_txt if tnm_txt else ''}.")
    else:  # narrative
        lines = [
            head,
            ci_text,
            f"Nous avons reçu : {spec[0].lower()}{spec[1:]}. {macro}",
            f"À l'examen histologique : {' '.join(micro_bits)}",
        ]
        if ihc:
            lines.append(f"L'étude immunohistochimique montre : {bio_intro}{' ; '.join(ihc)}.")
        if mol:
            lines.append(f"En biologie moléculaire : {'' if ihc else bio_intro}{' ; '.join(mol)}.")
        lines.append(f"En conclusion : {conclusion}{stage}.")
    g["report_id"] = rid
    gold = g
    env = _finish(
        ctx,
        base,
        rid=rid,
        specimen_id=specimen_identifier(ctx.specimen_key),
        collected=ctx.collected,
        received=received,
        procedure=proc,
        text="\n".join(lines),
    )
    return RenderedReport(
        lab_id=ctx.lab,
        envelope=env,
        gold=gold,
        template=f"{family}/{kind}/{style}",
        tags=tuple(tags),
        specimen_key=ctx.specimen_key,
    )
