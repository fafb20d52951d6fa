"""Spreadsheet-safe exports: every CSV and XLSX the backend writes goes through here.

A cell that starts with = + - @ or a tab/carriage return is read by Excel and WPS as a formula
(CSV injection, OWASP). Such text is written with a leading apostrophe, which spreadsheets show as
plain text; numbers stay numbers.
"""

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
UTF8_BOM = "\ufeff"  # lets Excel open UTF-8 CSV with Chinese text correctly


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A CSV document (with BOM) whose every cell is formula-safe."""
    out = io.StringIO()
    out.write(UTF8_BOM)
    writer = csv.writer(out)
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell("" if cell is None else cell) for cell in row])
    return out.getvalue()
