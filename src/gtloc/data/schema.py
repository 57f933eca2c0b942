"""One records schema for every source: ``path,lat,lon,unix_ts,year,month,day,hour,minute,second``.

Time fields are local clock time. The geo-only form ``path,lat,lon`` is accepted too, and the ``second`` column
may be left out (0 then). Extra columns
(e.g. ``camera``, and ``unix_ts``/``year`` themselves) are kept as strings and written back. Optional columns
with a known meaning are checked when present and non-empty (:data:`OPTIONAL_COLUMNS`: the clock columns that
``ingest`` writes); any other extra column is free text.

:func:`load_records` reads and validates such a CSV. Every bad row is reported with the file, its data row
(counted from 1 after the header), its line in the file, the field and the value. Empty lat/lon or empty time
fields are a missing label (NaN), not an error.
"""

from __future__ import annotations

import calendar
import csv
import io
import logging
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from gtloc.errors import GtlocError
from gtloc.geo import InvalidCoordinateError, validate_coordinate
from gtloc.io import atomic_write_text
from gtloc.labels import has_label
from gtloc.timecode import TIME_FIELDS, InvalidTimeError, validate_time

RECORD_COLUMNS = ("path", "lat", "lon", "unix_ts", "year", "month", "day", "hour", "minute", "second")
GEO_COLUMNS = ("path", "lat", "lon")


@dataclass
class Records:
    """A table of pictures with optional GPS and local time labels.

    ``paths``: N relative image paths. ``latlon``: ``(N, 2)`` float64 degrees, NaN where unknown.
    ``times``: ``(N, 5)`` float64 ``[month, day, hour, minute, second]`` local time, NaN where unknown.
    ``extras``: other columns by name (``unix_ts``, ``year``, ``camera``, ...), N strings each ("" if empty).
    """

    paths: list[str]
    latlon: np.ndarray
    times: np.ndarray
    extras: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.paths)
        self.latlon = np.asarray(self.latlon, dtype=np.float64).reshape(n, 2)
        self.times = np.asarray(self.times, dtype=np.float64).reshape(n, 5)
        for name, values in self.extras.items():
            if len(values) != n:
                raise ValueError(f"extra column {name!r} has {len(values)} values for {n} records")

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def has_gps(self) -> np.ndarray:
        """``(N,)`` bool: the record has a latitude and longitude."""
        return has_label(self.latlon)

    @property
    def has_time(self) -> np.ndarray:
        """``(N,)`` bool: the record has a full local timestamp."""
        return has_label(self.times)

    def subset(self, index: Sequence[int] | np.ndarray) -> Records:
        """The records at ``index`` (integer positions or a boolean mask), in that order."""
        idx = np.arange(len(self))[np.asarray(index)] if np.asarray(index).dtype == bool else np.asarray(index, int)
        return Records(
            paths=[self.paths[i] for i in idx],
            latlon=self.latlon[idx],
            times=self.times[idx],
            extras={k: [v[i] for i in idx] for k, v in self.extras.items()},
        )


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if float(value) == int(value):
        return str(int(value))
    return f"{float(value):.6f}".rstrip("0").rstrip(".")


def records_to_csv(records: Records) -> str:
    """Render records in the schema's column order (time columns only if any record has a time)."""
    with_time = bool(records.has_time.any()) or "unix_ts" in records.extras or "year" in records.extras
    base = RECORD_COLUMNS if with_time else GEO_COLUMNS
    extra_names = [k for k in records.extras if k not in base]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*base, *extra_names])
    for i, path in enumerate(records.paths):
        row = {"path": path, "lat": _fmt(records.latlon[i, 0]), "lon": _fmt(records.latlon[i, 1])}
        for j, name in enumerate(TIME_FIELDS):
            row[name] = _fmt(records.times[i, j])
        for name in ("unix_ts", "year"):
            row[name] = records.extras.get(name, [""] * len(records))[i]
        writer.writerow([row[c] for c in base] + [records.extras[k][i] for k in extra_names])
    return out.getvalue()


def paths_for_csv(files: Sequence[str | os.PathLike[str]], csv_path: str | Path) -> list[str]:
    """How a CSV at ``csv_path`` names ``files`` (as given: relative to the working folder, or absolute).

    A records or predictions CSV names its pictures relative to its own folder (POSIX separators), or by their
    absolute path when they lie outside it, so that two CSVs in one folder name the same photo the same way.
    """
    base = os.path.abspath(Path(csv_path).parent)
    named = []
    for file in files:
        full = os.path.abspath(file)
        inside = os.path.commonpath([full, base]) == base
        named.append(Path(os.path.relpath(full, base) if inside else full).as_posix())
    return named


def write_records(records: Records, path: str | Path) -> None:
    """Write a records CSV atomically."""
    atomic_write_text(path, records_to_csv(records))


logger = logging.getLogger(__name__)
REQUIRED_COLUMNS = ("path", "lat", "lon")
REPORT_COLUMNS = ("row", "path", "field", "value", "problem")
MAX_LISTED_PROBLEMS = 50
_PARSED_COLUMNS = ("path", "lat", "lon", *TIME_FIELDS)
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class RecordProblem:
    """One bad value in a records CSV.

    ``row``: the data row, counted from 1 after the header (0 means the header itself). ``line``: the line
    in the file where the record starts (the header is line 1).
    ``field``: the column (empty for a problem with the whole row). ``problem``: why it is bad.
    """

    file: str
    row: int
    line: int
    path: str
    field: str
    value: str
    problem: str

    def __str__(self) -> str:
        where = "header (line 1)" if self.row == 0 else f"row {self.row} (line {self.line})"
        if self.row and self.field != "path":
            where += f", path {self.path!r}"
        if not self.field:
            return f"{where}: {self.problem}"
        return f"{where}: invalid {self.field} {self.value!r}: {self.problem}"


class RecordsValidationError(GtlocError, ValueError):
    """A records CSV has bad rows. ``problems`` holds every one; the message lists the first 50."""

    def __init__(self, file: str, problems: Sequence[RecordProblem], n_rows: int) -> None:
        self.file = file
        self.problems = list(problems)
        self.n_rows = n_rows
        super().__init__(format_problems(file, self.problems, n_rows))


def format_problems(file: str, problems: Sequence[RecordProblem], n_rows: int) -> str:
    """The user-facing text for ``problems``: a summary line, then at most 50 problems, then "... and N more"."""
    if len(problems) == 1 and problems[0].row == 0:
        return f"{file}: {problems[0]}"
    bad_rows = len({p.row for p in problems})
    lines = [
        f"{file}: {len(problems)} problem(s) in {bad_rows} of {n_rows} rows "
        "(row = data row counted from 1 after the header; line = line in the file):"
    ]
    lines += [f"  {p}" for p in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append(
            f"  ... and {len(problems) - MAX_LISTED_PROBLEMS} more (all are in the error's .problems; "
            "lenient mode skips bad rows and writes them to a report CSV)"
        )
    return "\n".join(lines)


@dataclass
class RecordsCheck:
    """The outcome of :func:`check_records`: the good rows, every problem, and how many data rows were read."""

    records: Records
    problems: list[RecordProblem]
    n_rows: int


def _check_number(value: str, whole_range: tuple[int, int] | None = None) -> str:
    """Why ``value`` is not a finite number (or a whole number in ``whole_range``); "" when it is fine."""
    try:
        v = float(value)
    except ValueError:
        return "not a number"
    if not math.isfinite(v):
        return "not a finite number"
    if whole_range and (v != int(v) or not whole_range[0] <= v <= whole_range[1]):
        return f"must be a whole number in {whole_range[0]}-{whole_range[1]}"
    return ""


def _utc_time_problem(value: str) -> str:
    """Why ``value`` is not an ISO 8601 UTC time such as ``2021-06-01T12:30:04Z``; "" when it is one."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "not an ISO 8601 time (e.g. 2021-06-01T12:30:04Z)"
    return "" if when.utcoffset() is not None and not when.utcoffset() else "not in UTC (end it with Z)"


OPTIONAL_COLUMNS: dict[str, Callable[[str], str]] = {
    "gps_utc": _utc_time_problem,
    "clock_offset_s": _check_number,
    "clock": lambda value: "" if value in ("ok", "wrong", "unknown") else "must be ok, wrong or unknown",
}
"""Optional columns checked when present and non-empty: name -> why a value is bad ("" when good). A new optional
column with a checkable meaning adds one entry here; every other extra column is kept as free text."""


def _header_error(file: str, problem: str) -> RecordsValidationError:
    return RecordsValidationError(file, [RecordProblem(file, 0, 1, "", "", "", problem)], 0)


def _column_index(file: str, header: list[str]) -> dict[str, int]:
    names = [h.strip() for h in header]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise _header_error(file, f"duplicate column(s) {', '.join(duplicated)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise _header_error(file, f"missing required column(s) {', '.join(missing)} (columns: {', '.join(names)})")
    given_time = [c for c in TIME_FIELDS if c in names]
    if given_time and not set(TIME_FIELDS[:-1]) <= set(given_time):
        absent = [c for c in TIME_FIELDS[:-1] if c not in names]
        raise _header_error(
            file,
            f"missing time column(s) {', '.join(absent)} (time columns come as a set: {', '.join(TIME_FIELDS[:-1])}"
            f", and {TIME_FIELDS[-1]} if you like)",
        )
    return {n: i for i, n in enumerate(names)}


def check_records(path: str | Path, *, images_root: str | Path | None = None) -> RecordsCheck:
    """Read a records CSV, streaming, and check every row; return the good rows and every problem.

    Checks: lat/lon range and numbers (lat and lon come together), the five time fields (all or none; a real
    calendar date when ``year`` is given, so Feb 29 2023 is bad), ``year``/``unix_ts`` numbers, empty and
    duplicate paths, and, when ``images_root`` is given, that ``images_root/path`` is a file. A bad header
    (missing ``path``/``lat``/``lon``, an incomplete set of time columns, duplicate names) raises
    :class:`RecordsValidationError` at once. Cost: O(N) time and memory.
    """
    file = str(path)
    if not Path(path).is_file():
        raise GtlocError(f"records file not found: {file}")
    root = None if images_root is None else str(images_root)
    problems: list[RecordProblem] = []
    paths: list[str] = []
    latlon: list[tuple[float, float]] = []
    times: list[tuple[float, ...]] = []
    first_row_of: dict[str, tuple[int, int]] = {}
    row = 0
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if not header:
                raise _header_error(file, "no header (the file is empty or starts with a blank line)")
            if bad_bytes := _text_problem({f"#{i + 1}": h for i, h in enumerate(header)}, 1, 1, set()):
                raise _header_error(file, bad_bytes)
            cols = _column_index(file, header)
            extra_names = [n for n in cols if n not in _PARSED_COLUMNS]
            extras: dict[str, list[str]] = {n: [] for n in extra_names}
            has_time = "month" in cols
            start = reader.line_num + 1
            for cells in reader:
                line, start = start, reader.line_num + 1
                if not cells:
                    continue
                row += 1
                named = dict(zip(cols, cells, strict=False))
                if why := _text_problem(named, reader.line_num, line, set(_PARSED_COLUMNS), len(cells) != len(cols)):
                    path_cell = _printable(named.get("path", "").strip())
                    problems.append(RecordProblem(file, row, line, path_cell, "", "", why))
                    continue
                found = _check_row(file, row, line, cells, cols, root, first_row_of)
                problems += found[0]
                if found[0]:
                    continue
                paths.append(found[1])
                latlon.append(found[2])
                times.append(found[3] if has_time else (math.nan,) * 5)
                for n in extra_names:
                    extras[n].append(cells[cols[n]].strip())
        except csv.Error as exc:
            raise GtlocError(f"{file}: line {reader.line_num}: malformed CSV ({exc})") from None
    records = Records(
        paths=paths,
        latlon=np.array(latlon, dtype=np.float64).reshape(-1, 2),
        times=np.array(times, dtype=np.float64).reshape(-1, 5),
        extras=extras,
    )
    return RecordsCheck(records=records, problems=problems, n_rows=row)


def _printable(text: str) -> str:
    """``text`` with the bytes that were not UTF-8 (surrogate escapes) shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _text_problem(cells: dict[str, str], end: int, line: int, single_line: set[str], short: bool = False) -> str:
    """Why one CSV record (``line`` to ``end``) cannot be read as text, or "" when it can.

    Two faults of the file rather than of a value: bytes that are not UTF-8 (read as surrogate escapes), and an
    unclosed quote, seen as a line break inside a column that never holds one (or inside a row that came out
    short of fields: the quote swallowed the lines after it).
    """
    for name, value in cells.items():
        if match := _NOT_UTF8.search(value):
            byte = ord(match.group()) - 0xDC00
            return (
                f"not UTF-8 text: byte 0x{byte:02x} in column {name!r} at character {match.start() + 1} "
                "(save the file as UTF-8)"
            )
    for name, value in cells.items():
        if ("\n" in value or "\r" in value) and (short or name in single_line):
            return (
                f"unclosed quote: column {name!r} opens a quoted value on line {line} that runs to line {end} "
                '(a quote inside a value must be doubled, "")'
            )
    return ""


def _check_row(
    file: str,
    row: int,
    line: int,
    cells: list[str],
    cols: dict[str, int],
    root: str | None,
    first_row_of: dict[str, tuple[int, int]],
) -> tuple[list[RecordProblem], str, tuple[float, float], tuple[float, ...]]:
    """Problems of one data row, and its parsed path, ``(lat, lon)`` and 5 time fields (NaN when missing)."""
    if len(cells) != len(cols):
        path = cells[cols["path"]].strip() if len(cells) > cols["path"] else ""
        problem = f"has {len(cells)} fields but the header has {len(cols)}"
        return [RecordProblem(file, row, line, path, "", "", problem)], path, (math.nan,) * 2, (math.nan,) * 5
    path = cells[cols["path"]].strip()
    problems: list[RecordProblem] = []

    def bad(field_name: str, value: str, why: str) -> None:
        problems.append(RecordProblem(file, row, line, path, field_name, value, why))

    if not path:
        bad("path", path, "empty")
    elif path in first_row_of:
        first_row, first_line = first_row_of[path]
        bad("path", path, f"duplicate of row {first_row} (line {first_line})")
    else:
        first_row_of[path] = (row, line)
        if root is not None and not os.path.isfile(os.path.join(root, path)):
            bad("path", path, f"image file not found under {root}")

    lat_s, lon_s = cells[cols["lat"]].strip(), cells[cols["lon"]].strip()
    latlon = (math.nan, math.nan)
    if lat_s and lon_s:
        n_before = len(problems)
        for pair in ((lat_s, "0"), ("0", lon_s)):  # one at a time: both fields can be wrong
            try:
                validate_coordinate(*pair)
            except InvalidCoordinateError as exc:
                bad(exc.field, exc.value, exc.reason)
        if len(problems) == n_before:
            latlon = (float(lat_s), float(lon_s))
    elif lat_s or lon_s:
        given, missing = ("lat", "lon") if lat_s else ("lon", "lat")
        bad(missing, "", f"missing while {given} is given (give both or neither)")

    year = math.nan
    for field_name, whole_range in (("year", (1, 9999)), ("unix_ts", None)):
        value = cells[cols[field_name]].strip() if field_name in cols else ""
        why = _check_number(value, whole_range) if value else ""
        if why:
            bad(field_name, value, why)
        elif value and field_name == "year":
            year = float(value)

    time = (math.nan,) * 5
    if "month" in cols:
        values = [cells[cols[f]].strip() if f in cols else "" for f in TIME_FIELDS]
        if "second" not in cols and any(values):
            values[-1] = "0"
        given = [f for f, v in zip(TIME_FIELDS, values, strict=True) if v]
        if given and len(given) < len(TIME_FIELDS):
            first_missing = next(f for f, v in zip(TIME_FIELDS, values, strict=True) if not v)
            why = f"missing while {', '.join(given)} {'is' if len(given) == 1 else 'are'} given"
            bad(first_missing, "", f"{why} (give all of {', '.join(TIME_FIELDS)}, or none)")
        elif given:
            time = _check_time(values, year, bad)
    for name, problem_of in OPTIONAL_COLUMNS.items():
        value = cells[cols[name]].strip() if name in cols else ""
        if value and (why := problem_of(value)):
            bad(name, value, why)
    return problems, path, latlon, time


def _check_time(values: list[str], year: float, bad: Callable[[str, str, str], None]) -> tuple[float, ...]:
    """Validate five present time strings; on success return them as floats, else report and return NaNs."""
    try:
        validate_time(*values)
    except InvalidTimeError as exc:
        bad(exc.field, exc.value, exc.reason)
        return (math.nan,) * 5
    parsed = tuple(float(v) for v in values)
    if math.isfinite(year):
        days = calendar.monthrange(int(year), int(parsed[0]))[1]
        if parsed[1] > days:
            bad("day", values[1], f"month {int(parsed[0])} of {int(year)} has {days} days")
            return (math.nan,) * 5
    return parsed


def default_report_path(path: str | Path) -> Path:
    """Where lenient loading writes its report: beside the CSV, ``records.csv`` -> ``records.report.csv``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.report.csv")


def write_problems(problems: Sequence[RecordProblem], path: str | Path) -> None:
    """Write ``problems`` as a CSV ``row,path,field,value,problem`` atomically (header only when empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for p in problems:
        writer.writerow([p.row, p.path, p.field, p.value, p.problem])
    try:
        atomic_write_text(path, out.getvalue())
    except OSError as exc:
        raise GtlocError(f"cannot write the records report to {path}: {exc.strerror or exc}") from None


def load_records(
    path: str | Path,
    *,
    images_root: str | Path | None = None,
    strict: bool = True,
    report_path: str | Path | None = None,
) -> Records:
    """Load a records CSV (the full schema or ``path,lat,lon``; extra columns kept in ``extras``).

    ``strict=True``: any bad row raises :class:`RecordsValidationError` listing every problem.
    ``strict=False``: bad rows are skipped and every problem is written to ``report_path`` (default
    :func:`default_report_path`, i.e. ``<name>.report.csv`` beside the CSV; written on every lenient load,
    header only when all rows are good), and a notice says how many rows were skipped and where the report is.
    A file that leaves no usable record raises ``GtlocError`` in both modes. Use :func:`check_records` to get the
    problems as objects.
    """
    check = check_records(path, images_root=images_root)
    if strict and check.problems:
        raise RecordsValidationError(str(path), check.problems, check.n_rows)
    report = Path(report_path) if report_path is not None else default_report_path(path)
    if not strict:
        write_problems(check.problems, report)
        if check.problems:
            bad = len({p.row for p in check.problems})
            logger.warning(
                "skipped %d of %d rows of %s (every problem is listed in %s)", bad, check.n_rows, path, report
            )
    if not len(check.records):
        why = f"all {check.n_rows} rows have problems (listed in {report})" if check.n_rows else "it has no data rows"
        raise GtlocError(f"no usable records in {path}: {why}")
    return check.records
