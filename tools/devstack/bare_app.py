"""The reference of `bench_read`: a bare FastAPI route on the same Python and uvicorn as the
gateway (`python -m devstack.bare_app PORT`)."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, Any]:
    return {"id": "00000000-0000-0000-0000-000000000000", "status": "COMPLETED", "items_total": 200}


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, timeout_keep_alive=30
    )
