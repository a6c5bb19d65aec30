"""Stored credentials: one per gateway URL, in the user's config directory, readable only by them.

`$XDG_CONFIG_HOME/arbitragevault/credentials.json` on Linux (platformdirs' user config dir);
the file is written 0600 in a 0700 directory, atomically, so an interrupted write never leaves
half a token behind. `ARBITRAGEVAULT_API_KEY` in the environment takes precedence over the file
(scripts and CI need not store anything)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["token", "api_key"]
API_KEY_ENV = "ARBITRAGEVAULT_API_KEY"
FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credential:
    kind: Kind
    secret: str  # the access token or the API key
    refresh_token: str | None = None
    email: str | None = None

    def headers(self) -> dict[str, str]:
        if self.kind == "api_key":
            return {"X-API-Key": self.secret}
        return {"Authorization": f"Bearer {self.secret}"}


def config_dir() -> Path:
    try:
        from platformdirs import user_config_dir
    except ImportError:  # platformdirs is optional: the XDG rule is what it does on Linux
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / "arbitragevault"
    return Path(user_config_dir("arbitragevault", appauthor=False))


class CredentialStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / FILE_NAME

    def get(self, url: str) -> Credential | None:
        if key := os.environ.get(API_KEY_ENV):
            return Credential("api_key", key)
        entry = self._load().get(url)
        if entry is None:
            return None
        kind: Kind = "api_key" if entry.get("kind") == "api_key" else "token"
        secret = entry.get("secret")
        if not secret:
            raise CredentialFileError(f"{self.path}: the entry of {url} has no secret")
        return Credential(kind, secret, entry.get("refresh_token"), entry.get("email"))

    def put(self, url: str, credential: Credential) -> None:
        entries = self._load()
        entries[url] = asdict(credential)
        self._save(entries)

    def remove(self, url: str) -> bool:
        entries = self._load()
        if entries.pop(url, None) is None:
            return False
        self._save(entries)
        return True

    def _load(self) -> dict[str, dict[str, str | None]]:
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise CredentialFileError(f"cannot read {self.path}: {exc}") from None
        return loaded if isinstance(loaded, dict) else {}

    def _save(self, entries: dict[str, dict[str, str | None]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".credentials-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)  # mkstemp's default too; said here because it matters
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entries, out, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


class CredentialFileError(Exception):
    pass
