"""Every tumour rule: records that break it and records that do not (tests/quality/_cases.py),
checked together in one run so the suite stays fast."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from _cases import AS_OF, CASES, COLUMNS, build_golden, make_record

from oncobase.quality import TumourCheckResult, check_tumours, load_rules


def _table(records: list[dict[str, Any]]) -> pa.Table:
    return pa.table({c: [r.get(c, "") for r in records] for c in COLUMNS})


def _per_record(result: TumourCheckResult, n: int) -> list[set[str]]:
    out: list[set[str]] = [set() for _ in range(n)]
    for rec, check in zip(
        result.findings["rec"].to_pylist(), result.findings["check_id"].to_pylist(), strict=True
    ):
        out[rec].add(check)
    return out


@pytest.fixture(scope="module")
def golden() -> tuple[list[str], list[set[str]], list[set[str]]]:
    records, expected, owner = build_golden()
    result = check_tumours(_table(records), as_of=AS_OF)
    return owner, expected, _per_record(result, len(records))


def test_every_rule_has_a_case() -> None:
    assert {r.id for r in load_rules().rules} == {c[0] for c in CASES}


@pytest.mark.parametrize("rule", [c[0] for c in CASES])
def test_rule_fires_on_bad_and_not_on_good(
    rule: str, golden: tuple[list[str], list[set[str]], list[set[str]]]
) -> None:
    owner, expected, found = golden
    bad = [i for i, o in enumerate(owner) if o == f"bad:{rule}"]
    good = [i for i, o in enumerate(owner) if o == f"good:{rule}"]
    assert bad and good
    assert [found[i] for i in bad] == [expected[i] for i in bad]
    assert any(rule in found[i] for i in bad)
    assert all(found[i] == set() for i in good)


def test_rules_are_well_formed() -> None:
    for rule in load_rules().rules:
        assert rule.level in ("error", "warning")
        assert rule.id.startswith("E-" if rule.level == "error" else "W-")
        assert rule.message.endswith(".") and rule.source
        assert "NOTES_QUALITY" in rule.source or "OncoBase" in rule.source


def test_messages_never_echo_record_values() -> None:
    secret = "DUPONT-1234567890123"
    record = make_record({"patient_id": secret, "tumour_id": secret, "sex": secret,
                          "topography": secret, "morphology": secret}, case=0, index=0)  # fmt: skip
    result = check_tumours(_table([record]), as_of=AS_OF)
    assert result.findings.num_rows >= 3
    for message in result.findings["message"].to_pylist():
        assert secret not in message
    assert secret not in str(result.summary())
