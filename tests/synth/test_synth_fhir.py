"""The hospital FHIR feeds: validity (fhir.resources R4B models), references, profiles,
identity fidelity, determinism, isolation between hospitals, no truth-key leak."""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncobase.synth.fhir import (
    CODE_SYSTEMS,
    MCODE_PROFILES,
    RESOURCE_TYPES,
    HospitalFeedWriter,
    build_resources,
)
from oncobase.synth.schema import LAYOUT, TruthChunk

sys.path.insert(0, str(Path(__file__).parent))
from _builders_fhir import HOSPITALS, ChunkBuilder, make_chunk

MCODE_TYPES = {
    "Patient",
    "Condition",
    "Observation",
    "Procedure",
    "MedicationRequest",
    "MedicationAdministration",
    "Specimen",
}


def write(chunks: list[TruthChunk], out: Path) -> list[dict[str, int]]:
    writer = HospitalFeedWriter(out)
    try:
        return [writer.write(c) for c in chunks]
    finally:
        writer.close()


def read_export(out: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """hospital -> resource type -> resources."""
    export: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(dict)
    for path in sorted((out / "feeds" / "hospitals").glob("*/*.ndjson")):
        lines = path.read_bytes().splitlines()
        export[path.parent.name][path.stem] = [orjson.loads(line) for line in lines]
    return export


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def fhir_json_rules(node: Any, path: str = "") -> None:
    """FHIR JSON rules the models do not check: no null, no empty array, object or string."""
    assert node is not None, f"null at {path}"
    if isinstance(node, dict):
        assert node, f"empty object at {path}"
        for key, value in node.items():
            fhir_json_rules(value, f"{path}.{key}")
    elif isinstance(node, list):
        assert node, f"empty array at {path}"
        for i, item in enumerate(node):
            fhir_json_rules(item, f"{path}[{i}]")
    elif isinstance(node, str):
        assert node.strip(), f"blank string at {path}"


def validate(resource_type: str, line: bytes | str) -> None:
    """Parse with the fhir.resources R4B model of the type (R4B models stand in for R4)."""
    get_fhir_model_class(resource_type).model_validate_json(line)
    fhir_json_rules(orjson.loads(line), resource_type)


@pytest.fixture(scope="module")
def chunk() -> TruthChunk:
    return make_chunk(60, seed=7)


@pytest.fixture(scope="module")
def export_dir(chunk: TruthChunk, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fhir")
    write([chunk], out)
    return out


@pytest.fixture(scope="module")
def export(export_dir: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return read_export(export_dir)


def test_layout_and_counts(chunk: TruthChunk, tmp_path: Path) -> None:
    counts = write([chunk], tmp_path)[0]
    assert set(counts) == set(RESOURCE_TYPES)
    on_disk: dict[str, int] = defaultdict(int)
    for path in (tmp_path / "feeds" / "hospitals").glob("*/*.ndjson"):
        hospital, resource = path.parent.name, path.stem
        assert path == tmp_path / LAYOUT["hospitals"].format(facility=hospital, resource=resource)
        assert hospital in HOSPITALS
        data = path.read_bytes()
        assert data.endswith(b"\n")
        assert b"\n\n" not in data
        on_disk[resource] += data.count(b"\n")
    assert dict(on_disk) == {k: v for k, v in counts.items() if v}
    assert all(counts[t] > 0 for t in RESOURCE_TYPES)


def test_every_resource_validates_with_r4b_models(export_dir: Path) -> None:
    n = 0
    for path in sorted((export_dir / "feeds" / "hospitals").glob("*/*.ndjson")):
        for line in path.read_bytes().splitlines():
            assert orjson.loads(line)["resourceType"] == path.stem
            validate(path.stem, line)
            n += 1
    assert n > 1000


def test_references_resolve_inside_the_hospital(export: Any) -> None:
    checked = 0
    for hospital, by_type in export.items():
        ids = {f"{rtype}/{r['id']}" for rtype, resources in by_type.items() for r in resources}
        assert len(ids) == sum(len(v) for v in by_type.values()), f"duplicate ids in {hospital}"
        for resources in by_type.values():
            for resource in resources:
                for ref in references(resource):
                    assert ref in ids, f"{hospital}: {ref} unresolved"
                    checked += 1
    assert checked > 1000


def test_ids_differ_between_hospitals(export: Any) -> None:
    seen: dict[str, str] = {}
    for hospital, by_type in export.items():
        for rtype, resources in by_type.items():
            for r in resources:
                key = f"{rtype}/{r['id']}"
                assert seen.setdefault(key, hospital) == hospital


def test_mcode_profiles(export: Any) -> None:
    used: set[str] = set()
    known = set(MCODE_PROFILES.values())
    for by_type in export.values():
        for rtype, resources in by_type.items():
            for r in resources:
                profiles = r.get("meta", {}).get("profile", [])
                if rtype in MCODE_TYPES:
                    assert profiles, f"{rtype}/{r['id']} has no profile"
                assert set(profiles) <= known
                used.update(profiles)
    assert used == known  # the small chunk exercises every profile we declare


def test_clinical_content(chunk: TruthChunk, export: Any) -> None:
    tumours = {t["tumour_key"]: t for t in chunk.tumours.to_pylist()}
    by_icd = defaultdict(list)
    for t in tumours.values():
        by_icd[t["icd10"]].append(t)
    secondary = 0
    for by_type in export.values():
        for cond in by_type.get("Condition", []):
            coding = cond["code"]["coding"][0]
            assert coding["system"] == CODE_SYSTEMS["icd10"]
            ext = cond["extension"]
            if cond["meta"]["profile"][0] == MCODE_PROFILES["secondary_condition"]:
                secondary += 1
                assert coding["code"][:3] in {"C77", "C78", "C79"}
                morph = next(e for e in ext if "histology" in e["url"])
                assert morph["valueCodeableConcept"]["coding"][0]["code"].endswith("/6")
            else:
                assert coding["code"] in by_icd
                assert cond["bodySite"][0]["coding"][0]["system"] == CODE_SYSTEMS["icdo3"]
        for med in by_type.get("MedicationRequest", []):
            codings = med["medicationCodeableConcept"].get("coding", [])
            assert all(c["system"] for c in codings)
        for proc in by_type.get("Procedure", []):
            if proc["meta"]["profile"][0] == MCODE_PROFILES["radiotherapy_course"]:
                assert proc["code"]["coding"][0]["code"] == "1217123003"
    m1 = [t for t in tumours.values() if (t["m"] or "").startswith("1")]
    assert (secondary > 0) == bool(m1)
    loinc = {
        c["code"]
        for by_type in export.values()
        for o in by_type.get("Observation", [])
        for c in o["code"]["coding"]
        if c["system"] == CODE_SYSTEMS["loinc"]
    }
    assert {"16112-5", "48676-1", "2857-1"} <= loinc  # ER, HER2, PSA from biomarkers.csv


def _fhir_identity(patient: dict[str, Any]) -> dict[str, Any]:
    ident = {i["system"]: i["value"] for i in patient["identifier"]}
    names = {n["use"]: n for n in patient.get("name", [])}
    official = names.get("official", {})
    address = patient.get("address", [{}])[0]
    birth_place = None
    for ext in patient.get("extension", []):
        if ext["url"].endswith("patient-birthPlace"):
            birth_place = ext["valueAddress"]["extension"][0]["valueCoding"]["code"]
    city = None
    for ext in address.get("extension", []):
        city = ext["valueCoding"]["code"]
    return {
        "nir": ident.get(CODE_SYSTEMS["ins_nir"]),
        "official_family": official.get("family"),
        "given": official.get("given"),
        "usual_family": names.get("usual", {}).get("family"),
        "sex": {"male": "M", "female": "F"}.get(patient.get("gender", "")),
        "birth_date": patient.get("birthDate"),
        "birth_commune": birth_place,
        "address_line": (address.get("line") or [None])[0],
        "postcode": address.get("postalCode"),
        "commune": city,
    }


def _expected_identity(rec: dict[str, Any]) -> dict[str, Any]:
    def clean(v: str | None) -> str | None:
        return v if v is not None and v.strip() else None

    family, birth_family = clean(rec["family_name"]), clean(rec["birth_family_name"])
    given = [g for g in rec["first_names"] or [] if g.strip()] or None
    official = birth_family or family
    return {
        "nir": clean(rec["nir"]),
        "official_family": official,
        "given": given if (official or given) else None,
        "usual_family": family if family and birth_family and family != birth_family else None,
        "sex": rec["sex"],
        "birth_date": rec["birth_date"].isoformat() if rec["birth_date"] else None,
        "birth_commune": clean(rec["birth_commune"]),
        "address_line": clean(rec["address_line"]),
        "postcode": clean(rec["postcode"]),
        "commune": clean(rec["commune"]),
    }


def _mrn(patient: dict[str, Any], hospital: str) -> str:
    system = f"{CODE_SYSTEMS['mrn_prefix']}{hospital}/ipp"
    return next(i["value"] for i in patient["identifier"] if i["system"] == system)


def test_patient_identity_is_the_hospitals_record(chunk: TruthChunk, export: Any) -> None:
    records = {
        (r["source_id"], r["local_id"]): r
        for r in chunk.source_records.to_pylist()
        if r["source_kind"] == "hospital"
    }
    noisy = 0
    for hospital, by_type in export.items():
        for patient in by_type["Patient"]:
            rec = records[(hospital, _mrn(patient, hospital))]
            assert _fhir_identity(patient) == _expected_identity(rec)
            noisy += bool(rec["noise"])
    assert noisy > 0  # the noise of the hospital's record is what the feed carries


def test_each_hospital_sees_only_its_own(chunk: TruthChunk, export: Any) -> None:
    local_ids: dict[str, set[str]] = defaultdict(set)
    for r in chunk.source_records.to_pylist():
        local_ids[r["source_id"]].add(r["local_id"])
    visits: dict[str, int] = defaultdict(int)
    for v in chunk.visits.to_pylist():
        visits[v["hospital_id"]] += 1
    specimens: dict[str, int] = defaultdict(int)
    for s in chunk.specimens.to_pylist():
        specimens[s["hospital_id"]] += 1
    for hospital in HOSPITALS:
        by_type = export.get(hospital, {})
        mrns = {_mrn(p, hospital) for p in by_type.get("Patient", [])}
        assert mrns == local_ids.get(hospital, set())
        assert len(by_type.get("Encounter", [])) == visits.get(hospital, 0)
        assert len(by_type.get("Specimen", [])) == specimens.get(hospital, 0)


def test_no_truth_key_leaks(chunk: TruthChunk, export_dir: Path) -> None:
    text = b"".join(p.read_bytes() for p in export_dir.rglob("*.ndjson"))
    assert b"person_key" not in text
    assert b"LABONLY" not in text  # a lab's record never reaches a hospital feed
    for pk in chunk.persons.column("person_key").to_pylist():
        assert str(pk).encode() not in text


def test_same_chunk_same_bytes(chunk: TruthChunk, tmp_path: Path) -> None:
    second = make_chunk(15, seed=8, index=1)
    write([chunk, second], tmp_path / "a")
    write([chunk, second], tmp_path / "b")
    write([chunk, second], tmp_path / "b")  # rewriting into the same folder: same bytes
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.ndjson"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.ndjson"))
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_chunks_append(chunk: TruthChunk, tmp_path: Path) -> None:
    second = make_chunk(15, seed=8, index=1)
    counts = write([chunk, second], tmp_path)
    total = {t: counts[0][t] + counts[1][t] for t in RESOURCE_TYPES}
    export = read_export(tmp_path)
    for rtype in RESOURCE_TYPES:
        assert sum(len(h.get(rtype, [])) for h in export.values()) == total[rtype]


def test_empty_chunk(tmp_path: Path) -> None:
    counts = write([ChunkBuilder().chunk()], tmp_path)[0]
    assert counts == dict.fromkeys(RESOURCE_TYPES, 0)


# ---------------------------------------------------------------------------------------------
# Generated identities: accents, apostrophes, hyphens, odd characters and missing fields.

NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéèêëàâîïôöùûüçÉÈÀÇŒœÆæ'’- \"\\"
names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=30)
optional_name = st.none() | names
opt_code = st.none() | st.from_regex(r"\A[0-9]{5}\Z") | st.just("")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    family=optional_name,
    birth_family=optional_name,
    first=st.none() | st.lists(names, min_size=0, max_size=4),
    nir=st.none() | st.from_regex(r"\A[12][0-9]{14}\Z"),
    sex=st.sampled_from(["M", "F", None]),
    birth=st.none() | st.dates(dt.date(1900, 1, 1), dt.date(2024, 12, 31)),
    commune=opt_code,
    birth_commune=opt_code,
    postcode=opt_code,
    line=st.none() | names,
    local_id=st.from_regex(r"\A[A-Za-z0-9\-_/ ]{1,20}\Z"),
    tnm=st.none() | st.sampled_from(["1", "2a", "1mi", "X"]),
)
def test_generated_identities_give_valid_resources(
    family: str | None,
    birth_family: str | None,
    first: list[str] | None,
    nir: str | None,
    sex: str | None,
    birth: dt.date | None,
    commune: str | None,
    birth_commune: str | None,
    postcode: str | None,
    line: str | None,
    local_id: str,
    tnm: str | None,
) -> None:
    identity = {
        "family_name": family, "birth_family_name": birth_family, "first_names": first,
        "nir": nir, "sex": sex, "birth_date": birth, "commune": commune,
        "birth_commune": birth_commune, "postcode": postcode, "address_line": line,
        "local_id": local_id,
    }  # fmt: skip
    builder = ChunkBuilder()
    builder.person(random.Random(1), hospitals=["HOSP03"], identity=identity)
    builder.rows["tumours"][0].update(t=tnm, m=tnm)
    chunk = builder.chunk()
    resources = build_resources(chunk)
    for rtype, df in resources.items():
        for line_ in df["json"]:
            orjson.loads(line_)
            validate(rtype, line_)
    (patient_line,) = resources["Patient"]["json"].to_list()
    patient = orjson.loads(patient_line)
    assert _mrn(patient, "HOSP03") == local_id
    record = chunk.source_records.filter(
        pa.compute.equal(chunk.source_records["source_id"], "HOSP03")
    )
    assert _fhir_identity(patient) == _expected_identity(record.to_pylist()[0])


def test_writer_into_temporary_folder_round_trips() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        counts = write([make_chunk(3, seed=3)], Path(tmp))[0]
        assert sum(len(v) for h in read_export(Path(tmp)).values() for v in h.values()) == sum(
            counts.values()
        )
