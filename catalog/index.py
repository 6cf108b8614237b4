"""Vector index over catalogue embeddings (FAISS, inner product on L2-normalised vectors).

One FAISS factory string names the index:

- ``"Flat"``: exact search; the default below :data:`APPROX_THRESHOLD` vectors.
- ``"HNSW32,Flat"``: graph index, no training, good recall at sub-millisecond latency.
- ``"IVF{n},PQ{m}x4fs,RFlat"``: inverted lists with 4-bit fast-scan PQ, re-ranked exactly
  (RFlat). Fastest to build at a million vectors.

Filters are applied as an allow-list of row positions. A selective filter (few allowed rows) is
answered by exact search over just those rows, so it always returns ``min(k, allowed)`` results;
a broad one searches the approximate index with a FAISS ID selector and falls back to the exact
subset when the index returned fewer than k.

Files: ``<name>.faiss`` (the index), ``<name>.ids.json`` (row -> product id, model, factory,
catalogue version). Both are written to a temporary name and moved into place (``os.replace``),
so a reader never sees a half-written index.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

APPROX_THRESHOLD = 50_000
DEFAULT_APPROX = "HNSW32,Flat"
# Below this many allowed rows a filtered query is exact over the allowed rows (cheap and complete).
EXACT_SUBSET_MAX = 20_000


def _faiss():
    import faiss

    return faiss


def default_factory(n: int) -> str:
    """"Flat" for small catalogues, an approximate index past :data:`APPROX_THRESHOLD`."""
    return "Flat" if n < APPROX_THRESHOLD else DEFAULT_APPROX


def gpu_available() -> bool:
    faiss = _faiss()
    try:
        return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    except Exception:  # noqa: BLE001 - a broken CUDA install means no GPU, not a crash
        return False


@dataclass
class IndexHits:
    """Rows found for one query: positions into the index, product ids, cosine scores (descending)."""

    rows: np.ndarray
    ids: list[str]
    scores: np.ndarray


class VectorIndex:
    """A FAISS index plus the product ids of its rows.

    Args:
        index: a built FAISS index (inner-product metric).
        ids: product id of each row, in order.
        vectors: float32 (N, D) L2-normalised rows (kept for exact subset search and re-ranking).
        factory: the FAISS factory string that built it.
        model: the embedding model name of the vectors.
        version: the catalogue version the index was built from.
    """

    def __init__(self, index, ids: list[str], vectors: np.ndarray, factory: str, model: str = "", version: int = 0):
        if index.ntotal != len(ids) or len(ids) != len(vectors):
            raise ValueError(f"index has {index.ntotal} rows, {len(ids)} ids and {len(vectors)} vectors")
        self.index = index
        self.ids = list(ids)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.factory = factory
        self.model = model
        self.version = version
        self.backend = "faiss-cpu"
        self._row_of = {pid: i for i, pid in enumerate(self.ids)}
        self.set_search_params()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return self.vectors.shape[1] if self.vectors.ndim == 2 and len(self.vectors) else 0

    def row_of(self, product_id: str) -> int | None:
        return self._row_of.get(product_id)

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, vectors: np.ndarray, ids: list[str], factory: str | None = None, model: str = "",
              version: int = 0, use_gpu: bool | None = None, train_size: int = 100_000, seed: int = 0) -> "VectorIndex":
        """Build an index over ``vectors`` (float32 (N, D), L2-normalised) named by ``factory``.

        ``use_gpu`` None means "when faiss-gpu and a GPU are present" (Flat and IVF only; the
        result is moved back to CPU for saving).
        """
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be (N, D), got shape {vectors.shape}")
        if len(vectors) != len(ids):
            raise ValueError(f"{len(vectors)} vectors but {len(ids)} ids")
        if len(set(ids)) != len(ids):
            raise ValueError("ids must be unique")
        factory = factory or default_factory(len(vectors))
        d = vectors.shape[1] if len(vectors) else 1
        index = faiss.index_factory(d, factory, faiss.METRIC_INNER_PRODUCT)
        gpu = gpu_available() if use_gpu is None else use_gpu
        if gpu and "HNSW" not in factory:
            res = faiss.StandardGpuResources()
            index = faiss.index_cpu_to_gpu(res, 0, index)
        if not index.is_trained and len(vectors):
            rng = np.random.default_rng(seed)
            sample = vectors if len(vectors) <= train_size else vectors[rng.choice(len(vectors), train_size, replace=False)]
            index.train(sample)
        if len(vectors):
            index.add(vectors)
        if gpu and "HNSW" not in factory:
            index = faiss.index_gpu_to_cpu(index)
        out = cls(index, ids, vectors, factory, model, version)
        out.backend = "faiss-gpu" if gpu and "HNSW" not in factory else "faiss-cpu"
        return out

    def set_search_params(self, ef_search: int = 64, nprobe: int = 32, k_factor: float = 4.0) -> None:
        """Recall/speed knobs: HNSW efSearch, IVF nprobe, RFlat re-rank factor."""
        faiss = _faiss()
        self.ef_search, self.nprobe, self.k_factor = ef_search, nprobe, k_factor
        for sub in _sub_indexes(self.index):
            if isinstance(sub, faiss.IndexHNSW):
                sub.hnsw.efSearch = ef_search
            if hasattr(sub, "nprobe"):
                sub.nprobe = nprobe
            if isinstance(sub, faiss.IndexRefine):
                sub.k_factor = k_factor

    # ------------------------------------------------------------------ search
    def search(self, queries: np.ndarray, k: int, allowed_rows: np.ndarray | None = None) -> list[IndexHits]:
        """Top ``k`` rows per query (float32 (Q, D) or (D,)), optionally only among ``allowed_rows``.

        Returns one :class:`IndexHits` per query, each with ``min(k, candidates)`` rows.
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if len(self) == 0 or k <= 0:
            return [IndexHits(np.zeros(0, np.int64), [], np.zeros(0, np.float32)) for _ in q]
        if q.shape[1] != self.dim:
            raise ValueError(f"query has {q.shape[1]} dimensions, the index {self.dim} (model {self.model!r})")
        if allowed_rows is not None:
            allowed_rows = np.unique(np.asarray(allowed_rows, dtype=np.int64))
            if len(allowed_rows) == 0:
                return [IndexHits(np.zeros(0, np.int64), [], np.zeros(0, np.float32)) for _ in q]
            if len(allowed_rows) <= EXACT_SUBSET_MAX or self.factory == "Flat":
                return [self._exact_subset(qi, k, allowed_rows) for qi in q]
        k_eff = min(k, len(self) if allowed_rows is None else len(allowed_rows))
        if allowed_rows is None:
            scores, rows = self.index.search(q, k_eff)
        else:
            faiss = _faiss()
            sel = faiss.IDSelectorBatch(allowed_rows)
            params = self._params_with(sel)
            scores, rows = self.index.search(q, k_eff, params=params)
        out = []
        for qi, s, r in zip(q, scores, rows):
            keep = r >= 0
            if keep.sum() < k_eff:  # the approximate index ran dry: exact over the allowed rows
                pool = np.arange(len(self)) if allowed_rows is None else allowed_rows
                out.append(self._exact_subset(qi, k, pool))
                continue
            out.append(IndexHits(r[keep], [self.ids[i] for i in r[keep]], s[keep]))
        return out

    def _params_with(self, sel):
        faiss = _faiss()
        if "HNSW" in self.factory:
            return faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.ef_search, 128))
        if "IVF" in self.factory:
            return faiss.SearchParametersIVF(sel=sel, nprobe=self.nprobe)
        return faiss.SearchParameters(sel=sel)

    def _exact_subset(self, q: np.ndarray, k: int, rows: np.ndarray) -> IndexHits:
        scores = self.vectors[rows] @ q
        kk = min(k, len(rows))
        top = np.argpartition(-scores, kk - 1)[:kk] if kk < len(rows) else np.arange(len(rows))
        top = top[np.argsort(-scores[top], kind="stable")]
        r = rows[top]
        return IndexHits(r, [self.ids[i] for i in r], scores[top].astype(np.float32))

    # ------------------------------------------------------------------ disk
    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.faiss) and its ``.ids.json`` / ``.vectors.npy`` siblings atomically."""
        faiss = _faiss()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"ids": self.ids, "factory": self.factory, "model": self.model, "version": self.version,
                "dim": self.dim, "count": len(self), "saved_at": time.time()}
        tag = f".{os.getpid()}.tmp"
        files = [(path.with_name(path.name + tag), path),
                 (_sibling(path, ".vectors.npy").with_name(_sibling(path, ".vectors.npy").name + tag), _sibling(path, ".vectors.npy")),
                 (_sibling(path, ".ids.json").with_name(_sibling(path, ".ids.json").name + tag), _sibling(path, ".ids.json"))]
        try:
            faiss.write_index(self.index, str(files[0][0]))
            with open(files[1][0], "wb") as f:
                np.save(f, self.vectors)
            files[2][0].write_text(json.dumps(meta))
            # The ids file goes last: its presence with a matching count marks a complete index.
            for tmp, final in files:
                os.replace(tmp, final)
        finally:
            for tmp, _ in files:
                tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "VectorIndex":
        """Read an index written by :meth:`save`. Raises FileNotFoundError or ValueError (inconsistent files)."""
        faiss = _faiss()
        path = Path(path)
        meta_path = _sibling(path, ".ids.json")
        if not path.is_file() or not meta_path.is_file():
            raise FileNotFoundError(f"no index at {path}")
        meta = json.loads(meta_path.read_text())
        index = faiss.read_index(str(path))
        vectors = np.load(_sibling(path, ".vectors.npy"))
        if index.ntotal != meta["count"] or len(vectors) != meta["count"]:
            raise ValueError(f"index files at {path} disagree ({index.ntotal} rows, {meta['count']} ids): rebuild it")
        return cls(index, meta["ids"], vectors, meta["factory"], meta.get("model", ""), meta.get("version", 0))


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.stem + suffix)


def _sub_indexes(index):
    """The index and the indexes it wraps (refine base, IVF quantiser...), downcast."""
    faiss = _faiss()
    seen = []
    stack = [index]
    while stack:
        ix = faiss.downcast_index(stack.pop())
        seen.append(ix)
        for attr in ("base_index", "index"):
            sub = getattr(ix, attr, None)
            if sub is not None and hasattr(sub, "ntotal"):
                stack.append(sub)
    return seen
