"""A seller's own spreadsheet as a batch: real files as Excel and LibreOffice write them (CSV with
a BOM and semicolons, UTF-16 "Unicode text", XLSX), uploaded as a form or as the body; a file
with Excel's usual damage is refused naming every row and column, and stores nothing."""

from __future__ import annotations

import io
from typing import Any

import openpyxl

from devstack.stack import Stack
from tests.e2e.conftest import Seller
from tests.helpers import admin_value

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TRACE_SQL = (
    "SELECT (SELECT count(*) FROM gateway.submissions) + (SELECT count(*) FROM gateway.outbox)"
)


def workbook(rows: list[list[Any]], first_sheet: str = "Cover") -> bytes:
    book = openpyxl.Workbook()
    cover = book.active
    assert cover is not None
    cover.title = first_sheet
    cover.append(["Library sale, Saturday"])
    sheet = book.create_sheet("Books")
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def lines_of(seller: Seller, batch_id: str) -> list[dict[str, Any]]:
    items = await seller.get(f"/api/v1/batches/{batch_id}/items", params={"size": 500})
    assert items.status_code == 200, items.text
    return items.json()["items"]  # type: ignore[no-any-return]


async def test_a_european_csv_with_bom_and_semicolons_as_a_form(seller: Seller) -> None:
    data = (
        "\ufeffEAN;Cost/Unit;Condition;Qty;Notes\r\n"
        "978-1-4920-5620-1;3,50;Used - Very Good;2;box 4\r\n"
        '0593655036;"1.234,50";New;;\r\n'
        ";;;;\r\n"
        "Total;1.238,00;;;\r\n"
    ).encode()
    response = await seller.post(
        "/api/v1/batches",
        files={"file": ("haul.csv", data, "text/csv")},
        data={"strategy": '{"min_profit": 2}'},
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    assert batch["name"] == "haul.csv" and batch["items_total"] == 2
    assert batch["columns"] == {
        "identifier": "EAN", "cost": "Cost/Unit", "condition": "Condition", "quantity": "Qty",
        "note": "Notes"}  # fmt: skip
    assert batch["ignored_rows"] == [{"row": 5, "reason": "a total row (no identifier)"}]
    assert response.headers["location"] == f"/api/v1/batches/{batch['id']}"
    assert (await seller.wait_terminal(batch["id"]))["status"] == "COMPLETED"
    assert [line["identifier"] for line in await lines_of(seller, batch["id"])] == [
        "9781492056201", "0593655036"]  # fmt: skip


async def test_utf16_unicode_text_as_the_body(seller: Seller) -> None:
    data = "ISBN\tMy Cost\r\n0593655036\t$2.00\r\nB00ABCDEFG\t1\r\n".encode("utf-16")
    response = await seller.post(
        "/api/v1/batches",
        content=data,
        params={"name": "scanner export"},
        headers={"Content-Type": "text/tab-separated-values"},
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    assert (batch["name"], batch["items_total"]) == ("scanner export", 2)
    assert batch["columns"]["cost"] == "My Cost"


async def test_xlsx_written_by_openpyxl_with_a_sheet_parameter(seller: Seller) -> None:
    data = workbook([["Product ID", "Buy Cost", "Comment"], [9781492056201, 3.5, "signed"],
                     ["0593655036", 2, None]])  # fmt: skip
    first = await seller.post("/api/v1/batches", content=data, headers={"Content-Type": XLSX})
    assert first.status_code == 422, first.text  # the first sheet holds no list
    assert first.json()["errors"][0]["field"] == "row 1"
    response = await seller.post(
        "/api/v1/batches", content=data, params={"sheet": "Books"}, headers={"Content-Type": XLSX}
    )
    assert response.status_code == 202, response.text
    assert response.json()["columns"] == {
        "identifier": "Product ID", "cost": "Buy Cost", "condition": None, "quantity": None,
        "note": "Comment"}  # fmt: skip
    assert response.json()["items_total"] == 2


async def test_excel_damage_is_explained_by_row_and_column_and_stores_nothing(
    seller: Seller, stack: Stack
) -> None:
    before = await admin_value(stack.admin_url, TRACE_SQL)
    data = (
        b"ISBN,Cost\n"
        b"9.78149E+12,3.50\n"  # precision lost
        b"593655036,2\n"  # an ISBN-10 without its leading zero
        b"9781492056202,2\n"  # wrong check digit
        b"0593655036,3.505\n"
        b"0593655036,1\n"
    )
    response = await seller.post(
        "/api/v1/batches", files={"file": ("damaged.csv", data, "text/csv")}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    errors = {e["field"]: e["message"] for e in problem["errors"]}
    assert list(errors) == ['row 2, column "ISBN"', 'row 3, column "ISBN"',
                            'row 4, column "ISBN"', 'row 5, column "Cost"']  # fmt: skip
    assert "scientific notation" in errors['row 2, column "ISBN"']
    assert "0593655036" in errors['row 3, column "ISBN"']
    assert errors['row 4, column "ISBN"'] == "wrong check digit (expected 1)"
    assert problem["errors"][0]["row"] == 2 and problem["errors"][0]["column"] == "ISBN"
    assert (
        problem["detail"].startswith('row 2, column "ISBN": ')
        and "(and 3 more)" in problem["detail"]
    )
    assert await admin_value(stack.admin_url, TRACE_SQL) == before


async def test_a_file_is_authenticated_before_it_is_read_and_other_types_are_415(
    seller: Seller, stack: Stack
) -> None:
    anonymous = await seller.http.post(
        "/api/v1/batches",
        content=b"ISBN,Cost\n0593655036,1\n",
        headers={"Content-Type": "text/csv"},
    )
    assert anonymous.status_code == 401
    plain = await seller.post(
        "/api/v1/batches", content=b"0593655036,1\n", headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    assert "text/csv" in plain.json()["detail"]
    no_file = await seller.post("/api/v1/batches", data={"name": "x"}, files={"other": b"1"})
    assert no_file.status_code == 422
    assert no_file.json()["errors"][0]["field"] == "file"


async def test_json_lines_carry_quantity_and_note(seller: Seller) -> None:
    batch = await seller.submit(
        [{"identifier": "0593655036", "buy_cost": 2, "quantity": 3, "note": "shelf B"}]
    )
    assert batch["columns"] is None
    bad = await seller.post(
        "/api/v1/batches",
        json={"name": "x", "items": [{"identifier": "0593655036", "buy_cost": 2, "quantity": 0}]},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "items[0].quantity"
