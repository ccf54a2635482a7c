"""Opt-outs: recorded by the patient or a clinician, effective from the next extract and the
next cohort build, the time they took effect audited."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.share._store import COHORT, build_lung_store

from oncobase.cohorts import build_cohort, load_cohort, read_build_record
from oncobase.cohorts.build import OPT_OUT_RULE
from oncobase.config import Settings
from oncobase.linkage import pseudonyms
from oncobase.pipeline import run_pipeline
from oncobase.share import ShareError
from oncobase.share.extract import PSEUDONYM, PermitSpec, build_extract
from oncobase.share.optout import active_optouts, apply_optouts, record_optout, withdraw_optout
from oncobase.store import Backend, connect
from oncobase.store.audit import audit_key, search_audit, verify_audit
from oncobase.store.operational import OptOut, engine_of, open_operational

KEY = bytes(range(32, 64))
AUDIT_KEY = b"a" * 32


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    made = open_operational(f"sqlite:///{tmp_path / 'operational.sqlite3'}")
    yield made
    engine_of(made).dispose()


def _members(backend: Backend) -> list[int]:
    rows = backend.query_arrow(
        "SELECT c.subject_id FROM cohort c JOIN cohort_definition d "
        "ON d.cohort_definition_id = c.cohort_definition_id "
        "WHERE d.cohort_definition_name = $1 ORDER BY 1",
        (COHORT,),
    )
    return [int(v) for v in rows["subject_id"].to_pylist()]


def test_record_withdraw_and_list(factory: sessionmaker[Session]) -> None:
    first = record_optout(factory, 7, by="patient:7", channel="patient")
    again = record_optout(factory, 7, by="dr-house", channel="clinician")
    assert again.optout_id == first.optout_id  # one active objection per person
    record_optout(factory, 3, by="dr-house", channel="clinician")
    assert active_optouts(factory) == [3, 7]
    withdraw_optout(factory, 7, by="patient:7")
    assert active_optouts(factory) == [3]
    with pytest.raises(ShareError, match="no active opt-out"):
        withdraw_optout(factory, 7, by="patient:7")
    with pytest.raises(ShareError, match="channel 'email'"):
        record_optout(factory, 9, by="x", channel="email")
    with pytest.raises(ShareError, match="positive person id"):
        record_optout(factory, 0, by="x", channel="patient")


def test_apply_audits_each_opt_out_once_with_its_effective_time(
    factory: sessionmaker[Session],
) -> None:
    record_optout(factory, 5, by="patient:5", channel="patient")
    record_optout(factory, 8, by="dr-house", channel="clinician")
    assert apply_optouts(factory, AUDIT_KEY, applied_by="pipeline:test") == [5, 8]
    entries = search_audit(factory, action="optout.effective")
    assert sorted(e.target for e in entries) == ["person:5", "person:8"]
    with factory() as session:
        rows = {o.person_id: o for o in session.scalars(select(OptOut))}
    for entry in entries:
        detail = json.loads(entry.detail)
        optout = rows[int(entry.target.split(":")[1])]
        assert optout.effective_at is not None
        assert detail["effective_at"] == optout.effective_at.isoformat()
        assert detail["recorded_at"] == optout.recorded_at.isoformat()
        assert detail["delay_seconds"] >= 0 and detail["channel"] == optout.channel
    # a second application excludes the same persons and audits nothing new
    assert apply_optouts(factory, AUDIT_KEY, applied_by="pipeline:test") == [5, 8]
    assert len(search_audit(factory, action="optout.effective")) == 2
    record_optout(factory, 9, by="patient:9", channel="patient")
    assert apply_optouts(factory, AUDIT_KEY, applied_by="pipeline:test") == [5, 8, 9]
    assert len(search_audit(factory, action="optout.effective")) == 3
    assert verify_audit(factory, AUDIT_KEY).ok


def test_opted_out_patient_absent_from_next_extract_and_cohort_build(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    store = build_lung_store(tmp_path / "store.duckdb", persons=40)
    permit = PermitSpec(permit_id=1, project_id="proj", cohort=COHORT,
                        variables=("person.sex", "tumour.icd10"), date_precision="day")  # fmt: skip
    with connect(f"duckdb:///{store}") as backend:
        before = _members(backend)
        assert 12 in before
        code = pseudonyms(pa.array([12], pa.int64()), key=KEY, project_id="proj")[0].as_py()
        first = build_extract(backend, permit, out_dir=tmp_path / "x1", pseudonym_key=KEY,
                              excluded_person_ids=apply_optouts(factory, AUDIT_KEY,
                                                                applied_by="t"))  # fmt: skip
        assert (
            code
            in pq.read_table(first.folder / "parquet" / "person.parquet")[PSEUDONYM].to_pylist()
        )
        record_optout(factory, 12, by="patient:12", channel="patient")
        excluded = apply_optouts(factory, AUDIT_KEY, applied_by="t")
        second = build_extract(backend, permit, out_dir=tmp_path / "x2", pseudonym_key=KEY,
                               excluded_person_ids=excluded)  # fmt: skip
        assert second.persons == first.persons - 1
        for path in (second.folder / "parquet").glob("*.parquet"):
            assert code not in pq.read_table(path)[PSEUDONYM].to_pylist()
        assert code.encode() not in (second.folder / "fhir" / "Patient.ndjson").read_bytes()
        # the next cohort build leaves the person out, with an attrition line
        build = build_cohort(backend, load_cohort(COHORT), excluded_person_ids=excluded)
        after = _members(backend)
        assert after == [p for p in before if p != 12]
        assert build.members == len(after)
        last = build.attrition.to_pylist()[-1]
        assert last["rule"] == OPT_OUT_RULE and last["dropped"] == 1
        assert last["persons"] == len(after)
        record = read_build_record(backend, COHORT)
        assert record is not None
        assert record["build"]["attrition"][-1]["rule"] == OPT_OUT_RULE
        # withdrawn: back in the build after that
        withdraw_optout(factory, 12, by="patient:12")
        build_cohort(backend, load_cohort(COHORT),
                     excluded_person_ids=apply_optouts(factory, AUDIT_KEY, applied_by="t"))  # fmt: skip
        assert _members(backend) == before


def test_cohorts_pipeline_step_reads_the_opt_outs(home: Settings, tmp_path: Path) -> None:
    store = build_lung_store(home.home_path / "store.duckdb", persons=30)
    factory = open_operational(home.resolved_operational_url)
    try:
        record_optout(factory, 4, by="dr-house", channel="clinician")
        with connect(f"duckdb:///{store}") as backend:
            report = run_pipeline(backend, home, only="cohorts", force=True, show_progress=False)
            assert report is not None
            members = _members(backend)
            record = read_build_record(backend, COHORT)
        assert 4 not in members and 3 in members and 5 in members
        assert record is not None and record["build"]["attrition"][-1]["dropped"] == 1
        entries = search_audit(factory, action="optout.effective")
        assert [e.target for e in entries] == ["person:4"]
        assert entries[0].actor == "pipeline:cohorts"
        assert verify_audit(factory, audit_key(home)).ok
    finally:
        engine_of(factory).dispose()
