"""Care pathways: hospitals, treatments, visits and specimens (vectorised per site and group)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oncobase.synth._params import IntArray, TreatmentRow, load_params
from oncobase.synth.schema import FACILITIES

HOSPITALS = tuple(f for f in FACILITIES if f.kind == "hospital")
LABS = tuple(f for f in FACILITIES if f.kind == "lab")
HOSPITAL_IDS = np.array([f.id for f in HOSPITALS])
LAB_IDS = np.array([f.id for f in LABS])
# Pathology lab serving each region (by proximity of the synthetic labs).
LAB_OF_REGION = {
    "11": "LAB01", "24": "LAB01", "27": "LAB02", "84": "LAB02", "93": "LAB03", "94": "LAB03",
    "76": "LAB03", "52": "LAB04", "53": "LAB04", "28": "LAB04", "44": "LAB05", "32": "LAB05",
    "75": "LAB06",
}  # fmt: skip
DIAGNOSIS_SITES_CYTOLOGY = frozenset({"leukaemias", "multiple_myeloma"})


def draw_hospitals(rng: np.random.Generator, region: np.ndarray) -> tuple[IntArray, IntArray]:
    """Each patient's hospitals (n, 3) indices into HOSPITALS, and how many (1-3) he uses."""
    n = len(region)
    hosp_region = np.array([f.region for f in HOSPITALS])
    main = rng.integers(0, len(HOSPITALS), size=n)
    others = rng.integers(0, len(HOSPITALS), size=(n, 2))
    for code in np.unique(region):
        sel = np.flatnonzero(region == code)
        local = np.flatnonzero(hosp_region == code)
        if len(local) == 0:
            continue
        in_region = rng.random(len(sel)) < 0.92
        main[sel[in_region]] = local[rng.integers(0, len(local), size=int(in_region.sum()))]
        for j in range(2):
            near = rng.random(len(sel)) < 0.6
            others[sel[near], j] = local[rng.integers(0, len(local), size=int(near.sum()))]
    count = 1 + (rng.random(n) < 0.65).astype(np.int64) + (rng.random(n) < 0.30).astype(np.int64)
    return np.column_stack([main, others]), count


def _conditions(details: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    def eq(col: str, value: str) -> np.ndarray:
        return np.asarray(details[col] == value, dtype=bool)

    with np.errstate(invalid="ignore"):
        er = np.nan_to_num(details["er_pct"], nan=-1.0) >= 10
        pdl1 = np.nan_to_num(details["pdl1_tps_pct"], nan=-1.0) >= 50
    m = len(er)
    return {
        "": np.ones(m, dtype=bool),
        "her2": eq("her2_ihc", "3+") | eq("her2_ish", "amplified"),
        "er": er,
        "er_neg": ~er,
        "egfr": eq("egfr_status", "mutated"),
        "alk": eq("alk_status", "rearranged"),
        "braf": eq("braf_status", "mutated"),
        "ras_wt": eq("kras_status", "wild-type") & ~eq("nras_status", "mutated"),
        "dmmr": eq("mmr", "deficient") | eq("msi", "MSI-H"),
        "pdl1_50": pdl1,
    }


@dataclass(frozen=True, kw_only=True)
class CarePlan:
    """Treatments, visits and specimens of the tumours of one chunk (index arrays)."""

    treatments: dict[str, np.ndarray]
    visits: dict[str, np.ndarray]
    specimens: dict[str, np.ndarray]
    has_surgery: np.ndarray
    neoadjuvant: np.ndarray


def _duration(row: TreatmentRow, rng: np.random.Generator, k: int) -> IntArray:
    if row.kind == "radiotherapy":
        return np.full(k, -(-(row.fractions or 25) // 5) * 7 - 3, dtype=np.int64)
    if row.cycles:
        return np.full(k, (row.cycles - 1) * (row.interval_days or 21), dtype=np.int64)
    if row.timing == "late":
        return np.full(k, 1826, dtype=np.int64)
    return rng.integers(180, 1096, size=k).astype(np.int64)


def plan_care(
    rng: np.random.Generator,
    *,
    tumour_site: np.ndarray,
    stage: np.ndarray,
    diagnosis_days: IntArray,
    basis: np.ndarray,
    details: dict[str, np.ndarray],
    person_index: IntArray,
    hospitals: IntArray,
    hospital_count: IntArray,
    end_days: IntArray,
    closing: int,
) -> CarePlan:
    """Choose treatments (per site, per group of alternatives), date them, and derive visits
    and specimens. ``end_days`` is, per person, the death date or the closing date."""
    params = load_params()
    m = len(tumour_site)
    cond = _conditions(details)
    stage_key = np.array([s or "" for s in stage])
    has_surgery = np.zeros(m, dtype=bool)
    neo = np.zeros(m, dtype=bool)
    surgery_day = np.full(m, -1, dtype=np.int64)
    neo_end = np.full(m, -1, dtype=np.int64)
    last_end = diagnosis_days.copy()
    chosen: list[tuple[TreatmentRow, IntArray, IntArray, IntArray]] = []  # row, tumours, start, end
    operations: list[tuple[TreatmentRow, IntArray]] = []
    by_site: dict[str, list[TreatmentRow]] = {}
    for row in params.treatments:
        by_site.setdefault(row.site, []).append(row)
    for site, rows in by_site.items():
        in_site = np.flatnonzero(tumour_site == site)
        if len(in_site) == 0:
            continue
        groups: list[str] = []
        for row in rows:
            if row.group not in groups:
                groups.append(row.group)
        for group in groups:
            options = [r for r in rows if r.group == group]
            weights = np.zeros((len(in_site), len(options)))
            for j, r in enumerate(options):
                ok = np.isin(stage_key[in_site], list(r.stages)) & cond[r.condition][in_site]
                if r.kind == "surgery":
                    ok &= basis[in_site] == 7
                if r.requires == "surgery":
                    ok &= has_surgery[in_site]
                elif r.requires == "no_surgery":
                    ok &= ~has_surgery[in_site]
                elif r.requires == "surgery_no_neo":
                    ok &= has_surgery[in_site] & ~neo[in_site]
                weights[:, j] = np.where(ok, r.weight, 0.0)
            cum = np.cumsum(weights, axis=1)
            u = rng.random(len(in_site))
            pick = np.argmax(u[:, None] < cum, axis=1)
            taken = u < cum[:, -1]
            for j, r in enumerate(options):
                t = in_site[taken & (pick == j)]
                if len(t) == 0:
                    continue
                if r.kind == "surgery":
                    has_surgery[t] = True
                    operations.append((r, t))
                    continue  # dated once the neoadjuvant treatments are known
                if r.timing == "neoadjuvant":
                    neo[t] = True
                chosen.append((r, t, np.empty(0, np.int64), np.empty(0, np.int64)))
    # dates: neoadjuvant first, then surgery, then the rest
    dated: list[tuple[TreatmentRow, IntArray, IntArray, IntArray]] = []
    for r, t, _, _ in chosen:
        if r.timing == "neoadjuvant":
            start = diagnosis_days[t] + rng.integers(14, 36, size=len(t))
            end = start + _duration(r, rng, len(t))
            neo_end[t] = np.maximum(neo_end[t], end)
            dated.append((r, t, start, end))
    with_neo = has_surgery & neo
    surgery_day[with_neo] = neo_end[with_neo] + rng.integers(28, 43, size=int(with_neo.sum()))
    plain = has_surgery & ~neo
    surgery_day[plain] = diagnosis_days[plain] + rng.integers(14, 46, size=int(plain.sum()))
    last_end = np.where(has_surgery, surgery_day, last_end)
    for timing in ("adjuvant", "first", "after", "late"):
        for r, t, _, _ in chosen:
            if r.timing != timing:
                continue
            if timing == "adjuvant":
                base = np.where(has_surgery[t], surgery_day[t], diagnosis_days[t])
                start = base + rng.integers(28, 57, size=len(t))
            elif timing == "first":
                start = diagnosis_days[t] + rng.integers(14, 36, size=len(t))
            elif timing == "after":
                start = last_end[t] + rng.integers(21, 43, size=len(t))
            else:
                start = diagnosis_days[t] + rng.integers(150, 241, size=len(t))
            end = start + _duration(r, rng, len(t))
            if timing != "late":
                last_end[t] = np.maximum(last_end[t], end)
            dated.append((r, t, start, end))
    limit = end_days[person_index]
    treatments = _emit_treatments(
        rng,
        dated,
        operations,
        surgery_day,
        limit=limit,
        closing=closing,
        person_index=person_index,
        hospitals=hospitals,
        hospital_count=hospital_count,
    )
    visits = _emit_visits(
        rng,
        dated,
        has_surgery=has_surgery,
        surgery_day=surgery_day,
        treatments=treatments,
        diagnosis_days=diagnosis_days,
        limit=limit,
        person_index=person_index,
        hospitals=hospitals,
    )
    specimens = _emit_specimens(
        rng,
        tumour_site=tumour_site,
        basis=basis,
        diagnosis_days=diagnosis_days,
        has_surgery=has_surgery & (surgery_day <= limit),
        surgery_day=surgery_day,
        neo=neo,
        person_index=person_index,
        hospitals=hospitals,
        treatments=treatments,
    )
    return CarePlan(
        treatments=treatments,
        visits=visits,
        specimens=specimens,
        has_surgery=has_surgery & (surgery_day <= limit),
        neoadjuvant=neo & has_surgery & (surgery_day <= limit),
    )


def _pick_hospital(
    rng: np.random.Generator, person: IntArray, hospitals: IntArray, count: IntArray, main: float
) -> IntArray:
    j = np.where(rng.random(len(person)) < main, 0, rng.integers(0, 3, size=len(person)))
    j = np.minimum(j, count[person] - 1)
    return hospitals[person, j]


def _emit_treatments(
    rng: np.random.Generator,
    dated: list[tuple[TreatmentRow, IntArray, IntArray, IntArray]],
    operations: list[tuple[TreatmentRow, IntArray]],
    surgery_day: IntArray,
    *,
    limit: IntArray,
    closing: int,
    person_index: IntArray,
    hospitals: IntArray,
    hospital_count: IntArray,
) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "tumour", "hospital", "kind", "start", "end", "code", "code_system", "description",
            "cycles", "dose_gy", "fractions", "group_id",
        )
    }  # fmt: skip
    for r, t_all in operations:
        t = t_all[surgery_day[t_all] <= limit[t_all]]
        if len(t) == 0:
            continue
        _append(parts, r, t=t, start=surgery_day[t], end=surgery_day[t], code=r.codes[0], group=-1)
        parts["hospital"].append(
            _pick_hospital(rng, person_index[t], hospitals, hospital_count, 0.8)
        )
    for g, (r, t_all, start_all, end_all) in enumerate(dated):
        alive = start_all <= limit[t_all]
        t, start, end = t_all[alive], start_all[alive], end_all[alive]
        if len(t) == 0:
            continue
        hosp = _pick_hospital(rng, person_index[t], hospitals, hospital_count, 0.6)
        for code in r.codes:
            _append(parts, r, t=t, start=start, end=end, code=code, group=g)
            parts["hospital"].append(hosp)
    out = {k: np.concatenate(v) if v else np.empty(0) for k, v in parts.items()}
    if len(out["tumour"]):
        lim = limit[out["tumour"].astype(np.int64)]
        # past the death date: stopped at death; past the closing date: ongoing (null)
        out["end"] = np.where(out["end"] > lim, np.where(lim < closing, lim, -1), out["end"])
    return out


def _append(
    parts: dict[str, list[np.ndarray]],
    r: TreatmentRow,
    *,
    t: IntArray,
    start: IntArray,
    end: IntArray,
    code: str,
    group: int,
) -> None:
    k = len(t)
    parts["tumour"].append(t)
    parts["kind"].append(np.full(k, r.kind, dtype=object))
    parts["start"].append(start)
    parts["end"].append(end)
    parts["code"].append(np.full(k, code, dtype=object))
    parts["code_system"].append(np.full(k, r.code_system, dtype=object))
    parts["description"].append(np.full(k, r.description, dtype=object))
    parts["cycles"].append(np.full(k, r.cycles if r.cycles else np.nan))
    parts["dose_gy"].append(np.full(k, r.dose_gy if r.dose_gy else np.nan))
    parts["fractions"].append(np.full(k, r.fractions if r.fractions else np.nan))
    parts["group_id"].append(np.full(k, group, dtype=np.int64))


def _emit_visits(
    rng: np.random.Generator,
    dated: list[tuple[TreatmentRow, IntArray, IntArray, IntArray]],
    *,
    has_surgery: np.ndarray,
    surgery_day: IntArray,
    treatments: dict[str, np.ndarray],
    diagnosis_days: IntArray,
    limit: IntArray,
    person_index: IntArray,
    hospitals: IntArray,
) -> dict[str, np.ndarray]:
    tum: list[np.ndarray] = []
    hosp: list[np.ndarray] = []
    kind: list[np.ndarray] = []
    start: list[np.ndarray] = []
    end: list[np.ndarray] = []
    reason: list[np.ndarray] = []

    def add(  # noqa: PLR0917
        t: IntArray, h: IntArray, k: str | np.ndarray, s: IntArray, e: IntArray, why: str
    ) -> None:
        keep = s <= limit[t]
        tum.append(t[keep])
        hosp.append(h[keep])
        kind.append(np.broadcast_to(np.asarray(k, dtype=object), t.shape)[keep])
        start.append(s[keep])
        end.append(np.minimum(e[keep], np.maximum(limit[t[keep]], s[keep])))
        reason.append(np.full(int(keep.sum()), why, dtype=object))

    m = len(diagnosis_days)
    all_t = np.arange(m)
    main = hospitals[person_index, 0]
    add(all_t, main, "outpatient", diagnosis_days - rng.integers(0, 11, size=m),
        diagnosis_days, "diagnosis")  # fmt: skip
    # one visit per treatment course, at the treatment's hospital (first drug of a regimen)
    tr_t = treatments["tumour"].astype(np.int64)
    tr_kind = treatments["kind"]
    group = treatments["group_id"]
    first_row = np.ones(len(tr_t), dtype=bool)
    if len(tr_t):
        first_row[1:] = (group[1:] != group[:-1]) | (tr_t[1:] != tr_t[:-1]) | (group[1:] < 0)
    surg = first_row & (tr_kind == "surgery")
    s = treatments["start"][surg].astype(np.int64)
    add(tr_t[surg], treatments["hospital"][surg].astype(np.int64), "inpatient", s - 1,
        s + rng.integers(2, 11, size=int(surg.sum())), "surgery")  # fmt: skip
    rt = first_row & (tr_kind == "radiotherapy")
    add(tr_t[rt], treatments["hospital"][rt].astype(np.int64), "outpatient",
        treatments["start"][rt].astype(np.int64), treatments["end"][rt].astype(np.int64),
        "radiotherapy")  # fmt: skip
    sys_ = np.flatnonzero(first_row & (tr_kind == "systemic"))
    cycles = np.nan_to_num(treatments["cycles"][sys_], nan=0).astype(np.int64)
    n_visits = np.where(cycles > 0, np.minimum(cycles, 18), 4)
    gap = np.where(cycles > 0, 0, 90)
    rep = np.repeat(sys_, n_visits)
    step = np.arange(len(rep)) - np.repeat(np.cumsum(n_visits) - n_visits, n_visits)
    # spread cycles evenly between the start and the end of the regimen
    s0 = treatments["start"][rep].astype(np.int64)
    e0 = treatments["end"][rep].astype(np.int64)
    e0 = np.where(e0 < s0, s0, e0)
    cyc = np.repeat(n_visits, n_visits)
    day = np.where(
        np.repeat(gap, n_visits) > 0,
        s0 + step * 90,
        s0 + (e0 - s0) * step // np.maximum(cyc - 1, 1),
    )
    visit_kind = np.where(np.repeat(gap, n_visits) > 0, "outpatient", "day-hospital")
    add(tr_t[rep], treatments["hospital"][rep].astype(np.int64), visit_kind.astype(object),
        day, day, "chemotherapy")  # fmt: skip
    # yearly follow-up visits at the main hospital, at most 5
    years = np.clip((limit - diagnosis_days) // 365, 0, 5)
    rep = np.repeat(all_t, years)
    step = 1 + np.arange(len(rep)) - np.repeat(np.cumsum(years) - years, years)
    day = diagnosis_days[rep] + step * 365 + rng.integers(-30, 31, size=len(rep))
    add(rep, main[rep], "outpatient", day, day, "follow-up")
    out = {
        "tumour": np.concatenate(tum),
        "hospital": np.concatenate(hosp),
        "kind": np.concatenate(kind),
        "start": np.concatenate(start),
        "end": np.concatenate(end),
        "reason": np.concatenate(reason),
    }
    # keep a natural order: per tumour, by date
    order = np.lexsort((out["start"], out["tumour"]))
    return {k: v[order] for k, v in out.items()}


def lab_for(rng: np.random.Generator, hospital: IntArray) -> IntArray:
    """The pathology lab (index into LABS) of specimens taken in each hospital."""
    lab_index = {f.id: i for i, f in enumerate(LABS)}
    local = np.array([lab_index[LAB_OF_REGION[f.region]] for f in HOSPITALS])
    other = rng.integers(0, len(LABS), size=len(hospital))
    return np.where(rng.random(len(hospital)) < 0.88, local[hospital], other)


def _emit_specimens(
    rng: np.random.Generator,
    *,
    tumour_site: np.ndarray,
    basis: np.ndarray,
    diagnosis_days: IntArray,
    has_surgery: np.ndarray,
    surgery_day: IntArray,
    neo: np.ndarray,
    person_index: IntArray,
    hospitals: IntArray,
    treatments: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    histo = np.flatnonzero(basis == 7)
    cyto = np.isin(tumour_site[histo], list(DIAGNOSIS_SITES_CYTOLOGY))
    biopsy_hosp = hospitals[person_index[histo], 0]
    tr_t = treatments["tumour"].astype(np.int64)
    surg_rows = np.flatnonzero(treatments["kind"] == "surgery")
    resected = tr_t[surg_rows]
    res_hosp = treatments["hospital"][surg_rows].astype(np.int64)
    tumour = np.concatenate([histo, resected])
    hosp = np.concatenate([biopsy_hosp, res_hosp])
    out = {
        "tumour": tumour,
        "hospital": hosp,
        "lab": lab_for(rng, hosp),
        "collected": np.concatenate([diagnosis_days[histo], surgery_day[resected]]),
        "procedure": np.concatenate(
            [np.where(cyto, "cytology", "biopsy"), np.full(len(resected), "resection")]
        ).astype(object),
        "post_neoadjuvant": np.concatenate([np.zeros(len(histo), bool), neo[resected]]),
    }
    order = np.lexsort((out["collected"], out["tumour"]))
    del has_surgery
    return {k: v[order] for k, v in out.items()}
