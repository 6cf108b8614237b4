"""ANN benchmark: catalog.index.VectorIndex on clustered vectors, against exact search in the same run.

Uniform random vectors defeat every approximate index (no structure to exploit), and real image
embeddings are clustered, so the data is a mixture of Gaussian clusters, L2-normalised.
Reports build time, memory (index + vectors), single-query p50/p99 latency, and recall@10 against
exact (Flat) search on the same queries.

    .venv/bin/python -m bench.bench_ann                 # 1,000,000 x 512
    .venv/bin/python -m bench.bench_ann --n 100000 --queries 300   # quick
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np


def clustered(n: int, d: int, clusters: int, seed: int, spread: float = 0.8, chunk: int = 200_000,
              intrinsic: int = 16) -> np.ndarray:
    """n L2-normalised points: cluster centre + noise in a low-dimensional subspace of that cluster
    (``intrinsic`` dimensions, scale ``spread``) + a little isotropic noise. Real embeddings have a low
    intrinsic dimension; isotropic 512-d noise would make every cluster-mate an equidistant tie."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d)).astype(np.float32) / np.sqrt(d)
    bases = (rng.normal(size=(clusters, intrinsic, d)) / np.sqrt(d)).astype(np.float32)
    out = np.empty((n, d), np.float32)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        k = rng.integers(0, clusters, m)
        z = rng.normal(size=(m, intrinsic)).astype(np.float32) * spread
        x = centres[k] + np.einsum("mi,mid->md", z, bases[k]) + 0.05 * rng.normal(size=(m, d)).astype(np.float32) / np.sqrt(d) * np.sqrt(d) / 10
        out[s : s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def latencies(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[list[str]]]:
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        hits = index.search(q[None], k)[0]
        times.append(time.perf_counter() - t)
        found.append(hits.ids)
    return np.array(times) * 1000, found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--spread", type=float, default=0.3, help="noise scale around cluster centres (larger = harder)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--exact-queries", type=int, default=50, help="single queries timed on the exact index")
    ap.add_argument("--factory", nargs="*", default=["IVF4096,PQ128x4fs,RFlat"], help="FAISS factory strings to test")
    ap.add_argument("--nprobe", nargs="*", type=int, default=[8, 16, 32])
    ap.add_argument("--k-factor", type=float, default=8.0)
    ap.add_argument("--threads", type=int, default=2, help="threads for build and exact ground truth")
    args = ap.parse_args(argv)

    import faiss

    from catalog.index import VectorIndex

    faiss.omp_set_num_threads(args.threads)
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, faiss {faiss.__version__}, threads {args.threads}")
    t = time.perf_counter()
    allx = clustered(args.n + args.queries, args.dim, args.clusters, seed=0, spread=args.spread)
    x, q = allx[: args.n], np.ascontiguousarray(allx[args.n :])  # queries: fresh points of the same mixture
    ids = [str(i) for i in range(args.n)]
    print(f"data: {args.n:,} x {args.dim} clustered ({args.clusters} clusters), {args.queries} queries; "
          f"made in {time.perf_counter() - t:.1f} s")

    # Exact baseline: ground truth (batched) and single-query latency.
    t = time.perf_counter()
    exact = VectorIndex.build(x, ids, "Flat")
    build_exact = time.perf_counter() - t
    gt = [h.ids for h in exact.search(q, 10)]
    faiss.omp_set_num_threads(1)
    ex_ms, _ = latencies(exact, q[: args.exact_queries], 10)
    rows = [("Flat (exact)", "-", build_exact, x.nbytes / 1e9, np.percentile(ex_ms, 50), np.percentile(ex_ms, 99), 1.0)]
    del exact

    for factory in args.factory:
        faiss.omp_set_num_threads(args.threads)
        before = current_rss()
        t = time.perf_counter()
        ix = VectorIndex.build(x, ids, factory, train_size=min(args.n, 256_000))
        build = time.perf_counter() - t
        mem = (current_rss() - before) / 1e9  # what the index added (codes, lists, re-rank copy)
        faiss.omp_set_num_threads(1)
        settings = [(f"nprobe={p}", dict(nprobe=p, ef_search=max(16, p * 4), k_factor=args.k_factor)) for p in args.nprobe] \
            if "IVF" in factory else [(f"efSearch={e}", dict(ef_search=e)) for e in (32, 64, 128)]
        for label, kw in settings:
            ix.set_search_params(**kw)
            ms, found = latencies(ix, q, 10)
            rec = np.mean([len(set(f) & set(g)) / 10 for f, g in zip(found, gt)])
            rows.append((factory, label, build, mem, np.percentile(ms, 50), np.percentile(ms, 99), rec))
        del ix

    print(f"\n{'index':<28}{'search':<13}{'build s':>9}{'+mem GB':>8}{'p50 ms':>9}{'p99 ms':>9}{'R@10':>7}")
    for r in rows:
        print(f"{r[0]:<28}{r[1]:<13}{r[2]:>9.1f}{r[3]:>8.2f}{r[4]:>9.3f}{r[5]:>9.3f}{r[6]:>7.3f}")
    print(f"\npeak RSS {rss_gb():.1f} GB; single-query latency measured with 1 FAISS thread, one query at a time.")
    return 0


def current_rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


if __name__ == "__main__":
    raise SystemExit(main())
