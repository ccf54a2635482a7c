"""Incremental runs against the vault, and clerical non-match decisions that chaining cannot
bypass (full and incremental runs). Real vault files, the test generator's records."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from oncobase.config import Settings
from oncobase.linkage import Vault, decide, link_into_vault, pairwise_scores, person_index_table


def _index(settings: Settings) -> dict[str, int]:
    rows = person_index_table(settings).to_pylist()
    index = {r["local_id"]: r["person_id"] for r in rows}
    assert len(index) == len(rows)  # one row per record: upserts never duplicate a key
    return index


def _f1(index: dict[str, int], truth: pa.Table) -> float:
    ids = truth["record_id"].to_pylist()
    predicted = pa.table({"record_id": ids, "cluster_id": [index[i] for i in ids]})
    return pairwise_scores(predicted, truth.select(["record_id", "person"])).f1


def _chain(settings: Settings) -> tuple[str, str, list[str]]:
    """Two records A, B of one indexed person of at least three records (so they are also
    joined through the others), and the person's records."""
    persons: dict[int, list[str]] = {}
    for local, pid in _index(settings).items():
        persons.setdefault(pid, []).append(local)
    group = sorted(next(v for _, v in sorted(persons.items()) if len(v) >= 3))
    return group[0], group[-1], group


def _declare(settings: Settings, records: pa.Table, a: str, b: str, decision: str) -> None:
    """Put the pair (a, b) up for review, then decide it through the public function."""
    source = dict(zip(records["record_id"].to_pylist(), records["source"].to_pylist(),
                      strict=True))  # fmt: skip
    pair_id = f"t-{a}-{b}"
    with Vault(settings) as vault:
        vault.con.execute(
            "INSERT INTO linkage__review VALUES (?, ?, ?, ?, ?, 0.7, 'test')",
            [pair_id, source[a], a, source[b], b],
        )
    decide(settings, pair_id, decision)


def test_increment_links_only_what_the_new_records_touch(
    settings: Settings, noisy_records: pa.Table
) -> None:
    records = noisy_records.slice(0, 3000)
    first, batch = records.slice(0, 2850), records.slice(2850)  # a 5 % increment
    full = link_into_vault(first.drop(["person"]), settings=settings)
    before = _index(settings)
    step = link_into_vault(batch.drop(["person"]), settings=settings)
    assert step.kind == "incremental"
    c = step.counts
    assert c["new_records"] == 150
    # only the new records and the persons they may join are relinked, not the index
    assert c["relinked_records"] < 0.2 * full.counts["records"], c
    assert c["candidates"] > 0 and c["involved_persons"] > 0
    after = _index(settings)
    assert len(after) == 3000
    assert sum(after[k] == v for k, v in before.items()) >= 0.995 * len(before)
    assert _f1(after, records) >= 0.99
    # the model was not retrained: the increment keeps the full run's parameters
    with Vault(settings) as vault:
        models = vault.query("SELECT model_json FROM linkage__runs")["model_json"].to_pylist()
    assert len(models) == 2 and models[0] == models[1]


def test_restaged_records_are_not_linked_again(settings: Settings, noisy_records: pa.Table) -> None:
    records = noisy_records.slice(0, 1600).drop(["person"])
    link_into_vault(records.slice(0, 1500), settings=settings)
    # the pipeline passes everything staged so far: the known records are recognised
    step = link_into_vault(records, settings=settings)
    assert step.kind == "incremental" and step.counts["new_records"] == 100
    with Vault(settings) as vault:
        stored = vault.query(
            "SELECT kind, sum(n_rows) AS n FROM vault__batches GROUP BY kind ORDER BY kind"
        ).to_pylist()
    assert stored == [{"kind": "features", "n": 1600}, {"kind": "identity", "n": 1600}]
    again = link_into_vault(records.slice(1, 1599), settings=settings)  # nothing new
    assert again.kind == "unchanged" and again.counts["new_records"] == 0
    assert len(_index(settings)) == 1600


def test_a_corrected_identity_is_relinked(settings: Settings, noisy_records: pa.Table) -> None:
    records = noisy_records.slice(0, 1500).drop(["person"])
    link_into_vault(records, settings=settings)
    index = _index(settings)
    ids = records["record_id"].to_pylist()
    x = ids[0]
    y = next(i for i in ids if index[i] != index[x] and index[i] != index[ids[1]])
    # the source corrects record x: it now carries y's identity
    row_y = records.filter(pc.equal(records["record_id"], y)).to_pylist()[0]
    row_x = {**row_y, "record_id": x, "source": records["source"][0].as_py()}
    fixed = pa.Table.from_pylist([row_x], schema=records.schema)
    step = link_into_vault(fixed, settings=settings)
    assert step.kind == "incremental" and step.counts["new_records"] == 1
    after = _index(settings)
    assert len(after) == 1500
    assert after[x] == after[y]


def test_non_match_holds_against_chaining_in_a_full_run(
    settings: Settings, noisy_records: pa.Table
) -> None:
    records = noisy_records.slice(0, 1500).drop(["person"])
    link_into_vault(records, settings=settings)
    a, b, group = _chain(settings)
    _declare(settings, records, a, b, "non-match")
    summary = link_into_vault(records.slice(0, 1499), settings=settings, incremental=False)
    assert summary.kind == "full"
    after = _index(settings)
    assert after[a] != after[b]
    # the rest of the person still joins one of the two: only the chain was cut
    assert all(after[r] in (after[a], after[b]) for r in group)
    assert summary.counts["links_refused_by_non_match"] >= 1


def test_decisions_are_enforced_by_incremental_runs(
    settings: Settings, noisy_records: pa.Table
) -> None:
    records = noisy_records.slice(0, 3000)
    first, batch = records.slice(0, 2850).drop(["person"]), records.slice(2850).drop(["person"])
    link_into_vault(first, settings=settings)
    a, b, group = _chain(settings)
    index = _index(settings)
    others = sorted({pid for pid in index.values() if pid != index[a]})
    c, d = (next(k for k, v in index.items() if v == pid) for pid in others[:2])
    _declare(settings, first, a, b, "non-match")
    _declare(settings, first, c, d, "match")
    step = link_into_vault(batch, settings=settings)
    assert step.kind == "incremental"
    assert step.counts["split_persons"] == 1
    after = _index(settings)
    assert after[a] != after[b]
    assert all(after[r] in (after[a], after[b]) for r in group)
    assert index[a] in (after[a], after[b])  # the larger part keeps the person's id
    assert after[c] == after[d] == min(index[c], index[d])
    assert len(after) == 3000
    # a later run with nothing new changes nothing
    again = link_into_vault(batch, settings=settings)
    assert again.kind == "unchanged" and _index(settings) == after


@pytest.fixture(scope="module")
def trained_model(noisy_records: pa.Table) -> dict[str, Any]:
    from oncobase.linkage import link_identities

    return link_identities(noisy_records.slice(0, 1500).drop(["person"])).model


@pytest.mark.parametrize("layout", ["interleaved", "new_last"])
def test_restricted_scoring_finds_every_pair_with_a_new_record(
    noisy_records: pa.Table, trained_model: dict[str, Any], layout: str
) -> None:
    """The increment's blocking (one-sided conditions pushed below the joins) yields exactly
    the pairs of the full blocking that involve a new record, whether the new records come
    last (one rule per blocking rule) or not (two)."""
    from oncobase.linkage import normalise_identities
    from oncobase.linkage.link import predict_pairs
    from oncobase.linkage.model import Thresholds

    records = noisy_records.slice(0, 1500).drop(["person"])
    model = trained_model
    features = normalise_identities(records)
    n = features.num_rows
    if layout == "interleaved":
        flags = pa.array([i % 7 == 3 or 600 <= i < 650 for i in range(n)])
    else:
        flags = pa.array([i >= n - 200 for i in range(n)])
    features = features.append_column("is_new", flags)
    low = Thresholds(match=0.95, review=0.01)
    restricted, _ = predict_pairs(features, model=model, thresholds=low, restrict_to_new=True)
    everything, _ = predict_pairs(features, model=model, thresholds=low)
    new = set(pc.indices_nonzero(flags).to_pylist())

    def pairs(table: pa.Table) -> set[tuple[int, int]]:
        return {(min(a, b), max(a, b)) for a, b in zip(table["uid_l"].to_pylist(),
                                                       table["uid_r"].to_pylist(), strict=True)}  # fmt: skip

    expected = {p for p in pairs(everything) if p[0] in new or p[1] in new}
    assert expected and pairs(restricted) == expected


class _StoppedError(Exception):
    """An interruption (a user's Ctrl-C, a killed worker) while the pairs are scored."""


def _stop_when_scoring(message: str) -> None:
    if message == "scoring candidate pairs":
        raise _StoppedError


def test_a_run_stopped_while_linking_is_run_again_in_full(
    settings: Settings, noisy_records: pa.Table
) -> None:
    """Records are sealed beside the linking, but registered (fingerprints) only once the
    index holds them: the same input given again is linked, not skipped as known."""
    records = noisy_records.slice(0, 3000)
    first, batch = records.slice(0, 2850), records.slice(2850)
    with pytest.raises(_StoppedError):
        link_into_vault(first.drop(["person"]), settings=settings, progress=_stop_when_scoring)
    assert link_into_vault(first.drop(["person"]), settings=settings).kind == "full"
    assert len(_index(settings)) == 2850
    with pytest.raises(_StoppedError):
        link_into_vault(batch.drop(["person"]), settings=settings, progress=_stop_when_scoring)
    again = link_into_vault(batch.drop(["person"]), settings=settings)
    assert again.kind == "incremental" and again.counts["new_records"] == 150
    after = _index(settings)
    assert len(after) == 3000
    assert _f1(after, records) >= 0.99
    # the tokens the stopped run appended were rebuilt: the next increment uses them
    late = first.slice(0, 5).drop(["person"])
    late = late.set_column(
        late.column_names.index("record_id"), "record_id", pa.array([f"late-{i}" for i in range(5)])
    )
    step = link_into_vault(late, settings=settings)
    assert "token_candidates" in step.counts, step.counts
    assert len(_index(settings)) == 3005
