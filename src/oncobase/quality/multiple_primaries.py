"""Multiple primaries under the IARC/IACR/ENCR 2004 international rules (with the ENCR 2022
urothelial site group): a later record of the same patient in the same site group and a
compatible histology group is a duplicate tumour, not a new primary.

Evaluated as one self-join in DuckDB on the normalised view ``t``; the site groups, histology
groups and the "same tumour" pairs of groups come from ``rules/mp_*.csv``.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

MP_CHECK = "W-MP-DUP"

# Which records take part: malignant tumours, plus in situ and uncertain urothelial tumours of
# C65-C68 (ENCR 2022 urothelial recommendation). Systemic groups (haematolymphoid 8-14,
# Kaposi 15) count once per person whatever the site (rule 4.1).
MULTIPLE_PRIMARIES_SQL = """
WITH m AS (
  SELECT t.rec, t.patient_id, t.incidence_date, h.hist_group,
    CASE WHEN h.systemic AND h.hist_group = 15 THEN 'systemic:kaposi'
         WHEN h.systemic THEN 'systemic:haematolymphoid'
         ELSE s.site_group END AS mp_site
  FROM t
  JOIN lk_mp_hist h ON h.morph = t.morph
  JOIN lk_mp_site s ON s.topo3 = t.topo3
  WHERE t.patient_id IS NOT NULL AND t.incidence_date IS NOT NULL
    AND (t.behaviour = 3
         OR (t.behaviour IN (1, 2) AND s.site_group = 'C65-C68' AND t.morph BETWEEN 8120 AND 8131))
), pairs AS (
  SELECT b.rec, a.rec AS earlier, a.incidence_date AS earlier_date
  FROM m AS a
  JOIN m AS b ON a.patient_id = b.patient_id AND a.mp_site = b.mp_site
   AND (a.incidence_date < b.incidence_date
        OR (a.incidence_date = b.incidence_date AND a.rec < b.rec))
  JOIN lk_mp_same x ON x.group_a = a.hist_group AND x.group_b = b.hist_group
)
SELECT rec, arg_min(earlier, struct_pack(d := earlier_date, r := earlier)) AS kept_rec
FROM pairs
GROUP BY rec
"""


def find_duplicate_tumours(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``rec`` of each duplicate record and ``kept_rec``, the earliest record it merges into."""
    return con.sql(MULTIPLE_PRIMARIES_SQL).to_arrow_table()
