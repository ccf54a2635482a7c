"""The pathology-lab feed: report envelopes, gold format, text/gold agreement, determinism."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncobase.synth import pathology as pathology_module
from oncobase.synth.pathology import (
    GOLD_KEYS,
    PathologyFeedWriter,
    RenderedReport,
    format_number,
    format_percent,
    format_size,
    isup_from_gleason,
    report_family,
)
from oncobase.synth.schema import (
    LAYOUT,
    PERSONS,
    SOURCE_RECORDS,
    SPECIMENS,
    TREATMENTS,
    TUMOURS,
    VISITS,
    TruthChunk,
)

# --------------------------------------------------------------------------------------
# A small truth builder (rows conforming to schema.py)
# --------------------------------------------------------------------------------------

# site_group, sex ("" = any), topographies, morphologies, grades
PROFILES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str | None, ...]], ...] = (
    (
        "breast",
        "F",
        ("C50.4", "C50.2", "C50.8", "C50.9", "C50.1"),
        ("8500/3", "8520/3", "8522/3", "8480/3", "8211/3"),
        ("G1", "G2", "G3"),
    ),
    (
        "colon_rectum",
        "",
        ("C18.7", "C18.0", "C18.2", "C19.9", "C20.9"),
        ("8140/3", "8480/3", "8490/3"),
        ("G1", "G2", "G3"),
    ),
    (
        "lung",
        "",
        ("C34.1", "C34.3", "C34.9", "C34.0", "C34.2"),
        ("8140/3", "8070/3", "8041/3", "8250/3", "8046/3", "8240/3"),
        ("G1", "G2", "G3"),
    ),
    ("prostate", "M", ("C61.9",), ("8140/3",), (None,)),
    ("pancreas", "", ("C25.0", "C25.1", "C25.9"), ("8500/3", "8240/3"), ("G1", "G2", "G3")),
    ("stomach", "", ("C16.0", "C16.3", "C16.9"), ("8140/3", "8144/3", "8145/3"), ("G2", "G3")),
    ("oesophagus", "", ("C15.4", "C15.5"), ("8070/3", "8140/3"), ("G1", "G2", "G3")),
    ("liver", "", ("C22.0", "C22.1"), ("8170/3", "8160/3"), ("G1", "G2", "G3")),
    ("skin_melanoma", "", ("C44.5", "C44.7", "C44.3"), ("8743/3", "8721/3", "8720/3"), (None,)),
    ("kidney", "", ("C64.9",), ("8310/3", "8260/3", "8317/3"), ("G1", "G2", "G3", "G4")),
    ("bladder", "", ("C67.2", "C67.9", "C67.8"), ("8120/3", "8130/3"), ("low", "high")),
    ("ovary", "F", ("C56.9",), ("8461/3", "8460/3", "8380/3"), ("G2", "high")),
    ("corpus_uteri", "F", ("C54.1",), ("8380/3", "8441/3"), ("G1", "G2", "G3")),
    ("cervix_uteri", "F", ("C53.9", "C53.0"), ("8070/3", "8140/3"), ("G1", "G2", "G3")),
    ("thyroid", "", ("C73.9",), ("8260/3", "8330/3", "8020/3"), (None,)),
    (
        "lip_oral_cavity_pharynx",
        "",
        ("C09.9", "C02.9", "C13.9"),
        ("8070/3", "8071/3"),
        ("G1", "G2"),
    ),
    ("larynx", "", ("C32.0", "C32.1"), ("8070/3",), ("G2",)),
    ("central_nervous_system", "", ("C71.1", "C71.2", "C71.9"), ("9440/3", "9400/3"), ("G4", "G2")),
    ("non_hodgkin_lymphoma", "", ("C77.0", "C77.3", "C77.8"), ("9680/3", "9690/3"), (None,)),
    ("hodgkin_lymphoma", "", ("C77.1",), ("9663/3",), (None,)),
    ("multiple_myeloma", "", ("C42.1",), ("9732/3",), (None,)),
    ("mesothelioma", "", ("C38.4",), ("9052/3", "9050/3"), (None,)),
    ("testis", "M", ("C62.9",), ("9061/3",), (None,)),
    ("other", "", ("C49.9", "C80.9", "C17.9"), ("8800/3", "8000/3", "8140/3"), ("G2",)),
)

SITES = tuple(p[0] for p in PROFILES)
LABS = ("LAB01", "LAB02", "LAB03", "LAB04", "LAB05", "LAB06")
FAMILY_NAMES = ("Dupont-Lefèvre", "Zimmermann", "Nguyen-Tran", "Abdelkader", "Oyelaran")
FIRST_NAMES = ("Marie-Hélène", "Jean-Baptiste", "Ludivine", "Théophile", "Yasmina", "Gwenaëlle")


def _tnm_for(site: str, r: random.Random) -> tuple[str | None, str | None, str | None]:
    if site in (
        "central_nervous_system",
        "non_hodgkin_lymphoma",
        "hodgkin_lymphoma",
        "multiple_myeloma",
    ):
        return None, None, None
    if site == "breast":
        return (
            r.choice(("1c", "1b", "2", "3", "4b")),
            r.choice(("0", "1a", "1mi", "2a")),
            r.choice(("0", "1")),
        )
    if site == "prostate":
        return r.choice(("2a", "2c", "3a", "3b")), r.choice(("0", "1", "x")), r.choice(("0", "1b"))
    return (
        r.choice(("1", "2", "3", "4a", "2a")),
        r.choice(("0", "1", "2", "x")),
        r.choice(("0", "1", "1a")),
    )


def build_chunk(n: int, *, index: int = 0, seed: int = 1) -> TruthChunk:
    """``n`` persons, one tumour each, 1-3 specimens per tumour, a lab identity row each."""
    r = random.Random(seed * 1000 + index)
    persons: dict[str, list[Any]] = defaultdict(list)
    tumours: dict[str, list[Any]] = defaultdict(list)
    specimens: dict[str, list[Any]] = defaultdict(list)
    records: dict[str, list[Any]] = defaultdict(list)
    spec_key = index * 10_000_000
    for i in range(n):
        pkey = index * 1_000_000 + i
        site, sex_req, topos, morphs, grades = PROFILES[i % len(PROFILES)]
        sex = sex_req or r.choice("MF")
        birth = date(1930, 1, 1) + timedelta(days=r.randrange(0, 60 * 365))
        fam = r.choice(FAMILY_NAMES)
        firsts = [r.choice(FIRST_NAMES), r.choice(FIRST_NAMES)]
        serial = f"{r.randrange(100, 999)}{r.randrange(100, 999)}"
        nir = f"{1 if sex == 'M' else 2}{birth.year % 100:02d}{birth.month:02d}75{serial}"
        nir += f"{97 - int(nir) % 97:02d}"
        persons["person_key"].append(pkey)
        persons["sex"].append(sex)
        persons["birth_date"].append(birth)
        persons["birth_commune"].append("75056")
        persons["birth_family_name"].append(fam)
        persons["used_family_name"].append(None)
        persons["first_names"].append(firsts)
        persons["nir"].append(nir)
        persons["ins"].append(nir)
        persons["address_line"].append("1 rue de la Paix")
        persons["postcode"].append("75002")
        persons["residence_commune"].append("75102")
        persons["departement"].append("75")
        persons["region"].append("11")
        persons["is_cancer_patient"].append(True)
        persons["death_date"].append(None)
        persons["death_commune"].append(None)
        persons["death_certificate"].append(None)
        persons["death_from_cancer"].append(None)
        persons["vital_status_date"].append(date(2025, 1, 1))
        tkey = pkey * 10 + 1
        diag = date(2015, 1, 1) + timedelta(days=r.randrange(0, 3600))
        t, nn, m = _tnm_for(site, r)
        neo = site in ("breast", "colon_rectum", "oesophagus", "stomach") and r.random() < 0.3
        row: dict[str, Any] = dict.fromkeys(TUMOURS.names)
        row.update(
            tumour_key=tkey,
            person_key=pkey,
            tumour_number=1,
            site_group=site,
            diagnosis_date=diag,
            age_at_diagnosis=max(18, (diag - birth).days // 365),
            icd10=r.choice(topos),
            topography=r.choice(topos),
            morphology=r.choice(morphs),
            basis_of_diagnosis=7,
            grade=r.choice(grades),
            stage_group="II",
            tnm_prefix="yp" if neo else "p",
            t=("0" if neo and r.random() < 0.15 else t),
            n=nn,
            m=m,
            tumour_size_mm=float(r.choice((7, 12, 18, 23.5, 35, 48, 61))) if t else None,
            nodes_positive=None,
            nodes_examined=None,
            margin_status=r.choice(("R0", "R0", "R0", "R1", "R2", None)),
            neoadjuvant=neo,
        )
        if nn not in (None, "x") and site not in ("prostate",):
            exam = r.randrange(1, 30)
            row["nodes_examined"] = exam
            row["nodes_positive"] = 0 if nn == "0" else min(exam, r.randrange(1, 6))
        if site == "breast":
            row.update(
                er_pct=r.choice((0.0, 0.5, 10.0, 80.0, 95.0, 100.0)),
                pr_pct=r.choice((0.0, 5.0, 40.0, 90.0)),
                her2_ihc=r.choice(("0", "1+", "2+", "3+")),
                ki67_pct=r.choice((5.0, 12.5, 20.0, 40.0)),
            )
            if row["her2_ihc"] == "2+":
                row["her2_ish"] = r.choice(("amplified", "not amplified"))
        elif site == "colon_rectum":
            row["mmr"] = r.choice(("proficient", "deficient"))
            row["msi"] = r.choice(("MSS", "MSI-H", None))
            row["kras_status"] = r.choice(("mutated", "wild-type"))
            row["kras_variant"] = (
                r.choice(("G12D", "G13D")) if row["kras_status"] == "mutated" else None
            )
            row["nras_status"] = "wild-type"
            row["braf_status"] = r.choice(("wild-type", "mutated"))
            row["braf_variant"] = "V600E" if row["braf_status"] == "mutated" else None
        elif site == "lung":
            row["pdl1_tps_pct"] = r.choice((0.0, 0.5, 5.0, 50.0, 80.0))
            row["egfr_status"] = r.choice(("mutated", "wild-type"))
            row["egfr_variant"] = (
                r.choice(("L858R", "E746_A750del", None))
                if row["egfr_status"] == "mutated"
                else None
            )
            row["alk_status"] = r.choice(("rearranged", "not rearranged"))
            row["ros1_status"] = "not rearranged"
            row["kras_status"] = r.choice(("mutated", "wild-type", None))
            row["kras_variant"] = "G12C" if row["kras_status"] == "mutated" else None
        elif site == "skin_melanoma":
            row["braf_status"] = r.choice(("mutated", "wild-type"))
            row["braf_variant"] = (
                r.choice(("V600E", "V600K")) if row["braf_status"] == "mutated" else None
            )
        elif site == "prostate":
            gp, gs = r.choice(((3, 3), (3, 4), (4, 3), (4, 4), (4, 5)))
            row.update(
                gleason_primary=gp,
                gleason_secondary=gs,
                isup_group=isup_from_gleason(gp, gs),
                psa_ng_ml=9.5,
            )
        elif site in ("stomach", "corpus_uteri"):
            row["mmr"] = r.choice(("proficient", "deficient"))
            if site == "stomach":
                row["her2_ihc"] = r.choice(("0", "3+"))
                row["pdl1_cps"] = r.choice((0.5, 5.0, 10.0))
            else:
                row["er_pct"] = 70.0
        elif site == "lip_oral_cavity_pharynx":
            row["pdl1_cps"] = r.choice((1.0, 20.0, 60.0))
        for k, v in row.items():
            tumours[k].append(v)
        lab = LABS[r.randrange(len(LABS))]
        procs = [("biopsy", False)]
        if site == "thyroid":
            procs = [("cytology", False)]
        if t is not None and r.random() < 0.7:
            procs.append(("resection", neo))
        for j, (proc, post) in enumerate(procs):
            spec_key += 1
            specimens["specimen_key"].append(spec_key)
            specimens["tumour_key"].append(tkey)
            specimens["person_key"].append(pkey)
            specimens["lab_id"].append(lab)
            specimens["hospital_id"].append("HOSP03")
            specimens["collected_date"].append(diag + timedelta(days=40 * j))
            specimens["procedure"].append(proc)
            specimens["post_neoadjuvant"].append(post)
        records["source_id"].append(lab)
        records["source_kind"].append("lab")
        records["local_id"].append(f"{lab}-{pkey:08d}")
        records["person_key"].append(pkey)
        records["sex"].append(sex)
        records["birth_date"].append(birth)
        records["birth_commune"].append("75056")
        records["family_name"].append(fam)
        records["birth_family_name"].append(fam)
        records["first_names"].append(firsts)
        records["nir"].append(nir if r.random() < 0.9 else None)
        records["address_line"].append("1 rue de la Paix")
        records["postcode"].append("75002")
        records["commune"].append("75102")
        records["noise"].append([])

    def table(cols: dict[str, list[Any]], schema: pa.Schema) -> pa.Table:
        return pa.table({f.name: cols.get(f.name, [None] * n) for f in schema}, schema=schema)

    return TruthChunk(
        index=index,
        persons=table(persons, PERSONS),
        tumours=table(tumours, TUMOURS),
        treatments=TREATMENTS.empty_table(),
        source_records=table(records, SOURCE_RECORDS),
        visits=VISITS.empty_table(),
        specimens=table(specimens, SPECIMENS),
    )


@pytest.fixture(scope="module")
def chunk() -> TruthChunk:
    return build_chunk(600, index=3, seed=7)


@pytest.fixture(scope="module")
def reports(chunk: TruthChunk) -> list[RenderedReport]:
    return PathologyFeedWriter(Path("/nonexistent"), seed=11, benign_share=0.2).render(chunk)


# --------------------------------------------------------------------------------------
# Gold format
# --------------------------------------------------------------------------------------

TOPO_RE = re.compile(r"^C\d\d\.\d$")
MORPH_RE = re.compile(r"^\d{4}/3$")
T_RE = re.compile(r"^(x|is|0|[1-4][a-d]?|1mi)$")
N_RE = re.compile(r"^(x|0|[1-3][a-c]?|1mi)$")
M_RE = re.compile(r"^(x|0|1[a-c]?)$")
GRADES = {"G1", "G2", "G3", "G4", "low", "high", None}
GENE_STATUS = {"mutated", "wild-type", "rearranged", "not rearranged"}


def check_gold(gold: dict[str, Any]) -> None:
    assert list(gold) == ["report_id", *GOLD_KEYS]
    assert isinstance(gold["cancer"], bool)
    if not gold["cancer"]:
        assert all(gold[k] is None for k in GOLD_KEYS if k != "cancer")
        return
    assert TOPO_RE.match(gold["topography_icdo3"])
    assert MORPH_RE.match(gold["morphology_icdo3"])
    assert gold["grade"] in GRADES
    assert gold["prefix"] in ("p", "yp", "c", None)
    if gold["T"] is not None:
        assert T_RE.match(gold["T"]), gold["T"]
        assert gold["prefix"] is not None
    if gold["N"] is not None:
        assert N_RE.match(gold["N"]), gold["N"]
    if gold["M"] is not None:
        assert M_RE.match(gold["M"]), gold["M"]
    for key in ("tumor_size_mm", "er_pct", "pr_pct", "ki67_pct", "pdl1_tps_pct", "pdl1_cps"):
        v = gold[key]
        assert v is None or (isinstance(v, float) and v >= 0)
    for key in ("er_pct", "pr_pct", "ki67_pct", "pdl1_tps_pct"):
        assert gold[key] is None or gold[key] <= 100
    assert (gold["nodes_positive"] is None) == (gold["nodes_examined"] is None)
    if gold["nodes_examined"] is not None:
        assert 0 <= gold["nodes_positive"] <= gold["nodes_examined"]
    assert gold["margin_status"] in ("R0", "R1", "R2", None)
    if gold["her2"] is not None:
        assert set(gold["her2"]) == {"ihc", "ish"}
        assert gold["her2"]["ihc"] in ("0", "1+", "2+", "3+", None)
        assert gold["her2"]["ish"] in ("amplified", "not amplified", None)
    assert gold["mmr"] in ("proficient", "deficient", None)
    assert gold["msi"] in ("MSS", "MSI-H", None)
    for gene in ("egfr", "kras", "nras", "braf", "alk", "ros1"):
        v = gold[gene]
        if v is not None:
            assert set(v) == {"status", "variant"}
            assert v["status"] in GENE_STATUS
            assert v["variant"] is None or (
                v["status"] == "mutated" and not v["variant"].startswith("p.")
            )
    if gold["isup_group"] is not None:
        assert 1 <= gold["isup_group"] <= 5
    assert (gold["gleason_primary"] is None) == (gold["gleason_secondary"] is None)


def test_gold_keys_and_formats(reports: list[RenderedReport]) -> None:
    assert len(reports) > 900
    for rep in reports:
        check_gold(rep.gold)
        assert rep.gold["report_id"] == rep.envelope["report_id"]


def test_report_ids_unique(reports: list[RenderedReport]) -> None:
    ids = [rep.envelope["report_id"] for rep in reports]
    assert len(ids) == len(set(ids))


def test_benign_reports(reports: list[RenderedReport]) -> None:
    benign = [rep for rep in reports if not rep.gold["cancer"]]
    biopsies = sum(1 for rep in reports if rep.template.split("/")[1] == "biopsy")
    assert 0.1 * biopsies < len(benign) < 0.3 * biopsies
    by_spec = {rep.envelope["specimen_id"]: rep for rep in reports}
    for rep in benign:
        assert rep.template.split("/")[1] == "benign"
        real = by_spec[rep.envelope["specimen_id"].removesuffix("-PRE")]
        assert rep.envelope["collected_date"] < real.envelope["collected_date"]
        assert rep.envelope["local_patient_id"] == real.envelope["local_patient_id"]


def test_procedure_rules(reports: list[RenderedReport]) -> None:
    """Biopsies: no size, margins or nodes; haematological: no size; prostate: no grade."""
    for rep in reports:
        g = rep.gold
        family, kind, _ = rep.template.split("/")
        if kind in ("biopsy", "cytology", "benign"):
            assert g["tumor_size_mm"] is None
            assert g["margin_status"] is None
            assert g["nodes_examined"] is None
            assert g["prefix"] in (None, "c")
        if family in ("lymphoma", "haem"):
            assert g["tumor_size_mm"] is None
        if family == "prostate":
            assert g["grade"] is None
        if kind == "post_neoadjuvant":
            assert g["prefix"] == "yp"
        if kind == "resection" and g["T"] is not None:
            assert g["prefix"] == "p"
        if g["gleason_primary"] is not None:
            assert g["isup_group"] is not None


# --------------------------------------------------------------------------------------
# Text and gold agree
# --------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return text.lower()


def _size_forms(mm: float) -> set[str]:
    out = set()
    for unit in ("mm", "cm"):
        for sep in (",", "."):
            out.add(format_size(mm, unit=unit, sep=sep)[0])
    return out


def _pct_forms(v: float) -> set[str]:
    if v == 0:
        return {"< 1 %", "<1%", "0 %"}
    num = format_number(v)
    return {f"{num} %", f"{num}%"}


def _morph_forms(family: str, code: str) -> list[str]:
    options = (
        pathology_module._MORPH_SITE.get((family, code)) or pathology_module._MORPH.get(code) or ()
    )
    return [w for w, _ in options] or [code]


def _topo_forms(code: str) -> list[str]:
    out = []
    for bare, _ in pathology_module._TOPO_FORMS.get(code, ()):
        out.append(bare.split("{")[0].strip().lower())
    return out or [code.lower()]


def test_every_gold_value_is_in_the_text(reports: list[RenderedReport]) -> None:
    checked = 0
    for rep in reports:
        g, text = rep.gold, rep.envelope["text"]
        low = _norm(text)
        if not g["cancer"]:
            continue
        family = rep.template.split("/")[0]
        checked += 1
        assert any(w.lower() in low for w in _morph_forms(family, g["morphology_icdo3"])), text
        assert any(w in low for w in _topo_forms(g["topography_icdo3"])), (
            g["topography_icdo3"],
            text,
        )
        if g["T"] is not None:
            assert f"{g['prefix']}T{g['T']}" in text
        if g["N"] is not None:
            assert f"N{g['N']}" in text
        if g["M"] is not None:
            assert f"M{g['M']}" in text
        if g["tumor_size_mm"] is not None:
            assert any(f in text for f in _size_forms(g["tumor_size_mm"])), (
                g["tumor_size_mm"],
                text,
            )
        if g["nodes_examined"] is not None:
            assert str(g["nodes_examined"]) in text
            assert str(g["nodes_positive"]) in text
        if g["margin_status"] is not None:
            words = {"R0": ("R0", "saines"), "R1": ("R1", "envahie"), "R2": ("R2",)}[
                g["margin_status"]
            ]
            assert any(w in text for w in words)
        for key in ("er_pct", "pr_pct", "ki67_pct", "pdl1_tps_pct"):
            if g[key] is not None:
                assert any(f in text for f in _pct_forms(g[key])), (key, g[key], text)
        if g["pdl1_cps"] is not None:
            assert "CPS" in text
            assert ("< 1" if g["pdl1_cps"] == 0 else format_number(g["pdl1_cps"])) in text
        if g["her2"] is not None:
            assert "HER2" in text
            if g["her2"]["ihc"] is not None:
                assert g["her2"]["ihc"] in text
            if g["her2"]["ish"] == "amplified":
                assert "amplifi" in low
                assert "non amplifi" not in low
                assert "absence d'amplification" not in low
        for gene in ("egfr", "kras", "nras", "braf", "alk", "ros1"):
            v = g[gene]
            if v is not None:
                assert gene.upper() in text or (gene in ("kras", "nras") and "RAS" in text)
                if v["variant"] is not None:
                    assert v["variant"] in text
        if g["mmr"] is not None:
            assert "MMR" in text
        if g["msi"] is not None:
            assert g["msi"] in text
        if g["gleason_primary"] is not None:
            assert re.search(rf"{g['gleason_primary']} ?\+ ?{g['gleason_secondary']}", text)
        if g["grade"] is not None and family != "prostate":
            assert any(
                w in low
                for w in (
                    "grade",
                    "différencié",
                    "sbr",
                    "elston",
                    "fuhrman",
                    "figo",
                    "edmondson",
                    "g1",
                    "g2",
                    "g3",
                )
            ), text
    assert checked > 800


def test_no_identity_in_text(reports: list[RenderedReport]) -> None:
    for rep in reports:
        env, text = rep.envelope, rep.envelope["text"]
        if env["family_name"]:
            assert env["family_name"] not in text
        for first in env["first_names"] or ():
            assert first not in text
        if env["nir"]:
            assert env["nir"] not in text
            assert env["nir"][:13] not in text
        if env["birth_date"]:
            bd = date.fromisoformat(env["birth_date"])
            assert env["birth_date"] not in text
            assert f"{bd.day:02d}/{bd.month:02d}/{bd.year}" not in text
        assert env["local_patient_id"] not in text


def test_varied_templates_per_site(reports: list[RenderedReport]) -> None:
    per_family: dict[str, set[str]] = defaultdict(set)
    starts: dict[str, set[str]] = defaultdict(set)
    for rep in reports:
        family, kind, style = rep.template.split("/")
        per_family[family].add(f"{kind}/{style}")
        starts[family].add(rep.envelope["text"].split("\n")[1][:20])
    for family in ("breast", "colorectal", "lung", "prostate", "melanoma", "kidney", "lymphoma"):
        assert len(per_family[family]) >= 4, (family, per_family[family])
    assert {t.split("/")[2] for t in (r.template for r in reports)} >= set(pathology_module.STYLES)


def test_sites_covered(reports: list[RenderedReport]) -> None:
    families = {rep.template.split("/")[0] for rep in reports}
    assert families >= {
        "breast", "colorectal", "lung", "prostate", "pancreas", "stomach", "oesophagus",
        "liver", "melanoma", "kidney", "bladder", "ovary", "endometrium", "cervix", "thyroid",
        "headneck", "brain", "lymphoma", "haem", "mesothelioma",
    }  # fmt: skip


def test_distractors_present_and_not_in_gold(reports: list[RenderedReport]) -> None:
    tags: dict[str, list[RenderedReport]] = defaultdict(list)
    for rep in reports:
        for tag in rep.tags:
            tags[tag.split(":")[0]].append(rep)
    for tag in (
        "antecedent",
        "negation",
        "hypothesis",
        "clinical_stage_quoted",
        "breslow",
        "core_counts",
    ):
        assert tags[tag], tag
    family_codes = {
        "breast": "C50",
        "colorectal": "C18",
        "prostate": "C61",
        "lung": "C34",
        "thyroid": "C73",
    }
    for rep in tags["antecedent"]:
        ant = next(t for t in rep.tags if t.startswith("antecedent:")).split(":")[1]
        assert rep.template.split("/")[0] != ant
        code = family_codes.get(ant)
        if code:
            assert not rep.gold["topography_icdo3"].startswith(code)
        if ant == "prostate":
            assert rep.gold["gleason_primary"] is None
    for rep in tags["hypothesis"]:
        text = rep.envelope["text"]
        assert "à éliminer" in text
        assert "absence d'argument" in text
        if "lymphome" in text and rep.template.split("/")[0] != "lymphoma":
            assert not rep.gold["morphology_icdo3"].startswith("96")
    for rep in tags["clinical_stage_quoted"]:
        assert rep.gold["prefix"] in ("p", "yp")
    for rep in tags["breslow"]:
        assert rep.gold["tumor_size_mm"] is None
    for rep in tags["core_counts"]:
        assert rep.gold["nodes_examined"] is None


def test_negated_wild_type_and_quoted_biopsy(reports: list[RenderedReport]) -> None:
    wild = [r for r in reports if r.gold["kras"] and r.gold["kras"]["status"] == "wild-type"]
    assert wild
    for rep in wild:
        assert rep.gold["kras"]["variant"] is None
    quoted = [r for r in reports if "quoted_biopsy" in r.tags]
    assert quoted
    for rep in quoted:
        assert "biopsie initiale" in rep.envelope["text"]
        assert any(
            rep.gold[k] is not None
            for k in ("er_pct", "mmr", "her2", "kras", "pdl1_tps_pct", "braf")
        )


def test_clinical_stage_in_biopsy_is_gold_with_c(reports: list[RenderedReport]) -> None:
    cs = [r for r in reports if "clinical_stage_gold" in r.tags]
    assert cs
    for rep in cs:
        assert rep.gold["prefix"] == "c"
        assert f"cT{rep.gold['T']}" in rep.envelope["text"]


# --------------------------------------------------------------------------------------
# Files and determinism
# --------------------------------------------------------------------------------------


def _run(out: Path, seed: int, chunks: list[TruthChunk]) -> int:
    writer = PathologyFeedWriter(out, seed=seed, benign_share=0.1)
    total = sum(writer.write(c) for c in chunks)
    writer.close()
    return total


def _read_all(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.ndjson"))}


def test_writer_files(tmp_path: Path) -> None:
    chunks = [build_chunk(120, index=0), build_chunk(80, index=1)]
    total = _run(tmp_path, 5, chunks)
    gold_path = tmp_path / LAYOUT["pathology_gold"]
    gold = [orjson.loads(line) for line in gold_path.read_bytes().splitlines()]
    assert len(gold) == total
    envelopes = []
    for lab in LABS:
        path = tmp_path / LAYOUT["pathology"].format(facility=lab)
        if path.exists():
            envelopes += [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len(envelopes) == total
    assert {e["report_id"] for e in envelopes} == {g["report_id"] for g in gold}
    keys = [
        "report_id", "lab_id", "local_patient_id", "family_name", "first_names", "birth_date",
        "sex", "nir", "specimen_id", "hospital_id", "collected_date", "received_date",
        "procedure", "text",
    ]  # fmt: skip
    for env in envelopes:
        assert list(env) == keys
        assert env["procedure"] in ("biopsy", "resection", "cytology")
        assert env["received_date"] >= env["collected_date"]
        assert env["report_id"].startswith(env["lab_id"])
    for g in gold:
        check_gold(g)


def test_same_input_same_bytes(tmp_path: Path) -> None:
    chunks = [build_chunk(60, index=0), build_chunk(60, index=1)]
    _run(tmp_path / "a", 9, chunks)
    _run(tmp_path / "b", 9, chunks)
    _run(tmp_path / "c", 10, chunks)
    a, b, c = (_read_all(tmp_path / x) for x in "abc")
    assert a == b
    assert a != c


def test_chunk_index_changes_stream() -> None:
    ch0 = build_chunk(30, index=0)
    ch1 = TruthChunk(**{**ch0.__dict__, "index": 1})
    w = PathologyFeedWriter(Path("/nonexistent"), seed=1)
    t0 = [r.envelope["text"] for r in w.render(ch0)]
    t1 = [r.envelope["text"] for r in w.render(ch1)]
    assert t0 != t1


def test_missing_identity_row_gives_null_envelope() -> None:
    ch = build_chunk(10)
    ch = TruthChunk(**{**ch.__dict__, "source_records": SOURCE_RECORDS.empty_table()})
    reps = PathologyFeedWriter(Path("/nonexistent"), seed=1).render(ch)
    assert reps
    assert all(r.envelope["local_patient_id"] is None for r in reps)


def test_family_from_codes() -> None:
    assert report_family("C50.4", "8500/3") == "breast"
    assert report_family("C77.0", "9680/3") == "lymphoma"
    assert report_family("C42.1", "9732/3") == "haem"
    assert report_family("C44.5", "8743/3") == "melanoma"
    assert report_family("C38.4", "9052/3") == "mesothelioma"
    assert report_family("C32.0", "8070/3") == "headneck"
    assert report_family("C99.9", "8000/3") == "other"


# --------------------------------------------------------------------------------------
# Numbers (Hypothesis)
# --------------------------------------------------------------------------------------


def _parse_size(text: str) -> float:
    value, unit = text.split(" ")
    number = float(value.replace(",", "."))
    return number * 10 if unit == "cm" else number


@given(
    mm=st.floats(min_value=0.1, max_value=400, allow_nan=False),
    unit=st.sampled_from(["mm", "cm"]),
    sep=st.sampled_from([",", "."]),
)
@settings(max_examples=300, deadline=None)
def test_size_roundtrip(mm: float, unit: str, sep: str) -> None:
    text, gold = format_size(mm, unit=unit, sep=sep)
    assert gold == round(mm, 1)
    assert abs(_parse_size(text) - gold) < 1e-9
    assert text.endswith(f" {unit}")
    other = "." if sep == "," else ","
    assert other not in text


@given(pct=st.floats(min_value=0, max_value=100, allow_nan=False), style=st.integers(0, 5))
@settings(max_examples=300, deadline=None)
def test_percent_roundtrip(pct: float, style: int) -> None:
    text, gold = format_percent(pct, style=style)
    if pct < 1:
        assert gold == 0.0
        assert "1" in text or "0" in text
    else:
        assert gold == round(pct, 1)
        assert float(text.rstrip("%").strip().replace(",", ".")) == gold
    assert 0 <= gold <= 100


@given(value=st.floats(min_value=0, max_value=1e4, allow_nan=False), decimals=st.integers(0, 3))
@settings(max_examples=300, deadline=None)
def test_format_number(value: float, decimals: int) -> None:
    text = format_number(value, decimals=decimals)
    assert not text.endswith(",")
    assert "." not in text
    if "," in text:
        assert not text.endswith("0")
    assert abs(float(text.replace(",", ".")) - value) <= 0.5 * 10**-decimals + 1e-9


@given(p=st.integers(3, 5), s=st.integers(3, 5))
def test_isup_table(p: int, s: int) -> None:
    g = isup_from_gleason(p, s)
    expected = {6: 1, 8: 4, 9: 5, 10: 5}.get(p + s) or (2 if p == 3 else 3)
    assert g == expected
