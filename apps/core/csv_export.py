"""Records as CSV for the operator (the admin's "Export CSV"): named columns, one row per record,
streamed so that a long list is not built in memory."""

import csv
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

# A cell that starts with one of these is read as a formula by spreadsheet programs; some
# columns (biz_no, a note) carry text the client or an operator chose, so such a cell is
# written with a leading apostrophe (OWASP's advice for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Column = tuple[str, Callable[[Any], object]]


class _Echo:
    """csv.writer writes into this; each row comes back as the string to stream."""

    def write(self, value: str) -> str:
        return value


def cell(value: object) -> str:
    """A value as the CSV shows it: empty for None, ISO 8601 for times, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_lines(records: Iterable[Any], columns: list[Column]) -> Iterator[str]:
    """The header line, then one line per record."""
    writer = csv.writer(_Echo())
    yield writer.writerow([name for name, _ in columns])
    for record in records:
        yield writer.writerow([cell(value(record)) for _, value in columns])
