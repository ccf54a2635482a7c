"""Per-component checks: qualifiers, TNM fixes, sizes, nodes, margins, biomarkers, grade."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from oncobase.nlp.schema import fold, preprocess
from oncobase.nlp.sections import split_sections

Extract = Callable[[str], dict[str, Any]]


def test_preprocess_folds_oe_and_hyphens() -> None:
    assert preprocess("œstrogènes\u2010x") == "oestrogènes-x"
    text = "Récepteurs aux Œstrogènes"
    assert len(fold(text)) == len(text)


def test_sections_conclusion_and_clinical() -> None:
    text = "Renseignements cliniques : x.\nMacroscopie : y.\nConclusion : z."
    names = [s.name for s in split_sections(text)]
    assert names == ["clinical", "macroscopy", "conclusion"]


@pytest.mark.parametrize(
    ("text", "morph"),
    [
        ("Conclusion : carcinome infiltrant de type non spécifique du sein.", "8500/3"),
        ("Conclusion : carcinome non à petites cellules du poumon.", "8046/3"),
        ("Conclusion : carcinome épidermoïde non kératinisant de l'amygdale.", "8072/3"),
    ],
)
def test_negation_pseudo_cues(extract: Extract, text: str, morph: str) -> None:
    result = extract(text)
    assert result["cancer"] is True
    assert result["morphology_icdo3"] == morph


@pytest.mark.parametrize(
    "text",
    [
        "Conclusion : absence de carcinome sur ce prélèvement.",
        "Microscopie : un lymphome est à éliminer. Conclusion : absence d'argument pour un lymphome.",
        "Renseignements cliniques : antécédent de carcinome canalaire infiltrant du sein.\n"
        "Conclusion : mastopathie bénigne.",
        "Renseignements cliniques : mère traitée pour un adénocarcinome colique.\n"
        "Conclusion : polype hyperplasique.",
        "Conclusion : aspect évoquant un adénocarcinome, à confirmer sur un nouveau prélèvement.",
    ],
)
def test_negated_hypothetical_family_history_do_not_fill(extract: Extract, text: str) -> None:
    result = extract(text)
    assert result["cancer"] is False
    assert all(v is None for k, v in result.items() if k not in ("cancer", "evidence"))
    assert result["evidence"] == {}


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("pT2", ("p", "2", None, None)),
        ("pT3 ; pN2", ("p", "3", "2", None)),
        ("pT2 et pN0", ("p", "2", "0", None)),
        ("ypT1cN0R0M0", ("yp", "1c", "0", "0")),
        ("pT1a pN1mi (sn)", ("p", "1a", "1mi", None)),
        ("pT4b N1a (2/14) cM0", ("p", "4b", "1a", "0")),
    ],
)
def test_tnm_fixes(extract: Extract, stage: str, expected: tuple[Any, ...]) -> None:
    result = extract(f"Conclusion : adénocarcinome du côlon sigmoïde, {stage}.")
    assert (result["prefix"], result["T"], result["N"], result["M"]) == expected


def test_tnm_conclusion_wins_over_clinical_stage(extract: Extract) -> None:
    text = (
        "Renseignements cliniques : stade clinique initial cT3 N1.\n"
        "Conclusion : adénocarcinome du rectum, ypT2 ypN0."
    )
    result = extract(text)
    assert (result["prefix"], result["T"], result["N"]) == ("yp", "2", "0")


def test_pta_is_not_invasive(extract: Extract) -> None:
    text = "Conclusion : carcinome urothélial papillaire non infiltrant de la vessie, pTa."
    assert extract(text)["cancer"] is False


@pytest.mark.parametrize(
    ("sentence", "mm"),
    [
        ("Taille histologique : 2,5 cm.", 25.0),
        ("Tumeur mesurant 18 mm de grand axe.", 18.0),
        ("Taille du plus grand foyer résiduel : 0,6 cm.", 6.0),
        ("Indice de Breslow : 1,2 mm.", None),
        ("Ganglion de 12 mm métastatique.", None),
        # a nodule; a bare size set off by commas after the tumour wording
        ("Nodule tumoral unique de 2,8 cm, bien limité.", 28.0),
        ("Adénocarcinome ulcéré, 3,5 cm, infiltrant la sous-séreuse.", 35.0),
        ("Marge distale, 15 mm, saine.", None),
    ],
)
def test_sizes(extract: Extract, sentence: str, mm: float | None) -> None:
    text = f"Microscopie : adénocarcinome. {sentence}\nConclusion : adénocarcinome du côlon."
    assert extract(text)["tumor_size_mm"] == mm


def test_histological_size_wins_over_macroscopic(extract: Extract) -> None:
    text = (
        "Macroscopie : lésion de 4 x 3 x 2 cm.\nMicroscopie : taille histologique : 32 mm.\n"
        "Conclusion : carcinome infiltrant NST du sein."
    )
    assert extract(text)["tumor_size_mm"] == 32.0


def test_imaging_size_is_ignored(extract: Extract) -> None:
    text = "Renseignements cliniques : masse de 40 mm au scanner.\nConclusion : adénocarcinome du côlon."
    assert extract(text)["tumor_size_mm"] is None


@pytest.mark.parametrize(
    ("sentence", "nodes"),
    [
        ("2N+/14.", (2, 14)),
        ("3 ganglions métastatiques sur 21 examinés.", (3, 21)),
        ("12 ganglions examinés, tous indemnes.", (0, 12)),
        ("15 ganglions examinés, dont 1 métastatique.", (1, 15)),
        ("Absence de ganglion identifié sur la pièce.", (None, None)),
        # "/" for "sur"; a metastasis "sur N ganglion(s) / M"
        ("3 ganglions métastatiques / 12 examinés.", (3, 12)),
        ("Curage : métastase sur 2 ganglions / 9.", (2, 9)),
    ],
)
def test_nodes(extract: Extract, sentence: str, nodes: tuple[int | None, int | None]) -> None:
    text = f"Microscopie : adénocarcinome. {sentence}\nConclusion : adénocarcinome du côlon."
    result = extract(text)
    assert (result["nodes_positive"], result["nodes_examined"]) == nodes


def test_prostate_core_counts_are_not_nodes(extract: Extract) -> None:
    text = "Microscopie : 4 biopsies positives sur 12.\nConclusion : adénocarcinome, Gleason 3+3."
    result = extract(text)
    assert result["nodes_positive"] is None
    assert (result["gleason_primary"], result["gleason_secondary"], result["isup_group"]) == (
        3,
        3,
        1,
    )


@pytest.mark.parametrize(
    ("sentence", "margin"),
    [
        ("Limites d'exérèse saines.", "R0"),
        ("Tumeur au contact de la limite de résection (R1).", "R1"),
        ("Reliquat tumoral macroscopique, R2.", "R2"),
        ("RO : 90 % ; RP : 20 %.", None),
    ],
)
def test_margins_and_ro_receptor(extract: Extract, sentence: str, margin: str | None) -> None:
    text = f"Microscopie : {sentence}\nConclusion : carcinome canalaire infiltrant du sein."
    assert extract(text)["margin_status"] == margin


@pytest.mark.parametrize(
    ("sentence", "key", "value"),
    [
        ("RO : 90 % ; RP : < 1 %", "er_pct", 90.0),
        ("RO : 90 % ; RP : < 1 %", "pr_pct", 0.0),
        ("Récepteurs aux œstrogènes exprimés par 80 % des cellules", "er_pct", 80.0),
        ("HER2 : score 2+, amplifié en HIS", "her2", {"ihc": "2+", "ish": "amplified"}),
        ("HER2 2+, HIS en cours", "her2", {"ihc": "2+", "ish": None}),
        ("HER2 0", "her2", {"ihc": "0", "ish": None}),
        ("Ki-67 estimé à 30 %", "ki67_pct", 30.0),
        ("Statut MMR : pMMR", "mmr", "proficient"),
        ("Perte d'expression de MSH2 et MSH6", "mmr", "deficient"),
        ("Statut microsatellitaire : stable (MSS)", "msi", "MSS"),
        ("Instabilité microsatellitaire de haut niveau (MSI-H)", "msi", "MSI-H"),
        ("PD-L1 (clone 22C3) : TPS < 1 %", "pdl1_tps_pct", 0.0),
        ("score CPS (PD-L1 22C3) = 8", "pdl1_cps", 8.0),
        ("mutation EGFR L858R", "egfr", {"status": "mutated", "variant": "L858R"}),
        ("KRAS muté (p.G12D)", "kras", {"status": "mutated", "variant": "G12D"}),
        ("RAS sauvage", "nras", {"status": "wild-type", "variant": None}),
        ("absence de mutation BRAF V600E", "braf", {"status": "wild-type", "variant": None}),
        ("réarrangement ALK détecté", "alk", {"status": "rearranged", "variant": None}),
        (
            "ROS1 négatif en immunohistochimie",
            "ros1",
            {"status": "not rearranged", "variant": None},
        ),
        ("amplification de l'EGFR en FISH", "egfr", None),
    ],
)
def test_biomarkers(extract: Extract, sentence: str, key: str, value: Any) -> None:
    text = f"Immunohistochimie : {sentence}.\nConclusion : adénocarcinome du poumon."
    assert extract(text)[key] == value


@pytest.mark.parametrize(
    ("wording", "grade"),
    [
        ("carcinome canalaire infiltrant du sein, grade SBR II", "G2"),
        ("carcinome canalaire infiltrant du sein, grade de Nottingham 3", "G3"),
        ("adénocarcinome endométrioïde de grade 1 de la FIGO", "G1"),
        ("carcinome à cellules claires du rein, grade de Fuhrman 2", "G2"),
        ("carcinome hépatocellulaire (Edmondson III)", "G3"),
        ("adénocarcinome peu différencié du côlon", "G3"),
        ("carcinome urothélial de haut grade de la vessie", "high"),
        ("glioblastome du lobe frontal (CNS WHO grade 4)", "G4"),
    ],
)
def test_grades(extract: Extract, wording: str, grade: str) -> None:
    assert extract(f"Conclusion : {wording}.")["grade"] == grade


def test_grade_not_assessable_is_null(extract: Extract) -> None:
    text = "Microscopie : grade non évaluable.\nConclusion : adénocarcinome de l'estomac."
    assert extract(text)["grade"] is None


def test_breast_junction_is_c50_8(extract: Extract) -> None:
    text = "Conclusion : carcinome canalaire infiltrant de l'union des quadrants externes du sein."
    assert extract(text)["topography_icdo3"] == "C50.8"


def test_micro_header_is_microscopy() -> None:
    text = "Macro : pièce de 5 cm.\nMicro : nodule de 2 cm.\nConclusion : x."
    assert [s.name for s in split_sections(text)] == ["macroscopy", "microscopy", "conclusion"]


@pytest.mark.parametrize(
    ("text", "site"),
    [
        # a subsite after the organ name, in the histology's sentence
        ("Conclusion : adénocarcinome gastrique, petite courbure.", "C16.5"),
        ("Conclusion : carcinome épidermoïde pulmonaire (lobe inférieur gauche).", "C34.3"),
        ("Conclusion : adénocarcinome canalaire du pancréas céphalique.", "C25.0"),
        ("Conclusion : adénocarcinome gastrique.", "C16.9"),
        # a skin tumour: the body region names the skin subsite
        ("Conclusion : carcinome basocellulaire cutané de la joue droite.", "C44.3"),
        ("Conclusion : mélanome à extension superficielle du dos, Breslow 1,2 mm.", "C44.5"),
        ("Conclusion : mélanome nodulaire du mollet gauche.", "C44.7"),
        ("Conclusion : carcinome basocellulaire de la peau.", "C44.9"),
        # … but not for a deep tumour in the same region
        ("Conclusion : carcinome épidermoïde de l'œsophage ; lésion cutanée du bras.", "C15.9"),
    ],
)
def test_subsites(extract: Extract, text: str, site: str) -> None:
    assert extract(text)["topography_icdo3"] == site


@pytest.mark.parametrize(
    ("text", "morph"),
    [
        # a subtype after words between it and the generic term
        ("Conclusion : carcinome malpighien infiltrant kératinisant de l'œsophage.", "8071/3"),
        ("Conclusion : adénocarcinome pulmonaire invasif à prédominance lépidique.", "8250/3"),
        ("Conclusion : adénocarcinome colique mucineux.", "8480/3"),
        # a subtype named by its grade (WHO CNS 5)
        ("Conclusion : oligodendrogliome IDH-muté et 1p/19q codélété, grade 3 OMS.", "9451/3"),
        ("Conclusion : astrocytome IDH-muté, grade 4 OMS.", "9445/3"),
        ("Conclusion : astrocytome IDH-muté, grade 2 OMS.", "9400/3"),
        # French synonyms
        ("Conclusion : tumeur stromale gastro-intestinale de l'estomac.", "8936/3"),
        ("Conclusion : GIST de l'intestin grêle.", "8936/3"),
        # an in-situ component never turns an invasive tumour into an in-situ one
        ("Conclusion : adénocarcinome infiltrant avec contingent in situ.", "8140/3"),
    ],
)
def test_subtypes(extract: Extract, text: str, morph: str) -> None:
    assert extract(text)["morphology_icdo3"] == morph


def test_insufficient_to_affirm_is_not_a_cancer(extract: Extract) -> None:
    text = (
        "Microscopie : foyer de glandes atypiques, insuffisant pour affirmer un adénocarcinome.\n"
        "Conclusion : pas de carcinome affirmé."
    )
    assert extract(text)["cancer"] is False


def test_fast_normalizer_matches_eds_normalizer() -> None:
    """Our normaliser gives EDS-NLP's NORM and TAG, pollution included."""
    import edsnlp
    import edsnlp.pipes as eds

    from oncobase.nlp._eds import get_pipeline

    reference = edsnlp.blank("eds")
    reference.add_pipe(eds.normalizer())
    ours = get_pipeline()
    texts = [
        "Récepteurs aux OEstrogènes : 90 %. « Carcinome » l\u2019aspect ÉPIDERMOÏDE\n\n  x",
        "Conclusion : adénocarcinome.\n=========\nDr Martin\nwww.labo-exemple.fr contact@x.fr\n"
        "adéno-\ncarcinome 1/2 Patient imprimé le 01/02/2024",
        "",
    ]
    for text in texts:
        expected = reference(text)
        doc = ours.get_pipe("normalizer")(ours.make_doc(text))
        assert [t.norm_ for t in doc] == [t.norm_ for t in expected]
        assert [t.tag_ for t in doc] == [t.tag_ for t in expected]
        assert [(s.start, s.end) for s in doc.spans.get("pollutions", [])] == [
            (s.start, s.end) for s in expected.spans.get("pollutions", [])
        ]


def test_family_backstop_holds_every_eds_family_cue() -> None:
    """``eds.family`` is not run: the sentence-level backstop must know all its cues."""
    from edsnlp.pipes.qualifiers.family.patterns import family

    from oncobase.nlp._eds import _FAMILY_SENTENCE, FAMILY_CUES

    for cue in [*family, *FAMILY_CUES]:
        assert _FAMILY_SENTENCE.search(fold(preprocess(cue))), cue
