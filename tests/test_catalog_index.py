"""FAISS index: exact and approximate factories, filters that stay complete, atomic round trips."""

import numpy as np
import pytest

import catalog.index as index_mod
from catalog.index import VectorIndex, default_factory


def clustered(n=4000, d=32, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, d))
    x = centres[rng.integers(0, 40, n)] + 0.35 * rng.normal(size=(n, d))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("factory", ["Flat", "HNSW16,Flat", "IVF32,PQ8x4fs,RFlat"])
def test_round_trip_gives_identical_results(tmp_path, factory):
    x = clustered()
    ids = [f"p{i}" for i in range(len(x))]
    ix = VectorIndex.build(x, ids, factory, model="m1", version=7)
    before = ix.search(x[:5], 10)
    ix.save(tmp_path / "image.faiss")
    assert not list(tmp_path.glob("*.tmp"))
    back = VectorIndex.load(tmp_path / "image.faiss")
    after = back.search(x[:5], 10)
    assert back.factory == factory and back.model == "m1" and back.version == 7 and len(back) == len(x)
    for a, b in zip(before, after):
        assert a.ids == b.ids and np.allclose(a.scores, b.scores)
    assert after[0].ids[0] == "p0"  # a vector finds itself first


def test_approximate_recall_against_exact():
    x = clustered(6000, 48, seed=1)
    ids = [str(i) for i in range(len(x))]
    exact = VectorIndex.build(x, ids, "Flat")
    approx = VectorIndex.build(x, ids, "HNSW32,Flat")
    q = x[:50] + 0.05
    e = exact.search(q, 10)
    a = approx.search(q, 10)
    recall = np.mean([len(set(ai.ids) & set(ei.ids)) / 10 for ai, ei in zip(a, e)])
    assert recall >= 0.9


def test_selective_filter_returns_k(monkeypatch):
    x = clustered(5000, 32)
    ids = [f"p{i}" for i in range(len(x))]
    ix = VectorIndex.build(x, ids, "HNSW16,Flat")
    allowed = np.arange(3, 5000, 97)  # 52 rows, scattered, mostly far from the query
    hits = ix.search(x[0], 20, allowed_rows=allowed)[0]
    assert len(hits.ids) == 20 and set(hits.rows) <= set(allowed.tolist())
    assert list(hits.scores) == sorted(hits.scores, reverse=True)
    # Force the approximate path with an ID selector (as for a broad filter on a big catalogue).
    monkeypatch.setattr(index_mod, "EXACT_SUBSET_MAX", 10)
    hits2 = ix.search(x[0], 20, allowed_rows=allowed)[0]
    assert len(hits2.ids) == 20 and set(hits2.rows) <= set(allowed.tolist())
    exact = VectorIndex.build(x, ids, "Flat").search(x[0], 20, allowed_rows=allowed)[0]
    assert len(set(hits2.ids) & set(exact.ids)) >= 17
    # Fewer allowed rows than k: all of them.
    assert len(ix.search(x[0], 20, allowed_rows=np.array([1, 2, 3]))[0].ids) == 3
    assert ix.search(x[0], 20, allowed_rows=np.array([], dtype=int))[0].ids == []


def test_errors_and_defaults(tmp_path):
    x = clustered(100, 16)
    ix = VectorIndex.build(x, [str(i) for i in range(100)])
    assert ix.factory == default_factory(100) == "Flat"
    assert default_factory(10**6) != "Flat"
    with pytest.raises(ValueError, match="dimensions"):
        ix.search(np.zeros(8, np.float32), 3)
    with pytest.raises(ValueError, match="unique"):
        VectorIndex.build(x[:2], ["a", "a"])
    with pytest.raises(FileNotFoundError):
        VectorIndex.load(tmp_path / "none.faiss")
    # An interrupted save leaves the previous complete index readable.
    ix.save(tmp_path / "a.faiss")
    (tmp_path / "a.faiss.123.tmp").write_bytes(b"partial")
    assert len(VectorIndex.load(tmp_path / "a.faiss")) == 100
