"""Permalinks: every result set (room combinations, face looks) is stored once and can be reopened,
read-only, by anyone who has its link.

Layout under ``settings.shares_dir``::

    shares.sqlite            one row per share (SQLite in WAL mode, safe for a threaded server)
    <id>/before.jpg          the photo the results were made from
    <id>/result_000.jpg ...  the results, in the order they were shown

Ids come from :func:`app.security.new_share_id` (``secrets.token_urlsafe``, 128 bits): they cannot be guessed or enumerated.
Files are written into a hidden temporary folder and renamed into place before the row is
inserted, so a share is either complete or absent, also after a crash.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from app.security import is_share_id, new_share_id
from pipelines.intake import save_image

SHARE_KINDS = ("room", "face")


class ShareNotFound(LookupError):
    """No share has this id (or the id is malformed). The message says which."""


@dataclass
class SharedResult:
    """One stored result: ``image`` is a JPEG path, ``meta`` the result's ``to_dict()``."""

    image: Path
    meta: dict


@dataclass
class Share:
    """A stored result set, as reopened from its permalink."""

    id: str
    kind: str  # "room" or "face"
    created: float  # Unix time, seconds
    before: Path
    results: list[SharedResult]
    info: dict = field(default_factory=dict)  # backend, request, tone... (JSON-safe)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "created": self.created,
            "info": self.info,
            "results": [r.meta for r in self.results],
        }


class ShareStore:
    """SQLite + files store of result sets. One instance per app; thread-safe."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "shares.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS shares ("
            " id TEXT PRIMARY KEY, kind TEXT NOT NULL, created REAL NOT NULL, info TEXT NOT NULL,"
            " results TEXT NOT NULL)"
        )

    @classmethod
    def from_settings(cls, settings) -> "ShareStore":
        return cls(settings.shares_dir)

    def create(
        self,
        kind: str,
        before: Image.Image,
        results: list[tuple[Image.Image, dict]],
        info: dict | None = None,
    ) -> Share:
        """Store ``before`` and ``results`` (image, JSON-safe metadata) and return the new share.

        Raises:
            ValueError: unknown ``kind``, no results, or metadata that is not JSON-serialisable.
        """
        if kind not in SHARE_KINDS:
            raise ValueError(f"share kind must be one of {SHARE_KINDS}, got {kind!r}")
        if not results:
            raise ValueError("nothing to share: the result set is empty")
        info = dict(info or {})
        try:
            info_json = json.dumps(info)
            json.dumps([m for _, m in results])  # fail before any file is written
        except (TypeError, ValueError) as e:
            raise ValueError(f"share metadata is not JSON-serialisable: {e}") from None

        share_id = new_share_id()
        final = self.root / share_id
        tmp = self.root / f".tmp-{share_id}"
        names = [f"result_{i:03d}.jpg" for i in range(len(results))]
        jobs = [(before, "before.jpg")] + [(img, name) for (img, _), name in zip(results, names)]
        try:
            # JPEG encoding releases the GIL: a few threads roughly halve the wait for 20 results.
            with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
                list(pool.map(lambda job: save_image(job[0].convert("RGB"), tmp / job[1], quality=90), jobs))
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        created = time.time()
        stored = json.dumps([{"image": n, "meta": m} for n, (_, m) in zip(names, results)])
        with self._lock:
            self._db.execute(
                "INSERT INTO shares (id, kind, created, info, results) VALUES (?, ?, ?, ?, ?)",
                (share_id, kind, created, info_json, stored),
            )
        return self.get(share_id)

    def get(self, share_id: str) -> Share:
        """The share with this id.

        Raises:
            ShareNotFound: malformed id, unknown id, or its files are gone.
        """
        share_id = (share_id or "").strip()
        if not is_share_id(share_id):
            raise ShareNotFound(f"{share_id!r} is not a share id (expected 22 letters, digits, '-' or '_')")
        with self._lock:
            row = self._db.execute(
                "SELECT kind, created, info, results FROM shares WHERE id = ?", (share_id,)
            ).fetchone()
        if row is None:
            raise ShareNotFound(f"no shared result with id {share_id}: the link is wrong or was deleted")
        kind, created, info, results = row
        folder = self.root / share_id
        before = folder / "before.jpg"
        if not before.is_file():
            raise ShareNotFound(f"shared result {share_id} exists but its images are missing from {folder}")
        return Share(
            id=share_id,
            kind=kind,
            created=created,
            before=before,
            results=[SharedResult(folder / r["image"], r["meta"]) for r in json.loads(results)],
            info=json.loads(info),
        )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM shares").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
