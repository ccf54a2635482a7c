"""A small FHIR NDJSON export written into tmp_path for the FHIR ingestion tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
NIR = "285017512345678"
FAMILY = "Zorglubienne"
GIVEN = "Ermengarde"


def patient(pid: str = "p1", *, postcode: str = "20167") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": NIR_SYSTEM, "value": NIR}],
        "name": [{"use": "official", "family": FAMILY, "given": [GIVEN]}],
        "gender": "female",
        "birthDate": "1950-01-31",
        "address": [{"use": "home", "line": ["1 rue Secrète"], "postalCode": postcode}],
    }


def condition(cid: str = "c1", pid: str = "p1", *, onset: str = "2019-05-02") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "extension": [
            {
                "url": "http://hl7.org/fhir/us/mcode/StructureDefinition/"
                "mcode-histology-morphology-behavior",
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/icd-o-3",
                            "code": "8500/3",
                        }
                    ]
                },
            }
        ],
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "C50.4"}]},
        "bodySite": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/icd-o-3", "code": "C50.4"}
                ]
            }
        ],
        "subject": {"reference": f"Patient/{pid}"},
        "onsetDateTime": onset,
    }


def stage_obs(oid: str = "o1", cid: str = "c1", pid: str = "p1") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "21905-5"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "focus": [{"reference": f"Condition/{cid}"}],
        "effectiveDateTime": "2019-05",
        "valueCodeableConcept": {
            "coding": [{"system": "https://oncobase.invalid/fhir/CodeSystem/tnm8", "code": "2"}],
            "text": "c2",
        },
    }


def drug(mid: str = "m1", cid: str = "c1", pid: str = "p1") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": "completed",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.whocc.no/atc", "code": "L01CD01"}]
        },
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": "2019-06-01",
        "reasonReference": [{"reference": f"Condition/{cid}"}],
    }


def surgery(sid: str = "s1", cid: str = "c1", pid: str = "p1") -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": sid,
        "status": "completed",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "392021009"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "performedPeriod": {"start": "2019-05-20", "end": "2019-05-20"},
        "reasonReference": [{"reference": f"Condition/{cid}"}],
    }


@dataclass
class Testbed:
    """Writes NDJSON files (one per resource type, or raw bytes) into a source folder."""

    __test__ = False
    folder: Path
    files: dict[str, list[bytes]] = field(default_factory=dict)

    def add(self, *resources: dict[str, Any], file: str | None = None) -> Testbed:
        for resource in resources:
            name = file or f"{resource['resourceType']}.ndjson"
            self.files.setdefault(name, []).append(orjson.dumps(resource))
        return self

    def add_raw(self, name: str, line: bytes) -> Testbed:
        self.files.setdefault(name, []).append(line)
        return self

    def minimal(self) -> Testbed:
        return self.add(patient(), condition(), stage_obs(), drug(), surgery())

    def write(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, lines in self.files.items():
            (self.folder / name).write_bytes(b"\n".join(lines) + b"\n")
        return self.folder
