"""Files in and out: the content type a seller's file is sent as, and a download written so that
an interrupted one never leaves a truncated file under the name asked for."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import httpx

from .api import CliError, Exit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".txt": "text/tab-separated-values",  # Excel's "Unicode text" export is tab-separated
    ".xlsx": XLSX,
}


def content_type_of(file: Path) -> str:
    found = CONTENT_TYPES.get(file.suffix.lower())
    if found is None:
        kinds = ", ".join(CONTENT_TYPES)
        raise CliError(f"{file}: not a file type the API takes ({kinds})", Exit.USAGE)
    return found


def save_stream(response: httpx.Response, target: Path | None) -> int:
    """Write the streamed body to `target` (standard output when None); the bytes written."""
    if target is None:
        written = 0
        for chunk in response.iter_bytes():
            sys.stdout.buffer.write(chunk)
            written += len(chunk)
        sys.stdout.buffer.flush()
        return written
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=directory)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror}", Exit.USAGE) from None
    try:
        with os.fdopen(fd, "wb") as sink:
            for chunk in response.iter_bytes():
                sink.write(chunk)
            written = sink.tell()
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return written


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
