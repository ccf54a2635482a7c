"""Biomarkers by site (vectorised, one function per site family)."""

from __future__ import annotations

import numpy as np

from oncobase.synth._params import load_params

ObjArray = np.ndarray  # dtype=object, None for null

NULL: np.ndarray = np.array(None, dtype=object)  # null for np.where


def _pick(rng: np.random.Generator, n: int, values: list[str], probs: list[float]) -> ObjArray:
    p = np.array(probs) / np.sum(probs)
    return np.array(values, dtype=object)[rng.choice(len(values), size=n, p=p)]


def _pct(rng: np.random.Generator, n: int, lo: float, hi: float, step: float = 5) -> np.ndarray:
    return np.round(rng.uniform(lo, hi, size=n) / step) * step


def empty_biomarkers(n: int) -> dict[str, np.ndarray]:
    """Every biomarker column, null."""
    cols: dict[str, np.ndarray] = {}
    for name in ("er_pct", "pr_pct", "ki67_pct", "pdl1_tps_pct", "pdl1_cps", "psa_ng_ml"):
        cols[name] = np.full(n, np.nan)
    for name in (
        "her2_ihc",
        "her2_ish",
        "mmr",
        "msi",
        "egfr_status",
        "egfr_variant",
        "kras_status",
        "kras_variant",
        "nras_status",
        "nras_variant",
        "braf_status",
        "braf_variant",
        "alk_status",
        "ros1_status",
    ):
        cols[name] = np.full(n, None, dtype=object)
    for name in ("gleason_primary", "gleason_secondary", "isup_group"):
        cols[name] = np.full(n, np.nan)
    return cols


def fill_biomarkers(
    rng: np.random.Generator,
    cols: dict[str, np.ndarray],
    *,
    sel: np.ndarray,
    site: str,
    stage: np.ndarray,
    grade: np.ndarray,
    morphology: np.ndarray,
) -> None:
    """Fill the biomarker columns for the tumours ``sel`` (indices) of one site."""
    b = load_params().biomarkers
    n = len(sel)
    if n == 0:
        return

    def u() -> np.ndarray:
        return rng.random(n)

    if site == "breast":
        er = u() < b["breast_er_pos"]
        cols["er_pct"][sel] = np.where(
            er, _pct(rng, n, 10, 100), np.where(u() < 0.3, _pct(rng, n, 0, 5, 1), 0)
        )
        pr = np.where(er, u() < b["breast_pr_pos_if_er"], u() < b["breast_pr_pos_if_er_neg"])
        cols["pr_pct"][sel] = np.where(pr, _pct(rng, n, 10, 100), 0)
        p3, p2, p1 = b["breast_her2_3plus"], b["breast_her2_2plus"], b["breast_her2_1plus"]
        ihc = _pick(rng, n, ["3+", "2+", "1+", "0"], [p3, p2, p1, 1 - p3 - p2 - p1])
        cols["her2_ihc"][sel] = ihc
        amp = u() < b["breast_her2_ish_amp_if_2plus"]
        cols["her2_ish"][sel] = np.where(
            ihc == "2+", np.where(amp, "amplified", "not amplified"), NULL
        )
        g = grade[sel]
        ki = np.where(
            g == "G1",
            _pct(rng, n, 5, 15),
            np.where(g == "G2", _pct(rng, n, 10, 30), _pct(rng, n, 25, 80)),
        )
        cols["ki67_pct"][sel] = ki
    elif site == "colon_rectum":
        dmmr = u() < b["crc_dmmr"]
        cols["mmr"][sel] = np.where(
            u() < b["crc_mmr_tested"], np.where(dmmr, "deficient", "proficient"), NULL
        )
        cols["msi"][sel] = np.where(u() < b["crc_msi_tested"], np.where(dmmr, "MSI-H", "MSS"), NULL)
        tested = u() < np.where(
            stage[sel] == "IV", b["crc_ras_tested_stage_iv"], b["crc_ras_tested_other"]
        )
        kras = u() < b["crc_kras_mut"]
        kvar = _pick(
            rng, n, ["G12D", "G12V", "G13D", "G12C", "G12A", "Q61H"], [35, 25, 20, 8, 6, 6]
        )
        cols["kras_status"][sel] = np.where(tested, np.where(kras, "mutated", "wild-type"), NULL)
        cols["kras_variant"][sel] = np.where(tested & kras, kvar, NULL)
        nras = ~kras & (u() < b["crc_nras_mut_if_kras_wt"])
        nvar = _pick(rng, n, ["Q61K", "G12D", "G13R"], [50, 30, 20])
        cols["nras_status"][sel] = np.where(tested, np.where(nras, "mutated", "wild-type"), NULL)
        cols["nras_variant"][sel] = np.where(tested & nras, nvar, NULL)
        braf = ~kras & ~nras & (u() < b["crc_braf_mut"] / (1 - b["crc_kras_mut"]))
        cols["braf_status"][sel] = np.where(tested, np.where(braf, "mutated", "wild-type"), NULL)
        cols["braf_variant"][sel] = np.where(tested & braf, "V600E", NULL)
    elif site == "lung":
        m = morphology[sel]
        nsclc = m != "8041/3"
        nonsq = nsclc & (m != "8070/3") & (m != "8240/3")
        tested = nonsq & (u() < b["lung_molecular_tested"])
        egfr = u() < b["lung_egfr_mut"]
        evar = _pick(rng, n, ["L858R", "E746_A750del", "G719A", "L861Q"], [42, 45, 7, 6])
        cols["egfr_status"][sel] = np.where(tested, np.where(egfr, "mutated", "wild-type"), NULL)
        cols["egfr_variant"][sel] = np.where(tested & egfr, evar, NULL)
        alk = ~egfr & (u() < b["lung_alk_rearr"])
        cols["alk_status"][sel] = np.where(
            tested, np.where(alk, "rearranged", "not rearranged"), NULL
        )
        ros1 = ~egfr & ~alk & (u() < b["lung_ros1_rearr"])
        cols["ros1_status"][sel] = np.where(
            tested, np.where(ros1, "rearranged", "not rearranged"), NULL
        )
        kras = ~egfr & ~alk & ~ros1 & (u() < b["lung_kras_mut"])
        kvar = _pick(rng, n, ["G12C", "G12V", "G12D", "G13C", "Q61H"], [40, 20, 15, 10, 15])
        cols["kras_status"][sel] = np.where(tested, np.where(kras, "mutated", "wild-type"), NULL)
        cols["kras_variant"][sel] = np.where(tested & kras, kvar, NULL)
        pd = nsclc & (u() < b["lung_pdl1_tested"])
        hi, lo = b["lung_pdl1_high"], b["lung_pdl1_low"]
        level = rng.random(n)
        tps = np.where(
            level < hi,
            _pct(rng, n, 50, 100),
            np.where(level < hi + lo, _pct(rng, n, 1, 49, 1), 0.0),
        )
        cols["pdl1_tps_pct"][sel] = np.where(pd, tps, np.nan)
    elif site == "skin_melanoma":
        late = np.isin(stage[sel], ["III", "IV"])
        tested = late | (u() < b["melanoma_braf_tested"] - 0.2)
        braf = u() < b["melanoma_braf_mut"]
        bvar = _pick(rng, n, ["V600E", "V600K"], [80, 20])
        cols["braf_status"][sel] = np.where(tested, np.where(braf, "mutated", "wild-type"), NULL)
        cols["braf_variant"][sel] = np.where(tested & braf, bvar, NULL)
        nras = ~braf & (u() < b["melanoma_nras_mut_if_braf_wt"])
        nvar = _pick(rng, n, ["Q61R", "Q61K", "Q61L"], [45, 40, 15])
        cols["nras_status"][sel] = np.where(tested, np.where(nras, "mutated", "wild-type"), NULL)
        cols["nras_variant"][sel] = np.where(tested & nras, nvar, NULL)
    elif site == "stomach":
        tested = u() < b["stomach_her2_tested"]
        p3 = b["stomach_her2_3plus"]
        ihc = _pick(rng, n, ["3+", "2+", "1+", "0"], [p3, 0.10, 0.20, 0.70 - p3])
        cols["her2_ihc"][sel] = np.where(tested, ihc, NULL)
        amp = u() < 0.3
        cols["her2_ish"][sel] = np.where(
            tested & (ihc == "2+"), np.where(amp, "amplified", "not amplified"), NULL
        )
    elif site == "corpus_uteri":
        dmmr = u() < b["corpus_dmmr"]
        cols["mmr"][sel] = np.where(u() < 0.9, np.where(dmmr, "deficient", "proficient"), NULL)
        er = u() < 0.75
        cols["er_pct"][sel] = np.where(u() < 0.5, np.where(er, _pct(rng, n, 20, 100), 0), np.nan)
    elif site in ("lip_oral_cavity_pharynx", "larynx"):
        tested = u() < b["hn_pdl1_tested"]
        level = rng.random(n)
        cps = np.where(
            level < 0.4,
            np.round(rng.uniform(20, 100, n)),
            np.where(level < 0.85, np.round(rng.uniform(1, 19, n)), 0.0),
        )
        cols["pdl1_cps"][sel] = np.where(tested, cps, np.nan)
    elif site == "prostate":
        _fill_prostate(rng, cols, sel=sel, stage=stage, psa_median=b["prostate_psa_median"])


_ISUP_BY_STAGE = {
    "I": [0.50, 0.35, 0.10, 0.05, 0.0],
    "II": [0.20, 0.40, 0.25, 0.10, 0.05],
    "III": [0.0, 0.20, 0.30, 0.25, 0.25],
    "IV": [0.0, 0.0, 0.15, 0.30, 0.55],
}
_PSA_FACTOR = {"I": 1.0, "II": 1.5, "III": 2.5, "IV": 8.0}


def _fill_prostate(
    rng: np.random.Generator,
    cols: dict[str, np.ndarray],
    *,
    sel: np.ndarray,
    stage: np.ndarray,
    psa_median: float,
) -> None:
    st = stage[sel]
    n = len(sel)
    isup = np.zeros(n, dtype=np.int64)
    factor = np.ones(n)
    for name, probs in _ISUP_BY_STAGE.items():
        here = st == name
        isup[here] = 1 + rng.choice(5, size=int(here.sum()), p=probs)
        factor[here] = _PSA_FACTOR[name]
    primary = np.select([isup == 1, isup == 2, isup == 3], [3, 3, 4], default=4)
    secondary = np.select([isup == 1, isup == 2, isup == 3], [3, 4, 3], default=4)
    # ISUP 4: 4+4 (70 %), 3+5, 5+3; ISUP 5: 4+5, 5+4, 5+5
    r = rng.random(n)
    four = isup == 4
    primary = np.where(four & (r >= 0.70) & (r < 0.85), 3, np.where(four & (r >= 0.85), 5, primary))
    secondary = np.where(
        four & (r >= 0.70) & (r < 0.85), 5, np.where(four & (r >= 0.85), 3, secondary)
    )
    five = isup == 5
    primary = np.where(five, np.where(r < 0.5, 4, 5), primary)
    secondary = np.where(five, np.where(r < 0.5, 5, np.where(r < 0.8, 4, 5)), secondary)
    cols["isup_group"][sel] = isup
    cols["gleason_primary"][sel] = primary
    cols["gleason_secondary"][sel] = secondary
    psa = psa_median * factor * np.exp(rng.normal(0, 0.6, size=n))
    cols["psa_ng_ml"][sel] = np.round(psa, 1)
