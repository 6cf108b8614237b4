"""The catalogue on disk: SQLite (WAL) for products and embeddings, files for images.

Layout under ``settings.catalog_dir``::

    catalog.sqlite     products (one JSON record per id) and embeddings (vector blobs + model name)
    images/            product photos, normalised by pipelines.intake (JPEG/PNG, no metadata)
    cutouts/           RGBA PNG cut-outs
    index/             FAISS indexes (see catalog.index), rebuilt when the catalogue changes

Every write is a transaction; a crash loses at most the batch in flight, and re-running the
import completes it (upsert by id).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from catalog.products import Product

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    category TEXT NOT NULL,
    makeup_type TEXT,
    brand TEXT,
    price REAL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS products_category ON products(category);
CREATE INDEX IF NOT EXISTS products_makeup ON products(makeup_type);
CREATE TABLE IF NOT EXISTS embeddings (
    product_id TEXT NOT NULL,
    kind TEXT NOT NULL,          -- 'image' or 'text'
    model TEXT NOT NULL,         -- embedder.model_name
    source_hash TEXT NOT NULL,   -- hash of what was embedded: a changed image or text re-embeds
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,        -- float32 little-endian, L2-normalised
    PRIMARY KEY (product_id, kind, model)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class UpsertResult:
    """Ids by what happened to them."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


class Catalog:
    """Products and their embeddings. Safe to share between threads (one lock, one connection)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.images_dir = self.root / "images"
        self.cutouts_dir = self.root / "cutouts"
        self.index_dir = self.root / "index"
        for d in (self.images_dir, self.cutouts_dir, self.index_dir):
            d.mkdir(exist_ok=True)
        self.db_path = self.root / "catalog.sqlite"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.db_path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def open(cls, settings) -> "Catalog":
        """The catalogue in ``settings.catalog_dir`` (created empty when absent)."""
        return cls(settings.catalog_dir)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ products
    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM products").fetchone()[0]

    def __contains__(self, product_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM products WHERE id=?", (product_id,)).fetchone() is not None

    def get(self, product_id: str) -> Product | None:
        """The product with this id, or None."""
        with self._lock:
            row = self._db.execute("SELECT data FROM products WHERE id=?", (product_id,)).fetchone()
        return Product.model_validate_json(row[0]) if row else None

    def get_many(self, ids: Iterable[str]) -> dict[str, Product]:
        ids = list(ids)
        out: dict[str, Product] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                q = f"SELECT id, data FROM products WHERE id IN ({','.join('?' * len(chunk))})"
                for pid, data in self._db.execute(q, chunk):
                    out[pid] = Product.model_validate_json(data)
        return out

    def list(self, category: str | None = None, makeup_type: str | None = None) -> list[Product]:
        """Products, ordered by id, optionally of one category and/or makeup type."""
        q, args = "SELECT data FROM products WHERE 1=1", []
        if category is not None:
            q += " AND category=?"
            args.append(category.lower())
        if makeup_type is not None:
            q += " AND makeup_type=?"
            args.append(makeup_type)
        with self._lock:
            rows = self._db.execute(q + " ORDER BY id", args).fetchall()
        return [Product.model_validate_json(r[0]) for r in rows]

    def ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM products ORDER BY id")]

    def upsert(self, products: Iterable[Product], embeddings: Iterable[tuple] = ()) -> UpsertResult:
        """Insert new products and replace existing ones with the same id, in one transaction.

        ``embeddings``: optional ``(kind, model, ids, vectors, source_hashes)`` tuples written in the
        same transaction, so a crash never leaves a product without the vectors of its batch.
        """
        res = UpsertResult()
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for p in products:
                    data = p.model_dump_json()
                    old = self._db.execute("SELECT data FROM products WHERE id=?", (p.id,)).fetchone()
                    if old is not None and old[0] == data:
                        res.unchanged.append(p.id)
                        continue
                    self._db.execute(
                        "INSERT OR REPLACE INTO products (id, data, category, makeup_type, brand, price, updated_at)"
                        " VALUES (?,?,?,?,?,?,?)",
                        (p.id, data, p.category, p.makeup_type, p.brand, p.price, now),
                    )
                    (res.updated if old is not None else res.inserted).append(p.id)
                wrote_vectors = False
                for kind, model, ids, vectors, hashes in embeddings:
                    self._write_vectors(kind, model, ids, vectors, hashes)
                    wrote_vectors = wrote_vectors or len(ids) > 0
                if res.inserted or res.updated or wrote_vectors:
                    self._bump_version()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return res

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            n = 0
            for pid in ids:
                n += self._db.execute("DELETE FROM products WHERE id=?", (pid,)).rowcount
                self._db.execute("DELETE FROM embeddings WHERE product_id=?", (pid,))
            if n:
                self._bump_version()
            self._db.execute("COMMIT")
        return n

    def stats(self) -> dict:
        """Counts by category and makeup type, and embedded vectors by model."""
        with self._lock:
            cats = dict(self._db.execute("SELECT category, COUNT(*) FROM products GROUP BY category ORDER BY category"))
            mk = dict(self._db.execute(
                "SELECT makeup_type, COUNT(*) FROM products WHERE makeup_type IS NOT NULL GROUP BY makeup_type"))
            emb = {f"{k}:{m}": n for k, m, n in self._db.execute(
                "SELECT kind, model, COUNT(*) FROM embeddings GROUP BY kind, model")}
            priced = self._db.execute("SELECT COUNT(*) FROM products WHERE price IS NOT NULL").fetchone()[0]
            flagged = self._db.execute(
                "SELECT COUNT(*) FROM products WHERE json_extract(data, '$.cutout_flagged') = 1").fetchone()[0]
        return {"products": sum(cats.values()), "categories": cats, "makeup_types": mk,
                "with_price": priced, "cutouts_flagged": flagged, "embeddings": emb,
                "version": self.version, "path": str(self.root)}

    # ------------------------------------------------------------------ embeddings
    def put_embeddings(self, kind: str, model: str, ids: list[str], vectors: np.ndarray, source_hashes: list[str]) -> None:
        """Store one vector per id (float32 (N, D)), replacing any older one of the same kind and model."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._write_vectors(kind, model, ids, vectors, source_hashes)
                self._bump_version()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _write_vectors(self, kind, model, ids, vectors, source_hashes) -> None:
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        if len(ids) == 0:
            return
        if vectors.ndim != 2 or len(vectors) != len(ids) or len(ids) != len(source_hashes):
            raise ValueError(f"ids ({len(ids)}), hashes ({len(source_hashes)}) and vectors {vectors.shape} must align")
        self._db.executemany(
            "INSERT OR REPLACE INTO embeddings (product_id, kind, model, source_hash, dim, vector) VALUES (?,?,?,?,?,?)",
            [(pid, kind, model, h, vectors.shape[1], v.tobytes()) for pid, h, v in zip(ids, source_hashes, vectors)],
        )

    def embedding_hashes(self, kind: str, model: str) -> dict[str, str]:
        """{product id: source hash} of the stored vectors of this kind and model."""
        with self._lock:
            return dict(self._db.execute(
                "SELECT product_id, source_hash FROM embeddings WHERE kind=? AND model=?", (kind, model)))

    def get_embeddings(self, kind: str, model: str) -> tuple[list[str], np.ndarray]:
        """(ids sorted, float32 (N, D)) of existing products' vectors of this kind and model."""
        with self._lock:
            rows = self._db.execute(
                "SELECT e.product_id, e.dim, e.vector FROM embeddings e JOIN products p ON p.id = e.product_id"
                " WHERE e.kind=? AND e.model=? ORDER BY e.product_id", (kind, model)).fetchall()
        if not rows:
            return [], np.zeros((0, 0), np.float32)
        dim = rows[0][1]
        mat = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(len(rows), dim)
        return [r[0] for r in rows], mat.astype(np.float32)

    def embedding_models(self, kind: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT model FROM embeddings WHERE kind=?", (kind,))]

    # ------------------------------------------------------------------ bookkeeping
    @property
    def version(self) -> int:
        """Bumped by every change: indexes built at an older version are rebuilt."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        return int(row[0]) if row else 0

    def _bump_version(self) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('version', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def path(self, rel: str | None) -> Path | None:
        """Absolute path of a file stored relative to the catalogue folder."""
        return None if rel is None else self.root / rel
