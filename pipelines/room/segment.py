"""Classical, weight-free room segmentation: region proposals and prompt-driven masks.

:class:`ClassicalSegmenter` offers the same two methods as ``pipelines.sam.SamSegmenter`` so that
:class:`~pipelines.room.pipeline.RoomPipeline` can take either:

* ``propose(image)``: automatic object proposals. Felzenszwalb superpixels are merged greedily
  (selective search: colour, size, fill and shared-edge similarity) and every intermediate region
  is a candidate; candidates are scored by how strong the edges along their outline are compared
  with their inside (objects have outlines, wall and floor patches do not) and deduplicated
  (``candidates``); then regions lying on the visible floor are dropped (``keep_objects``,
  :func:`objectness_cues`).
  Labels come later (see :mod:`pipelines.room.labels`).
* ``from_prompts(image, points, point_labels, box)``: GrabCut seeded by the prompts (and by the
  superpixels under the clicked points), so the mask follows real colour edges.

All masks are snapped to the full-resolution photo's edges with a guided filter.
"""

from __future__ import annotations

import heapq
import time

import cv2
import numpy as np
from skimage.segmentation import felzenszwalb

from pipelines.room.types import MaskProposal


def _resize_to(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s == 1.0:
        return image, 1.0
    return cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA), s


def edge_magnitude(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: colour gradient magnitude (max over Lab channels), lightly smoothed."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab = cv2.GaussianBlur(lab, (0, 0), 1.0)
    gx = cv2.Sobel(lab, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lab, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.sqrt(gx * gx + gy * gy).max(axis=2)
    return np.clip(mag / 200.0, 0, 1)


def snap_mask(image: np.ndarray, mask: np.ndarray, radius: int | None = None) -> np.ndarray:
    """Upsample/refine a coarse mask to ``image``'s size along its colour edges.

    Args:
        image: (H, W, 3) uint8 RGB, the full-resolution photo.
        mask: (h, w) bool, any size; resized to (H, W).
        radius: guided filter radius in pixels (default ~ 1% of the long side).
    Returns:
        (H, W) bool.
    """
    h, w = image.shape[:2]
    m = mask.astype(np.float32)
    if m.shape != (h, w):
        m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
    r = radius or max(2, round(max(h, w) / 100))
    guide = image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)
    try:
        ref = cv2.ximgproc.guidedFilter(guide, m, r, 1e-3)
    except AttributeError:  # pragma: no cover - plain opencv without contrib
        ref = cv2.GaussianBlur(m, (0, 0), r / 2)
    out = ref > 0.5
    return out if out.any() else m > 0.5


def objectness_cues(image: np.ndarray, masks, horizon_y: float | None = None, side: int = 256,
                    edge_on: float = 0.2) -> list[dict[str, float]]:
    """Cues saying whether each region is a thing or a piece of floor, wall or background.

    A thing ends where its outline is: the photo's colour changes along the outline and the
    colours just outside it are not the region's own. A patch cut out of the floor or a wall
    continues past its outline in the same colours (and often along weak edges).

    Args:
        image: (H, W, 3) uint8 RGB.
        masks: (H, W) bool masks (any number; any size with ``image``'s aspect).
        horizon_y: the horizon row in ``image`` (``geometry.estimate_horizon``; estimated when None).
        side: long side (pixels) at which the cues are computed.
        edge_on: :func:`edge_magnitude` that counts as a visible outline.
    Returns:
        one dict per mask:
        ``edge_support``: share of the outline (photo frame excluded) lying on a colour edge;
        ``continuation``: how common the region's own colours are in a thin ring around it,
        relative to inside (0 = none of them, 1 = the region continues unchanged);
        ``texture``: mean edge strength inside; ``floor``: share of the region on the floor
        grown from the photo's bottom edge (``geometry.estimate_floor``); ``sides``: photo
        sides the region touches; ``hangs``: 1.0 when the region ends above the line where the
        wall meets the visible floor (a window, a picture, a wall shelf), else 0.0; ``below``:
        share of the region's rows below the horizon.
    """
    from pipelines.room.geometry import estimate_floor, estimate_horizon

    H, W = image.shape[:2]
    small, s = _resize_to(image, side)
    h, w = small.shape[:2]
    edges = edge_magnitude(small)
    near_edge = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (0, 0), 1.0), cv2.COLOR_RGB2LAB)
    # Colour codes for histogram back-projection: 11 x 22 x 22 Lab bins.
    codes = (lab[..., 0].astype(np.int32) // 24) * 484 + (lab[..., 1].astype(np.int32) // 12) * 22 + lab[..., 2] // 12
    nbins = 11 * 484
    if horizon_y is None:
        horizon_y = estimate_horizon(image)
    floor = estimate_floor(small, horizon_y * h / H)
    # Where the wall meets the floor: the highest rows the visible floor reaches (robustly),
    # when enough of the photo's width shows floor.
    has_floor = floor.any(axis=0)
    wall_foot = (float(np.percentile(np.argmax(floor, axis=0)[has_floor], 5))
                 if has_floor.mean() > 0.1 else None)
    frame = np.zeros((h, w), bool)
    frame[:2, :] = frame[-2:, :] = frame[:, :2] = frame[:, -2:] = True
    r = max(2, round(0.012 * max(h, w)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    out = []
    for mask in masks:
        m8 = cv2.resize(mask.astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_AREA) > 127
        if not m8.any():
            out.append({"edge_support": 0.0, "continuation": 1.0, "texture": 0.0, "floor": 0.0, "sides": 0, "hangs": 0.0})
            continue
        mu = m8.astype(np.uint8)
        ys, xs = np.nonzero(m8)
        y0, y1, x0, x1 = max(0, ys.min() - r - 2), min(h, ys.max() + r + 3), max(0, xs.min() - r - 2), min(w, xs.max() + r + 3)
        mw = mu[y0:y1, x0:x1]
        inner = cv2.erode(mw, np.ones((3, 3), np.uint8)) > 0
        outline = (mw > 0) & ~inner & ~frame[y0:y1, x0:x1]
        ring = (cv2.dilate(mw, disk) > 0) & (mw == 0)
        c = codes[y0:y1, x0:x1]
        hist = np.bincount(c[mw > 0], minlength=nbins).astype(np.float64)
        hist /= hist.sum()
        p_in = float((hist[c[mw > 0]]).mean())
        p_ring = float(hist[c[ring]].mean()) if ring.any() else 0.0
        sides = int(xs.min() <= 1) + int(ys.min() <= 1) + int(xs.max() >= w - 2) + int(ys.max() >= h - 2)
        out.append({
            "edge_support": float((near_edge[y0:y1, x0:x1][outline] > edge_on).mean()) if outline.any() else 0.0,
            "continuation": p_ring / max(p_in, 1e-9),
            "texture": float(edges[y0:y1, x0:x1][inner].mean()) if inner.any() else 0.0,
            "floor": float(floor[y0:y1, x0:x1][mw > 0].mean()),
            "below": float((ys > horizon_y * h / H).mean()),
            "sides": sides,
            "hangs": float(wall_foot is not None and ys.max() + 1 < wall_foot - 0.02 * h),
        })
    return out


class _Regions:
    """Selective-search bookkeeping over a superpixel label image."""

    edge_weight = 1.5  # weight of the shared-edge term in the similarity

    def __init__(self, labels: np.ndarray, image: np.ndarray, edges: np.ndarray, bins: int = 12):
        self.labels = labels
        n = int(labels.max()) + 1
        self.n0 = n
        h, w = labels.shape
        self.total = float(h * w)
        flat = labels.ravel()
        self.size = np.bincount(flat, minlength=n).astype(np.float64)
        ys, xs = np.mgrid[0:h, 0:w]
        inf = np.iinfo(np.int32).max
        x0 = np.full(n, inf); y0 = np.full(n, inf); x1 = np.zeros(n, int); y1 = np.zeros(n, int)
        np.minimum.at(x0, flat, xs.ravel()); np.minimum.at(y0, flat, ys.ravel())
        np.maximum.at(x1, flat, xs.ravel() + 1); np.maximum.at(y1, flat, ys.ravel() + 1)
        self.box = {i: (int(x0[i]), int(y0[i]), int(x1[i]), int(y1[i])) for i in range(n)}
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
        hist = np.zeros((n, 3 * bins))
        for c in range(3):
            q = np.minimum(lab[..., c].astype(int) * bins // 256, bins - 1).ravel()
            np.add.at(hist, (flat, c * bins + q), 1.0)
        hist /= np.maximum(hist.sum(1, keepdims=True), 1)
        self.hist = {i: hist[i] for i in range(n)}
        self.area = {i: self.size[i] for i in range(n)}
        self.members = {i: (i,) for i in range(n)}
        # Shared boundaries: (a, b) -> [length, summed edge strength].
        self.border: dict[tuple[int, int], list[float]] = {}
        for a, b, e in (
            (labels[:, :-1], labels[:, 1:], np.maximum(edges[:, :-1], edges[:, 1:])),
            (labels[:-1, :], labels[1:, :], np.maximum(edges[:-1, :], edges[1:, :])),
        ):
            d = a != b
            pa, pb, pe = a[d], b[d], e[d]
            lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
            key = lo.astype(np.int64) * n + hi
            uniq, inv = np.unique(key, return_inverse=True)
            cnt = np.bincount(inv)
            tot = np.bincount(inv, weights=pe)
            for k, c_, t in zip(uniq, cnt, tot):
                kk = (int(k // n), int(k % n))
                cur = self.border.setdefault(kk, [0.0, 0.0])
                cur[0] += c_; cur[1] += t
        self.nbrs: dict[int, set[int]] = {i: set() for i in range(n)}
        for a, b in self.border:
            self.nbrs[a].add(b); self.nbrs[b].add(a)
        # Whole outline per region (with image border excluded): length and edge sum.
        self.outline = {i: [0.0, 0.0] for i in range(n)}
        for (a, b), (ln, s) in self.border.items():
            for r in (a, b):
                self.outline[r][0] += ln; self.outline[r][1] += s
        # Interior edge strength per region (for contrast).
        self.inner = {i: v for i, v in enumerate(np.bincount(flat, weights=edges.ravel(), minlength=n))}

    def similarity(self, a: int, b: int) -> float:
        s_col = float(np.minimum(self.hist[a], self.hist[b]).sum()) / 3.0
        s_size = 1.0 - (self.area[a] + self.area[b]) / self.total
        ba, bb = self.box[a], self.box[b]
        bw = max(ba[2], bb[2]) - min(ba[0], bb[0]); bh = max(ba[3], bb[3]) - min(ba[1], bb[1])
        s_fill = 1.0 - (bw * bh - self.area[a] - self.area[b]) / self.total
        key = (min(a, b), max(a, b))
        ln, s = self.border.get(key, (1.0, 0.0))
        s_edge = 1.0 - min(1.0, (s / max(ln, 1.0)) * 4.0)
        return s_col + s_size + s_fill + self.edge_weight * s_edge

    def merge(self, a: int, b: int, new: int) -> None:
        sa, sb = self.area[a], self.area[b]
        self.area[new] = sa + sb
        self.hist[new] = (self.hist[a] * sa + self.hist[b] * sb) / (sa + sb)
        ba, bb = self.box[a], self.box[b]
        self.box[new] = (min(ba[0], bb[0]), min(ba[1], bb[1]), max(ba[2], bb[2]), max(ba[3], bb[3]))
        self.members[new] = self.members[a] + self.members[b]
        self.inner[new] = self.inner[a] + self.inner[b]
        shared = self.border.pop((min(a, b), max(a, b)), [0.0, 0.0])
        self.inner[new] += shared[1] * 2  # the shared edge is inside now
        self.outline[new] = [
            self.outline[a][0] + self.outline[b][0] - 2 * shared[0],
            self.outline[a][1] + self.outline[b][1] - 2 * shared[1],
        ]
        nb = (self.nbrs[a] | self.nbrs[b]) - {a, b}
        self.nbrs[new] = nb
        for r in nb:
            acc = [0.0, 0.0]
            for old in (a, b):
                v = self.border.pop((min(old, r), max(old, r)), None)
                if v is not None:
                    acc[0] += v[0]; acc[1] += v[1]
            self.border[(min(new, r), max(new, r))] = acc
            self.nbrs[r] -= {a, b}
            self.nbrs[r].add(new)
        for old in (a, b):
            del self.nbrs[old]

    def outline_contrast(self, r: int) -> float:
        """Mean edge strength on the outline, over mean edge strength inside (higher = object-like)."""
        ln, s = self.outline[r]
        if ln <= 0:
            return 0.0
        boundary = s / ln
        inner = self.inner[r] / max(self.area[r], 1.0)
        return boundary / (inner + 0.02)


class ClassicalSegmenter:
    """Region proposals and prompt masks for room photos, with no model weights.

    Args:
        work_side: long side (pixels) at which proposals are computed; masks come back at the
            input size.
        fz_scales, fz_sigma, fz_min_size: Felzenszwalb superpixel parameters at ``work_side``
            (one selective search per scale).
        max_proposals: proposals returned by :meth:`propose`, best first.
        min_area, max_area: proposal area limits as fractions of the photo.
        objectness: run :meth:`keep_objects` on the candidates (False: every candidate is a proposal).
        max_floor: drop a region with more than this share on the visible floor (a floor patch).
            Measured (bench.eval_items "current" vs "no-objectness", 64 IKEA rooms + 3 demo
            rooms): it removes the demo living room's floor strips labelled table/rug/cushion;
            IKEA strict P 0.484 -> 0.482, R 0.578 -> 0.570, AP 0.318 -> 0.314 (one rug and one
            table room lost), demo boxes unchanged; freed item slots are refilled by the
            pipeline, so items per room barely move.
        min_edge_support, max_continuation, min_score, max_kept: further cues/limits, off by
            default: none improved precision or AP in bench.eval_items (variants "edge-0.7",
            "cont-0.7", "top-24").
    """

    source = "proposals"

    def __init__(
        self,
        work_side: int = 384,
        fz_scales: tuple[float, ...] = (100.0, 300.0),
        fz_sigma: float = 0.8,
        fz_min_size: int = 60,
        max_proposals: int = 48,
        min_area: float = 0.004,
        max_area: float = 0.45,
        objectness: bool = True,
        min_edge_support: float = 0.0,
        max_continuation: float = 9.0,
        max_floor: float = 0.5,
        min_score: float = 0.0,
        max_kept: int = 0,
    ):
        self.work_side = work_side
        self.fz_scales, self.fz_sigma, self.fz_min_size = tuple(fz_scales), fz_sigma, fz_min_size
        self.max_proposals = max_proposals
        self.min_area, self.max_area = min_area, max_area
        self.objectness = objectness
        self.min_edge_support, self.max_continuation, self.max_floor = min_edge_support, max_continuation, max_floor
        self.min_score, self.max_kept = min_score, max_kept
        self.last_timings: dict[str, float] = {}

    # Parts that only filter :meth:`candidates` (bench.eval_items caches the candidates and
    # re-runs these per variant).
    FILTER_PARTS = ("propose", "keep_objects", "objectness_cues", "objectness", "min_edge_support", "max_continuation",
                    "max_floor", "min_score", "max_kept")

    @staticmethod
    def check_image(image: np.ndarray) -> None:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            got = getattr(image, "shape", type(image).__name__), getattr(image, "dtype", None)
            raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got shape/dtype {got}")
        if min(image.shape[:2]) < 16:
            raise ValueError(f"image is too small ({image.shape[1]}x{image.shape[0]}); need at least 16 px a side")

    def superpixels(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Felzenszwalb superpixels of ``image`` at ``work_side``.

        Returns:
            (labels (h, w) int32 0..n-1, the resized image (h, w, 3) uint8, scale factor work/input).
        """
        small, s = _resize_to(image, self.work_side)
        labels = felzenszwalb(small, scale=self.fz_scales[0], sigma=self.fz_sigma, min_size=self.fz_min_size)
        return labels.astype(np.int32), small, s

    def propose(self, image: np.ndarray) -> list[MaskProposal]:
        """Automatic object proposals, best first: :meth:`candidates` less the regions that
        :meth:`keep_objects` finds to be floor, wall or background.

        Args:
            image: (H, W, 3) uint8 RGB.
        Returns:
            :class:`MaskProposal` list with (H, W) bool masks, score in [0, 1].
        """
        props = self.candidates(image)
        t0 = time.perf_counter()
        props = self.keep_objects(image, props)
        self.last_timings = {**self.last_timings, "objectness": time.perf_counter() - t0}
        return props

    def keep_objects(self, image: np.ndarray, proposals: list[MaskProposal]) -> list[MaskProposal]:
        """The proposals that look like things (see :func:`objectness_cues`); the cues are kept
        in each proposal's ``extra``. All of them when ``objectness`` is off."""
        if not self.objectness or not proposals:
            return proposals
        cues = objectness_cues(image, [p.mask for p in proposals])
        out = []
        for p, c in zip(proposals, cues):
            p.extra.update(c)
            if c["edge_support"] < self.min_edge_support or c["continuation"] > self.max_continuation:
                continue
            if c["floor"] > self.max_floor or p.score < self.min_score:
                continue
            out.append(p)
        return out[:self.max_kept] if self.max_kept else out

    def candidates(self, image: np.ndarray) -> list[MaskProposal]:
        """Automatic object proposals before the objectness test, best first.

        Selective search runs for each superpixel scale in ``fz_scales`` and with two similarity
        mixes (colour+size+fill+shared-edge, and colour+size+fill), which diversifies the regions
        found; all candidates are ranked together and deduplicated.

        Args:
            image: (H, W, 3) uint8 RGB.
        Returns:
            up to ``max_proposals`` :class:`MaskProposal` with (H, W) bool masks, score in [0, 1].
        """
        self.check_image(image)
        t0 = time.perf_counter()
        small, _ = _resize_to(image, self.work_side)
        edges = edge_magnitude(small)
        cands = []  # (score, label image index, region id, regions)
        label_images = []
        for scale in self.fz_scales:
            labels = felzenszwalb(small, scale=scale, sigma=self.fz_sigma, min_size=self.fz_min_size).astype(np.int32)
            label_images.append(labels)
            for edge_weight in (1.5, 0.0):
                R = _Regions(labels, small, edges)
                R.edge_weight = edge_weight
                regions = self._selective_search(R)
                cands += [(s, len(label_images) - 1, r, R) for s, r in self._score(R, regions, small.shape[:2])]
        t1 = time.perf_counter()
        chosen = self._dedupe(cands, label_images)
        out = []
        top = max((c[0] for c in chosen), default=1.0)
        for score, m_small in chosen:
            # Fill small holes (handles, patterns) so items are solid; snap to full-res edges.
            mask = snap_mask_box(image, _fill_holes(m_small))
            if mask.any():
                out.append(MaskProposal.from_mask(mask, float(min(1.0, score / (top + 1e-6))), self.source))
        self.last_timings = {"regions": t1 - t0, "masks": time.perf_counter() - t1}
        return out

    def _selective_search(self, R: _Regions) -> list[int]:
        """Greedy merging of the most similar neighbours; every region ever formed is returned."""
        heap = []
        for a, b in R.border:
            heapq.heappush(heap, (-R.similarity(a, b), a, b))
        alive = set(range(R.n0))
        nxt = R.n0
        cands = list(range(R.n0))
        while heap:
            _, a, b = heapq.heappop(heap)
            if a not in alive or b not in alive:
                continue
            R.merge(a, b, nxt)
            alive -= {a, b}
            alive.add(nxt)
            cands.append(nxt)
            for r in R.nbrs[nxt]:
                heapq.heappush(heap, (-R.similarity(nxt, r), nxt, r))
            nxt += 1
        return cands

    def _score(self, R: _Regions, cands: list[int], shape: tuple[int, int]) -> list[tuple[float, int]]:
        """(objectness, region) for the regions that pass the size and shape filters."""
        h, w = shape
        scored = []
        for r in cands:
            frac = R.area[r] / R.total
            if not (self.min_area <= frac <= self.max_area):
                continue
            x0, y0, x1, y1 = R.box[r]
            if (x1 - x0) < 0.02 * w or (y1 - y0) < 0.02 * h:
                continue  # slivers (seams, shadows, skirting)
            fill = R.area[r] / max((x1 - x0) * (y1 - y0), 1)
            if fill < 0.25:
                continue  # thin scattered unions are never one item
            # Regions hugging three or more image sides are walls/floor, not furniture.
            sides = (x0 <= 1) + (y0 <= 1) + (x1 >= w - 1) + (y1 >= h - 1)
            if sides >= 3 or (sides == 2 and frac > 0.2):
                continue
            ln, esum = R.outline[r]
            boundary = esum / max(ln, 1.0)
            inner = R.inner[r] / max(R.area[r], 1.0)
            if y0 <= 1 and frac > 0.06 and inner < 0.02:
                continue  # a bare wall or ceiling patch
            # Strong outline, some inner texture (furniture has seams and shading; bare wall
            # and floor patches have neither), compact, not glued to the photo's frame.
            s = boundary * min(1.0, 0.3 + 4.0 * inner) * (0.5 + 0.5 * fill) * (1.0 - 0.2 * sides)
            scored.append((s, r))
        return scored

    def _dedupe(self, cands, label_images) -> list[tuple[float, np.ndarray]]:
        """Best candidates whose masks overlap no better one by IoU > 0.7 (checked at 1/4 scale)."""
        cands.sort(key=lambda c: -c[0])
        chosen: list[tuple[float, np.ndarray]] = []
        tiny: list[tuple[np.ndarray, int]] = []
        for score, li, r, R in cands:
            m = np.isin(label_images[li], R.members[r])
            t = m[::4, ::4]
            ta = int(t.sum())
            if ta == 0:
                continue
            if any(np.logical_and(t, u).sum() / (ta + ua - np.logical_and(t, u).sum()) > 0.7 for u, ua in tiny):
                continue
            chosen.append((score, m))
            tiny.append((t, ta))
            if len(chosen) >= self.max_proposals:
                break
        return chosen

    def from_prompts(
        self,
        image: np.ndarray,
        points: np.ndarray | list | None = None,
        point_labels: np.ndarray | list | None = None,
        box: tuple[int, int, int, int] | list | np.ndarray | None = None,
    ) -> MaskProposal:
        """One mask from click and/or box prompts (GrabCut seeded by the prompts).

        Args:
            image: (H, W, 3) uint8 RGB.
            points: (N, 2) pixel coordinates (x, y) in ``image``.
            point_labels: (N,) 1 = on the item, 0 = not on the item (default all 1).
            box: (x0, y0, x1, y1) around the item, pixels.
        Returns:
            :class:`MaskProposal` with an (H, W) bool mask, source "grabcut".
        Raises:
            ValueError: no prompt, points outside the photo, or a degenerate box.
        """
        self.check_image(image)
        H, W = image.shape[:2]
        pts = np.zeros((0, 2)) if points is None else np.asarray(points, dtype=np.float64).reshape(-1, 2)
        lbl = np.ones(len(pts), int) if point_labels is None else np.asarray(point_labels, int).reshape(-1)
        if len(lbl) != len(pts):
            raise ValueError(f"point_labels has {len(lbl)} entries for {len(pts)} points")
        if box is None and not (lbl == 1).any():
            raise ValueError("give a box or at least one positive point (label 1) on the item")
        if len(pts) and ((pts[:, 0] < 0) | (pts[:, 0] >= W) | (pts[:, 1] < 0) | (pts[:, 1] >= H)).any():
            raise ValueError(f"a point lies outside the {W}x{H} photo: {pts.tolist()}")
        if box is not None:
            bx = [int(round(v)) for v in np.asarray(box).reshape(-1)]
            if len(bx) != 4:
                raise ValueError(f"box must be (x0, y0, x1, y1), got {box!r}")
            x0, y0, x1, y1 = max(0, bx[0]), max(0, bx[1]), min(W, bx[2]), min(H, bx[3])
            if x1 - x0 < 4 or y1 - y0 < 4:
                raise ValueError(f"box {tuple(bx)} is smaller than 4x4 pixels inside the {W}x{H} photo")
        labels, small, s = self.superpixels(image)
        h, w = labels.shape
        gc = np.full((h, w), cv2.GC_BGD, np.uint8)
        pos = pts[lbl == 1] * s
        neg = pts[lbl == 0] * s
        if box is not None:
            bx0, by0, bx1, by1 = int(x0 * s), int(y0 * s), int(np.ceil(x1 * s)), int(np.ceil(y1 * s))
            gc[by0:by1, bx0:bx1] = cv2.GC_PR_FGD
        else:
            # No box: a generous window around the clicks, probable background by default.
            r = 0.3 * max(h, w)
            cx0, cy0 = pos.min(0) - r
            cx1, cy1 = pos.max(0) + r
            bx0, by0 = max(0, int(cx0)), max(0, int(cy0))
            bx1, by1 = min(w, int(cx1)), min(h, int(cy1))
            gc[by0:by1, bx0:bx1] = cv2.GC_PR_BGD
        # The superpixels under positive clicks are probably the item; a disk around each click is.
        for x, y in pos:
            xi, yi = min(w - 1, int(x)), min(h - 1, int(y))
            gc[(labels == labels[yi, xi]) & (gc != cv2.GC_BGD)] = cv2.GC_PR_FGD
        rad = max(2, max(h, w) // 80)
        for x, y in pos:
            cv2.circle(gc, (int(x), int(y)), rad, int(cv2.GC_FGD), -1)
        if box is not None and len(pos) == 0:
            # A box alone: its centre is almost always on the item; saying so keeps GrabCut from
            # collapsing to nothing when the item's colours also occur around it.
            cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
            cv2.ellipse(gc, (int(cx), int(cy)), (max(1, int((bx1 - bx0) * 0.12)), max(1, int((by1 - by0) * 0.12))),
                        0, 0, 360, int(cv2.GC_FGD), -1)
        for x, y in neg:
            cv2.circle(gc, (int(x), int(y)), rad, int(cv2.GC_BGD), -1)
        if not ((gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD)).any() or not ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).any():
            # GrabCut needs both sides; a box covering the whole photo has no background sample.
            gc[0, :] = gc[-1, :] = cv2.GC_PR_BGD
        bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
        cv2.setRNGSeed(0)  # GrabCut's GMM init uses OpenCV's RNG: seed it for determinism
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        cv2.grabCut(bgr, gc, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
        m = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
        m = _keep_prompted_component(m, pos)
        m = _fill_holes(m, keep_open=neg)
        if box is not None and m.sum() < 0.05 * (bx1 - bx0) * (by1 - by0):
            m = _superpixels_in_box(labels, small, (bx0, by0, bx1, by1))
        if not m.any():
            # Nothing separable: fall back to the prompt itself rather than returning nothing.
            m = np.zeros((h, w), bool)
            if box is not None:
                m[by0:by1, bx0:bx1] = True
            else:
                for x, y in pos:
                    m |= labels == labels[min(h - 1, int(y)), min(w - 1, int(x))]
        mask = snap_mask(image, m)
        # Confidence: how much of GrabCut's answer is decided by colour rather than by the prompt.
        ratio = float(m.mean())
        score = float(np.clip(1.0 - abs(ratio - 0.15) * 1.5, 0.2, 0.95))
        return MaskProposal.from_mask(mask if mask.any() else cv2.resize(m.astype(np.uint8), (W, H)) > 0, score, "grabcut")


def _superpixels_in_box(labels: np.ndarray, image: np.ndarray, box) -> np.ndarray:
    """Fallback mask for a box: superpixels lying mostly inside it whose colour differs from the
    ring just outside it (the background continuing into the box)."""
    x0, y0, x1, y1 = box
    h, w = labels.shape
    inside = np.zeros((h, w), bool)
    inside[y0:y1, x0:x1] = True
    n = int(labels.max()) + 1
    tot = np.bincount(labels.ravel(), minlength=n)
    ins = np.bincount(labels[inside], minlength=n)
    keep = ins >= 0.85 * np.maximum(tot, 1)
    ring = np.zeros((h, w), bool)
    pad = max(2, (x1 - x0) // 12)
    ring[max(0, y0 - pad):min(h, y1 + pad), max(0, x0 - pad):min(w, x1 + pad)] = True
    ring &= ~inside
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    if ring.any():
        bg = np.median(lab[ring], axis=0)
        mean = np.stack([np.bincount(labels.ravel(), weights=lab[..., c].ravel(), minlength=n) / np.maximum(tot, 1) for c in range(3)], 1)
        keep &= np.linalg.norm(mean - bg, axis=1) > 12
    return _fill_holes(np.isin(labels, np.flatnonzero(keep)))


def _fill_holes(mask: np.ndarray, keep_open: np.ndarray | None = None) -> np.ndarray:
    """Fill enclosed holes of a bool mask (regions not connected to the border), except holes
    containing one of the (x, y) points ``keep_open`` (negative clicks)."""
    m = mask.astype(np.uint8)
    h, w = m.shape
    ff = np.zeros((h + 2, w + 2), np.uint8)
    ff[1:-1, 1:-1] = m
    inv = ff.copy()
    cv2.floodFill(inv, None, (0, 0), 1)
    holes = (inv == 0)[1:-1, 1:-1]
    if keep_open is not None and len(keep_open) and holes.any():
        n, cc = cv2.connectedComponents(holes.astype(np.uint8), connectivity=4)
        for x, y in np.asarray(keep_open).reshape(-1, 2):
            v = cc[min(h - 1, int(y)), min(w - 1, int(x))]
            if v:
                holes[cc == v] = False
    return (mask | holes).astype(bool)


def _keep_prompted_component(mask: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Keep the connected components that contain a positive click (all of them if no clicks)."""
    if not mask.any():
        return mask
    n, cc = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if len(pos) == 0:
        # Box only: keep the largest component.
        sizes = np.bincount(cc.ravel())
        sizes[0] = 0
        return cc == int(sizes.argmax())
    keep = set()
    for x, y in pos:
        v = cc[min(cc.shape[0] - 1, int(y)), min(cc.shape[1] - 1, int(x))]
        if v:
            keep.add(int(v))
    if not keep:
        return mask
    return np.isin(cc, list(keep))


def snap_mask_box(image: np.ndarray, mask: np.ndarray, margin: float = 0.08) -> np.ndarray:
    """:func:`snap_mask` computed only around the mask's bounding box (same result, much faster).

    Args:
        image: (H, W, 3) uint8 RGB full resolution.
        mask: (h, w) bool at any resolution with the same aspect as ``image``.
    Returns:
        (H, W) bool.
    """
    H, W = image.shape[:2]
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.zeros((H, W), bool)
    sx, sy = W / w, H / h
    x0, x1 = xs.min() * sx, (xs.max() + 1) * sx
    y0, y1 = ys.min() * sy, (ys.max() + 1) * sy
    mx, my = (x1 - x0) * margin + 4 * sx, (y1 - y0) * margin + 4 * sy
    X0, Y0 = max(0, int(x0 - mx)), max(0, int(y0 - my))
    X1, Y1 = min(W, int(np.ceil(x1 + mx))), min(H, int(np.ceil(y1 + my)))
    big = cv2.resize(mask.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)[Y0:Y1, X0:X1]
    r = max(2, round(max(H, W) / 100))
    try:
        ref = cv2.ximgproc.guidedFilter(np.ascontiguousarray(image[Y0:Y1, X0:X1]), big, r, 1e-3)
    except AttributeError:  # pragma: no cover
        ref = cv2.GaussianBlur(big, (0, 0), r / 2)
    out = np.zeros((H, W), bool)
    out[Y0:Y1, X0:X1] = ref > 0.5
    return out
