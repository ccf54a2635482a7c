"""``oncobase stats``: registry statistics on a CSV or Parquet extract (thin edge over
:mod:`oncobase.stats`: read the file, call the core, format the result)."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.table import Table

from oncobase import stats
from oncobase.errors import OncobaseError, StatsError

app = typer.Typer(
    name="stats",
    help="Registry-grade statistics on a CSV or Parquet file: survival, ASR, incidence, "
    "prevalence, trends.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


class OutputFormat(StrEnum):
    """How results are printed."""

    table = "table"
    json = "json"
    csv = "csv"


class Method(StrEnum):
    """Survival estimators."""

    km = "km"
    ederer1 = "ederer1"
    ederer2 = "ederer2"
    pohar_perme = "pohar-perme"


FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Column to group by.")]
InputArg = Annotated[Path, typer.Argument(help="CSV or Parquet file.", show_default=False)]


def _read(path: Path) -> pa.Table:
    if not path.exists():
        raise StatsError(f"input file {path} not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pq.read_table(path)
        return pacsv.read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise StatsError(f"cannot read {path}: {exc}") from exc


def _column(table: pa.Table, name: str) -> np.ndarray[Any, Any]:
    if name not in table.column_names:
        raise StatsError(f"column {name!r} not in the input (has {', '.join(table.column_names)})")
    return np.asarray(table[name].to_numpy(zero_copy_only=False))


def _groups(table: pa.Table, by: str | None) -> list[tuple[str, pa.Table]]:
    if by is None:
        return [("all", table)]
    keys = _column(table, by).astype(str)
    out = []
    for key in np.unique(keys):  # one pass per group, not per row
        out.append((str(key), table.filter(pa.array(keys == key))))
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def _emit(rows: list[dict[str, Any]], fmt: OutputFormat, title: str) -> None:
    rows = [{k: _clean(v) for k, v in r.items()} for r in rows]
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if fmt is OutputFormat.csv:
        if rows:
            typer.echo(",".join(rows[0]))
        for r in rows:
            typer.echo(",".join("" if v is None else str(v) for v in r.values()))
        return
    table = Table(title=title)
    for key in rows[0] if rows else []:
        table.add_column(key)
    for r in rows:
        table.add_row(
            *(
                "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)
                for v in r.values()
            )
        )
    Console().print(table)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _fail(exc: OncobaseError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=exc.exit_code)


@app.command("survival")
def survival_cmd(
    input_path: InputArg,
    *,
    time: Annotated[str, typer.Option("--time", help="Follow-up time column (days).")],
    event: Annotated[str, typer.Option("--event", help="Event column (1 dead, 0 censored).")],
    method: Annotated[Method, typer.Option("--method", help="Estimator.")] = Method.km,
    times: Annotated[str, typer.Option("--times", help="Comma-separated days.")] = "365,1095,1825",
    age: Annotated[str | None, typer.Option("--age", help="Age at diagnosis (years).")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="Sex column (1/2 or M/F).")] = None,
    year: Annotated[str | None, typer.Option("--year", help="Diagnosis date or year.")] = None,
    ratetable: Annotated[
        Path | None, typer.Option("--ratetable", help="Life table file (year,sex,age,q|rate).")
    ] = None,
    geo: Annotated[
        str | None, typer.Option("--geo", help="Area in a multi-area life table.")
    ] = None,
    by: ByOpt = None,
    conf_type: Annotated[str, typer.Option("--conf-type", help="log, log-log or plain.")] = "log",
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Survival at given times: Kaplan-Meier, Ederer I/II or Pohar-Perme net survival.

    Example: `oncobase stats survival cohort.csv --time days --event dead --method pohar-perme
    --age age --sex sex --year diag_date --ratetable life_table.csv --times 365,1825 --by site`
    """
    try:
        table = _read(input_path)
        wanted = [float(x) for x in times.split(",") if x.strip()]
        lifetable = None
        if method is not Method.km:
            if age is None or sex is None or year is None or ratetable is None:
                raise StatsError(f"--method {method.value} needs --age, --sex, --year, --ratetable")
            lifetable = stats.read_lifetable(ratetable, geo=geo)
        rows: list[dict[str, Any]] = []
        for group, sub in _groups(table, by):
            t, e = _column(sub, time), _column(sub, event)
            if lifetable is None:
                curve = stats.estimate_km(t, e, conf_type=conf_type)
            else:
                assert age is not None
                assert sex is not None
                assert year is not None
                estimator = {
                    Method.ederer1: stats.estimate_ederer1,
                    Method.ederer2: stats.estimate_ederer2,
                    Method.pohar_perme: stats.estimate_pohar_perme,
                }[method]
                curve = estimator(
                    t,
                    e,
                    age=_column(sub, age),
                    sex=_column(sub, sex),
                    year=_column(sub, year),
                    lifetable=lifetable,
                    conf_type=conf_type,
                )
            for rec in curve.at(wanted).to_pylist():
                rows.append({"group": group, **rec})
        _emit(rows, fmt, f"{method.value} survival")
    except OncobaseError as exc:
        raise _fail(exc) from exc


@app.command("asr")
def asr_cmd(
    input_path: InputArg,
    *,
    age_group: Annotated[str, typer.Option("--age-group", help='Age group ("0-4" … "85+").')],
    cases: Annotated[str, typer.Option("--cases", help="Cases column.")],
    person_years: Annotated[str, typer.Option("--person-years", help="Person-years column.")],
    standard: Annotated[
        str, typer.Option("--standard", help="esp2013, esp1976 or world.")
    ] = "esp2013",
    by: ByOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Crude and age-standardised rates per 100,000 (Fay-Feuer CI) and cumulative risk 0-74 (%).

    Example: `oncobase stats asr incidence.csv --age-group age_group --cases cases
    --person-years py --standard world --by sex --format json`
    """
    try:
        table = _read(input_path)
        rows: list[dict[str, Any]] = []
        for group, sub in _groups(table, by):
            c, py, ag = _column(sub, cases), _column(sub, person_years), _column(sub, age_group)
            res = stats.compute_asr(c, py, age_groups=ag, standard=standard)
            risk = stats.compute_cumulative_risk(c, py, age_groups=ag)
            rows.append(
                {
                    "group": group,
                    "cases": res.cases,
                    "person_years": res.person_years,
                    "crude_rate": res.crude_rate,
                    "asr": res.asr,
                    "ci_lower": res.ci_lower,
                    "ci_upper": res.ci_upper,
                    "cum_risk_0_74": risk.risk_percent,
                }
            )
        _emit(rows, fmt, f"ASR ({standard}) per 100,000")
    except OncobaseError as exc:
        raise _fail(exc) from exc


@app.command("incidence")
def incidence_cmd(
    input_path: InputArg,
    *,
    cases: Annotated[str, typer.Option("--cases", help="Cases column.")],
    person_years: Annotated[str, typer.Option("--person-years", help="Person-years column.")],
    age_group: Annotated[
        str | None, typer.Option("--age-group", help="Age group: gives age-specific rates.")
    ] = None,
    by: ByOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Crude (or age-specific, with --age-group) rates per 100,000 with exact Poisson CIs.

    Example: `oncobase stats incidence incidence.csv --cases cases --person-years py
    --age-group age_group --by sex`
    """
    try:
        table = _read(input_path)
        rows: list[dict[str, Any]] = []
        for group, sub in _groups(table, by):
            c, py = _column(sub, cases), _column(sub, person_years)
            if age_group is None:
                r = stats.compute_crude_rate(c, py)
                rows.append(
                    {
                        "group": group,
                        "cases": r.cases,
                        "person_years": r.person_years,
                        "rate": r.rate,
                        "ci_lower": r.ci_lower,
                        "ci_upper": r.ci_upper,
                    }
                )
            else:
                ages = stats.compute_age_specific_rates(c, py, age_groups=_column(sub, age_group))
                rows.extend({"group": group, **rec} for rec in ages.to_pylist())
        _emit(rows, fmt, "Incidence per 100,000")
    except OncobaseError as exc:
        raise _fail(exc) from exc


@app.command("prevalence")
def prevalence_cmd(
    input_path: InputArg,
    *,
    diagnosis_date: Annotated[str, typer.Option("--diagnosis-date", help="Diagnosis date.")],
    end_date: Annotated[
        str, typer.Option("--end-date", help="Date of death or last news (empty: alive).")
    ],
    index_date: Annotated[str, typer.Option("--index-date", help="Date prevalence is counted.")],
    durations: Annotated[str, typer.Option("--durations", help="Partial, years.")] = "1,5,10",
    by: ByOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Complete and partial prevalence by the counting method.

    Example: `oncobase stats prevalence cases.csv --diagnosis-date dx --end-date last_news
    --index-date 2023-01-01 --by site`
    """
    try:
        table = _read(input_path)
        dur = tuple(int(x) for x in durations.split(",") if x.strip())
        rows: list[dict[str, Any]] = []
        for group, sub in _groups(table, by):
            res = stats.compute_prevalence(
                _column(sub, diagnosis_date),
                _column(sub, end_date),
                index_date=index_date,
                durations=dur,
            )
            rows.extend({"group": group, **rec} for rec in res.to_pylist())
        _emit(rows, fmt, f"Prevalence at {index_date}")
    except OncobaseError as exc:
        raise _fail(exc) from exc


@app.command("trend")
def trend_cmd(
    input_path: InputArg,
    *,
    year: Annotated[str, typer.Option("--year", help="Calendar year column.")],
    cases: Annotated[str, typer.Option("--cases", help="Cases column.")],
    person_years: Annotated[
        str | None, typer.Option("--person-years", help="Person-years column.")
    ] = None,
    by: ByOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Annual percent change by log-linear Poisson regression, with its 95 % CI.

    Example: `oncobase stats trend yearly.csv --year year --cases cases --person-years py`
    """
    try:
        table = _read(input_path)
        rows: list[dict[str, Any]] = []
        for group, sub in _groups(table, by):
            r = stats.estimate_apc(
                _column(sub, year),
                _column(sub, cases),
                person_years=None if person_years is None else _column(sub, person_years),
            )
            rows.append(
                {
                    "group": group,
                    "apc": r.apc,
                    "ci_lower": r.ci_lower,
                    "ci_upper": r.ci_upper,
                    "p_value": r.p_value,
                    "n_years": r.n_years,
                }
            )
        _emit(rows, fmt, "Annual percent change")
    except OncobaseError as exc:
        raise _fail(exc) from exc


class StoreMeasure(StrEnum):
    """Figures computed from the clinical store."""

    incidence = "incidence"
    survival = "survival"


@app.command("store")
def store_cmd(
    measure: Annotated[StoreMeasure, typer.Argument(help="incidence or survival.")],
    by: Annotated[
        str,
        typer.Option(
            "--by", help="Comma-separated: site_group, sex, age_group, year, departement, region."
        ),
    ] = "site_group,sex",
    closing_date: Annotated[
        str | None,
        typer.Option(
            "--closing-date",
            help="Vital status date (YYYY-MM-DD); "
            "default: the last death or diagnosis in the store.",
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Incident cases or observed 1- and 5-year survival from the OMOP store.

    Example: `oncobase stats store survival --by site_group,sex --format json`
    """
    import datetime as dt

    from oncobase.stats.cases import store_tables
    from oncobase.stats.measures import closing_date as store_closing_date
    from oncobase.stats.store_views import compute_store_incidence, compute_store_survival
    from oncobase.store import connect
    from oncobase.store.ibis import ibis_connection

    keys = tuple(k.strip() for k in by.split(",") if k.strip())
    try:
        with connect() as backend:
            tables = store_tables(ibis_connection(backend))
            if measure is StoreMeasure.incidence:
                result = compute_store_incidence(tables, by=keys)
            else:
                closing = (
                    dt.date.fromisoformat(closing_date)
                    if closing_date
                    else store_closing_date(tables) or dt.date.today()
                )
                result = compute_store_survival(tables, closing_date=closing, by=keys)
    except OncobaseError as exc:
        raise _fail(exc) from None
    except ValueError as exc:
        raise _fail(StatsError(f"--closing-date: {exc}")) from None
    _emit(result.to_pylist(), fmt, f"{measure.value} from the store")
