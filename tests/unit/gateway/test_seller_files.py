"""A seller's own files read into batch lines: headers found in any spelling and order, the
encodings and delimiters spreadsheets write, and the damage they do, each reported by row and
column."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest

from gateway.seller_files import (
    XLSX_MEDIA_TYPE,
    FileRejected,
    SellerFile,
    UnreadableFile,
    read_seller_file,
)
from gateway.seller_files.tables import sniff_delimiter

MAX_COST = Decimal("10000")


def read(
    data: bytes | str, media: str = "text/csv", *, sheet: str | None = None, max_lines: int = 1000
) -> SellerFile:
    raw = data.encode() if isinstance(data, str) else data
    return read_seller_file(raw, media, sheet=sheet, max_lines=max_lines, max_buy_cost=MAX_COST)


def rejected(data: bytes | str, media: str = "text/csv") -> list[str]:
    with pytest.raises(FileRejected) as caught:
        read(data, media)
    return [str(e) for e in caught.value.errors]


def xlsx(rows: list[list[object]], title: str = "Sheet1", extra: str | None = None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    if extra:
        book.create_sheet(extra).append(["ISBN", "Cost"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_headers_in_any_order_spelling_and_case() -> None:
    found = read(
        "notes,Qty,Used Condition?,cost / unit ($),isbn-13\n"
        "box 4,2,Used - Very Good,3.50,978-1-4920-5620-1\n"
    )
    assert found.columns == {"identifier": "isbn-13", "cost": "cost / unit ($)",
                             "quantity": "Qty", "note": "notes"}  # fmt: skip
    line = found.lines[0]
    assert (line.identifier, line.buy_cost, line.quantity, line.note) == (
        "9781492056201", Decimal("3.50"), 2, "box 4")  # fmt: skip


@pytest.mark.parametrize(
    ("header", "role"),
    [("ASIN", "identifier"), ("Product ID", "identifier"), ("UPC", "identifier"),
     ("EAN", "identifier"), ("Code", "identifier"), ("ISBN10", "identifier"),
     ("Buy Cost", "cost"), ("My Cost", "cost"), ("Net Cost", "cost"), ("Price Paid", "cost"),
     ("Comment", "note"), ("Quantity", "quantity"), ("CONDITION", "condition")],
)  # fmt: skip
def test_each_known_header_is_found(header: str, role: str) -> None:
    columns = {"identifier": "ISBN", "cost": "Cost", role: header}
    values = {"identifier": "0593655036", "cost": "2", "note": "n", "quantity": "1",
              "condition": "new"}  # fmt: skip
    text = ",".join(columns.values()) + "\n" + ",".join(values[r] for r in columns) + "\n"
    assert read(text).columns[role] == header  # type: ignore[index]


def test_condition_words_of_amazon_scoutiq_and_inventorylab() -> None:
    rows = [
        "New",
        "Used - Good",
        "UsedVeryGood",
        "used like new",
        "11",
        "2",
        "Collectible - Good",
        "",
    ]
    text = "ISBN,Cost,Condition\n" + "".join(f"0593655036,1,{c}\n" for c in rows)
    assert [line.condition for line in read(text).lines] == [
        "new", "used", "used", "used", "new", "used", "used", None]  # fmt: skip
    assert rejected("ISBN,Cost,Condition\n0593655036,1,shiny\n")[0].startswith(
        "row 2, column \"Condition\": 'shiny' is not a condition"
    )


def test_utf8_bom_semicolons_and_decimal_comma() -> None:
    data = '\ufeffISBN;Buy Cost\r\n0593655036;3,50\r\n9781492056201;"1.234,50"\r\n'.encode()
    found = read(data)
    assert [line.buy_cost for line in found.lines] == [Decimal("3.50"), Decimal("1234.50")]
    assert found.columns["identifier"] == "ISBN"  # the BOM is not part of the header


def test_utf16_unicode_text_of_excel() -> None:
    data = "ISBN\tCost\tNotes\r\n0593655036\t$2.00\tcafé\r\n".encode("utf-16")  # with its BOM
    found = read(data, "text/tab-separated-values")
    assert (found.lines[0].buy_cost, found.lines[0].note) == (Decimal("2.00"), "café")


def test_windows_1252_csv_of_excel() -> None:
    found = read("ISBN,Cost,Note\n0593655036,2,caf\xe9\n".encode("cp1252"))
    assert found.lines[0].note == "café"


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [("a,b\n1,2", ","), ("a;b\n1;2,5", ";"), ("a\tb\n1\t2", "\t"), ("a|b\n1|2", "|"),
     ('a,b\n"x;y",2', ",")],
)  # fmt: skip
def test_delimiter_is_detected(text: str, delimiter: str) -> None:
    assert sniff_delimiter(text) == delimiter


def test_costs_as_spreadsheets_write_them() -> None:
    text = "ISBN,Cost\n" + "".join(
        f"0593655036,{c}\n" for c in ["$3.50", '"1,234.50"', "USD 2", "4 $", "0", "7"]
    )
    assert [str(line.buy_cost) for line in read(text).lines] == [
        "3.50", "1234.50", "2.00", "4.00", "0.00", "7.00"]  # fmt: skip


def test_decimal_comma_found_in_a_comma_separated_file() -> None:
    found = read('ISBN,Cost\n0593655036,"3,50"\n0593655036,2\n')
    assert [str(line.buy_cost) for line in found.lines] == ["3.50", "2.00"]


def test_every_bad_cell_is_named_by_row_and_column_at_once() -> None:
    errors = rejected(
        "ISBN,Cost\n"
        "0593655036,1\n"
        "9780593655037,2\n"  # row 3: wrong check digit
        "\n"  # empty rows are skipped, and still counted as rows
        "0593655036,abc\n"  # row 5
        "0593655036,3.505\n"  # row 6
        "0593655036,20000\n"  # row 7
        "hello,-1\n"  # row 8: two errors
    )
    assert errors[0] == 'row 3, column "ISBN": wrong check digit (expected 0)'
    assert errors[1] == "row 5, column \"Cost\": 'abc' is not an amount (e.g. 3.50)"
    assert errors[2].startswith("row 6, column \"Cost\": '3.505' has more than 2 decimal places")
    assert "MAX_BUY_COST" in errors[3] and errors[3].startswith("row 7,")
    assert [e.split(":")[0] for e in errors[4:]] == ['row 8, column "ISBN"', 'row 8, column "Cost"']


def test_errors_are_listed_up_to_the_limit_and_counted() -> None:
    text = "ISBN,Cost\n" + "0593655037,1\n" * 250
    with pytest.raises(FileRejected) as caught:
        read(text)
    assert (len(caught.value.errors), caught.value.total) == (100, 250)


def test_scientific_notation_isbn_is_refused_with_the_reason() -> None:
    [error] = rejected("ISBN,Cost\n9.78149E+12,2\n")
    assert error.startswith('row 2, column "ISBN": 9.78149E+12 is an ISBN that the spreadsheet')
    assert "cut to 6 digits" in error and "Text" in error
    # with all its digits, it is the ISBN
    assert read("ISBN,Cost\n9.781492056201E+12,2\n").lines[0].identifier == "9781492056201"


def test_dropped_leading_zero_is_suggested_only_when_the_check_digit_holds() -> None:
    [error] = rejected("ISBN,Cost\n593655036,2\n")
    assert "0593655036" in error and "leading zero" in error
    [other] = rejected("ISBN,Cost\n593655037,2\n")
    assert "05936" not in other


def test_empty_rows_skipped_and_trailing_totals_ignored_and_reported() -> None:
    found = read("ISBN,Cost\n\n0593655036,2\n,,\n0593655036,3\n\nTotal,5\n,5\n")
    assert len(found.lines) == 2
    assert [(r.row, r.reason) for r in found.ignored] == [
        (7, "a total row (no identifier)"), (8, "a total row (no identifier)")]  # fmt: skip


def test_a_cost_without_identifier_in_the_middle_is_an_error() -> None:
    [error] = rejected("ISBN,Cost\n0593655036,2\n,5\n0593655036,3\n")
    assert error.startswith('row 3, column "ISBN": empty')


def test_without_headers_first_column_identifiers_second_costs() -> None:
    found = read("0593655036,2.5\nB00ABCDEFG,1\n9781492056201,0.5\n")
    assert found.columns == {"identifier": "A", "cost": "B"}
    assert [line.identifier for line in found.lines] == [
        "0593655036", "B00ABCDEFG", "9781492056201"]  # fmt: skip
    [error] = rejected("0593655036,2.5\n0593655037,1\n")
    assert error == 'row 2, column "A": wrong check digit (expected 6)'


def test_unknown_headers_say_what_is_expected() -> None:
    [error] = rejected("Title,Price\nA book,2\n")
    assert error.startswith("row 1: no identifier column") and "ISBN" in error
    [error] = rejected("ISBN,Title\n0593655036,A book\n")
    assert error.startswith("row 1: no cost column")


def test_too_many_lines() -> None:
    with pytest.raises(FileRejected) as caught:
        read("ISBN,Cost\n" + "0593655036,1\n" * 11, max_lines=10)
    assert caught.value.too_many_lines == 10


def test_xlsx_typed_cells_first_sheet_or_named_sheet() -> None:
    data = xlsx(
        [["Code", "Price Paid", "Qty"], [9781492056201, 3.5, 2], ["0593655036", 1, None]],
        extra="Second",
    )
    found = read(data, XLSX_MEDIA_TYPE)
    assert [(line.identifier, str(line.buy_cost), line.quantity) for line in found.lines] == [
        ("9781492056201", "3.50", 2), ("0593655036", "1.00", 1)]  # fmt: skip
    with pytest.raises(FileRejected):  # the second sheet has no lines
        read(data, XLSX_MEDIA_TYPE, sheet="second")
    with pytest.raises(UnreadableFile) as caught:
        read(data, XLSX_MEDIA_TYPE, sheet="Third")
    assert caught.value.field == "sheet" and "'Sheet1', 'Second'" in caught.value.message


def test_xlsx_number_isbn10_lost_its_zero_and_costs_with_more_than_cents() -> None:
    data = xlsx([["ISBN", "Cost"], [593655036, 2], ["0593655036", 10 / 3], [None, None],
                 ["0593655036", 0.1 + 0.2]])  # fmt: skip
    errors = rejected(data, media=XLSX_MEDIA_TYPE)
    assert errors[0].startswith('row 2, column "ISBN"') and "0593655036" in errors[0]
    assert errors[1].startswith('row 3, column "Cost"') and "more than 2 decimal" in errors[1]
    assert len(errors) == 2  # 0.30000000000000004 is float noise: 0.30


def test_not_a_workbook() -> None:
    with pytest.raises(UnreadableFile):
        read(b"PK\x03\x04 not really a zip", XLSX_MEDIA_TYPE)
