"""Small, hand-shaped TruthChunks for the hospital FHIR writer's tests and benchmark.

Rows follow ``oncobase.synth.schema``; values are plausible, not calibrated. Person keys are
large odd numbers so that a leak of one into a feed would be visible in a text search.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from oncobase.synth.schema import (
    FACILITIES,
    PERSONS,
    SOURCE_RECORDS,
    SPECIMENS,
    TREATMENTS,
    TUMOURS,
    VISITS,
    TruthChunk,
)

HOSPITALS = [f.id for f in FACILITIES if f.kind == "hospital"]
PERSON_KEY_BASE = 7_340_000_000_017

FAMILY = ["Martin", "Le Gall", "D'Arcy", "Lefèvre-Dupont", "N'Diaye", "Müller", "Øberg", "Ébrard"]
GIVEN_F = ["Marie", "Zoé", "Anne-Sophie", "Hélène", "Maëlys", "Inès"]
GIVEN_M = ["Jean", "François", "Jean-Baptiste", "Loïc", "Noël", "Anaël"]

# site_group, icd10, topography, morphology
SITES = [
    ("breast", "C50.4", "C50.4", "8500/3"),
    ("lung", "C34.1", "C34.1", "8140/3"),
    ("colorectal", "C18.7", "C18.7", "8140/3"),
    ("prostate", "C61", "C61.9", "8140/3"),
    ("melanoma", "C43.5", "C44.5", "8720/3"),
    ("bladder", "C67.9", "C67.9", "8120/3"),
]


def _nir(sex: str, born: dt.date, rng: random.Random) -> str:
    body = (
        f"{1 if sex == 'M' else 2}{born.year % 100:02d}{born.month:02d}75{rng.randint(1, 999):03d}"
    )
    body += f"{rng.randint(1, 999):03d}"
    return body + f"{97 - int(body) % 97:02d}"


@dataclass
class ChunkBuilder:
    """Accumulates rows; ``chunk()`` turns them into Arrow tables."""

    seed: int = 0
    index: int = 0
    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {
            k: []
            for k in ("persons", "tumours", "treatments", "source_records", "visits", "specimens")
        }
    )
    _next: dict[str, int] = field(default_factory=dict)

    def key(self, kind: str) -> int:
        n = self._next.get(kind, 0)
        self._next[kind] = n + 1
        return (self.index + 1) * 10**10 + n * 7 + {"t": 1, "v": 2, "x": 3, "s": 4}[kind]

    def person(
        self,
        rng: random.Random,
        *,
        n_tumours: int = 1,
        hospitals: list[str] | None = None,
        identity: dict[str, Any] | None = None,
    ) -> int:
        """One cancer patient with tumours, hospital records, visits, treatments, specimens."""
        pk = PERSON_KEY_BASE + 2 * (len(self.rows["persons"]) + 1000 * self.index) * 1_000_003
        sex = rng.choice("MF")
        born = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randint(0, 25_000))
        given = [rng.choice(GIVEN_M if sex == "M" else GIVEN_F) for _ in range(rng.randint(1, 3))]
        birth_family = rng.choice(FAMILY)
        used = rng.choice(FAMILY) if sex == "F" and rng.random() < 0.4 else None
        nir = _nir(sex, born, rng)
        self.rows["persons"].append(
            {
                "person_key": pk,
                "sex": sex,
                "birth_date": born,
                "birth_commune": "75056",
                "birth_family_name": birth_family,
                "used_family_name": used,
                "first_names": given,
                "nir": nir,
                "ins": nir,
                "address_line": f"{rng.randint(1, 99)} rue de l'Église",
                "postcode": "35000",
                "residence_commune": "35238",
                "departement": "35",
                "region": "53",
                "is_cancer_patient": True,
                "death_date": None,
                "death_commune": None,
                "death_certificate": None,
                "death_from_cancer": None,
                "vital_status_date": dt.date(2025, 12, 31),
            }
        )
        hosp = hospitals or rng.sample(HOSPITALS, rng.randint(1, 3))
        for h in hosp:
            rec = {
                "source_id": h,
                "source_kind": "hospital",
                "local_id": f"{h[-2:]}{rng.randint(10**7, 10**8 - 1)}",
                "person_key": pk,
                "sex": sex,
                "birth_date": born,
                "birth_commune": "75056",
                "family_name": used or birth_family,
                "birth_family_name": birth_family,
                "first_names": list(given),
                "nir": nir,
                "address_line": "3 rue de l'Église",
                "postcode": "35000",
                "commune": "35238",
                "noise": [],
            }
            if rng.random() < 0.3:  # identity noise of this hospital
                rec["nir"] = None
                rec["first_names"] = given[:1]
                rec["birth_date"] = (
                    dt.date(born.year, born.day, born.month) if born.day <= 12 else born
                )
                rec["family_name"] = (used or birth_family).replace("é", "e").replace("è", "e")
                rec["noise"] = ["nir_missing", "first_only", "swap", "accents"]
            if identity:
                rec.update(identity)
            self.rows["source_records"].append(rec)
        # A lab and a registry also know this person: never in a hospital feed.
        self.rows["source_records"].append(
            {
                "source_id": "LAB01",
                "source_kind": "lab",
                "local_id": f"L{pk % 10**6}",
                "person_key": pk,
                "sex": sex,
                "birth_date": born,
                "birth_commune": None,
                "family_name": "LABONLY",
                "birth_family_name": None,
                "first_names": ["Lab"],
                "nir": None,
                "address_line": None,
                "postcode": None,
                "commune": None,
                "noise": [],
            }
        )
        for number in range(1, n_tumours + 1):
            self._tumour(rng, pk, number, born, hosp)
        return pk

    def _tumour(
        self, rng: random.Random, pk: int, number: int, born: dt.date, hosp: list[str]
    ) -> None:
        group, icd10, topo, morph = rng.choice(SITES)
        diag = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 3600))
        tk = self.key("t")
        m = rng.choice(["0", "0", "1", "1b", None])
        row: dict[str, Any] = {f.name: None for f in TUMOURS}
        row.update(
            {
                "tumour_key": tk,
                "person_key": pk,
                "tumour_number": number,
                "site_group": group,
                "diagnosis_date": diag,
                "age_at_diagnosis": (diag - born).days // 365,
                "icd10": icd10,
                "topography": topo,
                "morphology": morph,
                "basis_of_diagnosis": 7,
                "grade": rng.choice(["G1", "G2", "G3", "high", None]),
                "stage_group": rng.choice(["I", "IIA", "IIIB", "IV", None]),
                "tnm_prefix": rng.choice(["c", "p", "yp", None]),
                "t": rng.choice(["1", "2a", "3", "X", None]),
                "n": rng.choice(["0", "1", None]),
                "m": m,
                "tumour_size_mm": rng.choice([None, 12.0, 23.5, 41.0]),
                "nodes_positive": 1,
                "nodes_examined": 12,
                "margin_status": "R0",
                "neoadjuvant": rng.random() < 0.2,
            }
        )
        if group == "breast":
            row.update(
                er_pct=rng.choice([0.0, 80.0, None]),
                pr_pct=rng.choice([0.0, 0.5, 40.0]),
                her2_ihc=rng.choice(["0", "1+", "2+", "3+"]),
                her2_ish=rng.choice([None, "amplified", "not amplified"]),
                ki67_pct=rng.choice([None, 15.0, 30.0]),
            )
        elif group == "lung":
            row.update(
                egfr_status=rng.choice(["mutated", "wild-type"]),
                egfr_variant="L858R",
                alk_status=rng.choice(["rearranged", "not rearranged"]),
                ros1_status=None,
                kras_status="mutated",
                kras_variant="G12C",
                pdl1_tps_pct=55.0,
            )
        elif group == "colorectal":
            row.update(
                mmr=rng.choice(["proficient", "deficient"]),
                msi="MSS",
                kras_status="wild-type",
                nras_status="wild-type",
                braf_status="mutated",
                braf_variant="V600E",
            )
        elif group == "prostate":
            row.update(gleason_primary=3, gleason_secondary=4, isup_group=2, psa_ng_ml=8.4)
        elif group == "melanoma":
            row.update(braf_status="mutated", braf_variant=None, pdl1_cps=5.0)
        self.rows["tumours"].append(row)
        for h in hosp:
            for i in range(rng.randint(1, 4)):
                start = diag + dt.timedelta(days=15 * i)
                kind = rng.choice(["inpatient", "outpatient", "day-hospital"])
                self.rows["visits"].append(
                    {
                        "visit_key": self.key("v"),
                        "person_key": pk,
                        "tumour_key": tk if i < 3 else None,
                        "hospital_id": h,
                        "kind": kind,
                        "start_date": start,
                        "end_date": start + dt.timedelta(days=3 if kind == "inpatient" else 0),
                        "reason": rng.choice(["diagnosis", "surgery", "chemotherapy", None]),
                    }
                )
        h0 = hosp[0]
        self.rows["specimens"].append(
            {
                "specimen_key": self.key("s"),
                "tumour_key": tk,
                "person_key": pk,
                "lab_id": "LAB01",
                "hospital_id": h0,
                "collected_date": diag,
                "procedure": "biopsy",
                "post_neoadjuvant": False,
            }
        )
        if rng.random() < 0.6:
            self.rows["specimens"].append(
                {
                    "specimen_key": self.key("s"),
                    "tumour_key": tk,
                    "person_key": pk,
                    "lab_id": "LAB01",
                    "hospital_id": hosp[-1],
                    "collected_date": diag + dt.timedelta(days=40),
                    "procedure": rng.choice(["resection", "cytology"]),
                    "post_neoadjuvant": False,
                }
            )
        treatments = [
            ("surgery", "CCAM", "QEFA003", "mastectomie totale", None, None, None),
            ("systemic", "ATC", "L01BC02", "fluorouracile", 6, None, None),
            ("systemic", None, None, "FOLFIRINOX", 12, None, None),
            ("radiotherapy", "RT", "RT3D", "radiothérapie conformationnelle", None, 50.0, 25),
            ("radiotherapy", "RT", None, 'radiothérapie "flash"', None, None, None),
        ]
        for kind, system, code, desc, cycles, dose, fractions in rng.sample(treatments, 3):
            start = diag + dt.timedelta(days=rng.randint(10, 90))
            self.rows["treatments"].append(
                {
                    "treatment_key": self.key("x"),
                    "tumour_key": tk,
                    "person_key": pk,
                    "hospital_id": rng.choice(hosp),
                    "kind": kind,
                    "start_date": start,
                    "end_date": None if kind == "surgery" else start + dt.timedelta(days=60),
                    "code": code,
                    "code_system": system,
                    "description": desc,
                    "cycles": cycles,
                    "dose_gy": dose,
                    "fractions": fractions,
                }
            )

    def chunk(self) -> TruthChunk:
        def table(name: str, schema: pa.Schema) -> pa.Table:
            return pa.Table.from_pylist(self.rows[name], schema=schema)

        return TruthChunk(
            index=self.index,
            persons=table("persons", PERSONS),
            tumours=table("tumours", TUMOURS),
            treatments=table("treatments", TREATMENTS),
            source_records=table("source_records", SOURCE_RECORDS),
            visits=table("visits", VISITS),
            specimens=table("specimens", SPECIMENS),
        )


def make_chunk(n_persons: int = 40, *, seed: int = 0, index: int = 0) -> TruthChunk:
    """A chunk of ``n_persons`` cancer patients, a fifth of them with a second primary."""
    rng = random.Random(seed)
    builder = ChunkBuilder(seed=seed, index=index)
    for _ in range(n_persons):
        builder.person(rng, n_tumours=2 if rng.random() < 0.2 else 1)
    return builder.chunk()
