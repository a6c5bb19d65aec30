"""The simulator serves any recorded Keepa JSON dropped into its samples folder: bare products,
envelopes, lists, gzip, a byte-order mark, subfolders; what is not a product is skipped."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from keepa_sim.catalog import Catalog


def _product(asin: str, **fields: object) -> dict[str, object]:
    return {"asin": asin, "domainId": 1, "title": f"book {asin}", **fields}


def test_every_recorded_shape_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "bare.json").write_text(json.dumps(_product("0000000001")))
    envelope = {"tokensLeft": 5, "products": [_product("0000000002"), _product("0000000003")]}
    (tmp_path / "envelope.JSON").write_text(json.dumps(envelope))
    bom = b"\xef\xbb\xbf" + json.dumps(_product("0000000004")).encode()
    (tmp_path / "bom.json").write_bytes(bom)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "list.json").write_text(json.dumps([_product("0000000005")]))
    (tmp_path / "answer.json.gz").write_bytes(
        gzip.compress(json.dumps({"products": [_product("0000000006")]}).encode())
    )
    catalog = Catalog.from_dir(tmp_path)
    for n in range(1, 7):
        assert catalog.get(1, f"000000000{n}", want_offers=False) is not None, n


def test_lowercase_asins_are_served_upper_case(tmp_path: Path) -> None:
    (tmp_path / "lower.json").write_text(json.dumps(_product("b0lower123")))
    served = Catalog.from_dir(tmp_path).get(1, "B0LOWER123", want_offers=False)
    assert served is not None and served["asin"] == "B0LOWER123"


def test_what_is_not_a_product_is_skipped_not_fatal(tmp_path: Path) -> None:
    envelope = {
        "products": [
            {"title": "no asin"},
            _product(""),
            {"asin": None},
            _product("0000000007", domainId="x"),
        ]
    }
    (tmp_path / "odd.json").write_text(json.dumps(envelope))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "cut.json.gz").write_bytes(gzip.compress(b"{}")[:-4])
    (tmp_path / "notes.txt").write_text("not a sample")
    catalog = Catalog.from_dir(tmp_path)
    assert len(catalog) == 1
    assert catalog.get(1, "0000000007", want_offers=False) is not None
