"""All visible skin: a colour model fitted to each photo, inside the person mask.

A fixed colour range fails on very dark and very light skin and under coloured light, so the
model is learned per image from reliable skin samples:

* with a face: the mesh's cheeks, forehead and nose bridge (eroded, away from eyes, brows,
  mouth and hair lines);
* without a face: pixels of the person that a deliberately broad chroma prior accepts, reduced
  to their dominant cluster (the prior only *seeds*; the final model is the photo's own).

Skin likelihood is a Gaussian in CIE Lab chroma (a*, b*) with a looser lightness term (shadowed
neck and ears are darker than the cheeks), against a background Gaussian mixture fitted to the
photo's non-skin pixels (hair, beard, clothes, scene). The decision is cleaned with a guided
filter steered by the photo so that the mask follows real edges (hairline, beard, glasses).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipelines.tryon.color import srgb_to_lab

BACKEND = "skin-gaussian-vs-gmm"


def _lab_image(rgb: np.ndarray) -> np.ndarray:
    return srgb_to_lab(rgb.astype(np.float32) / 255.0)


def _fit_gaussian(x: np.ndarray, reg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = np.median(x, axis=0)
    # Trim outliers (stray hair, specular spots) before the covariance.
    d = np.abs(x - mu) / (np.median(np.abs(x - mu), axis=0) * 1.4826 + 1e-3)
    keep = (d < 3.0).all(1)
    if keep.sum() >= 10:
        x = x[keep]
    mu = x.mean(0)
    cov = np.cov(x.T) + np.diag(reg)
    return mu, cov


def _loglik(x: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(cov)
    d = x - mu
    m = np.einsum("ni,ij,nj->n", d, inv, d)
    return -0.5 * m - 0.5 * np.log(np.linalg.det(cov))


def prior_seeds(rgb: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Skin seeds without a face: the dominant cluster of person pixels inside a broad YCrCb
    chroma prior (Cr 133..180, Cb 77..135 covers skin from Monk 1 to 10 in daylight)."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    cr, cb, y = ycc[..., 1].astype(np.int16), ycc[..., 2].astype(np.int16), ycc[..., 0]
    cand = person & (cr >= 133) & (cr <= 180) & (cb >= 77) & (cb <= 135) & (y > 20)
    if cand.sum() < 50:
        return cand
    v = np.stack([cr[cand], cb[cand]], 1).astype(np.float32)
    med = np.median(v, 0)
    mad = np.median(np.abs(v - med), 0) * 1.4826 + 1.0
    close = (np.abs(v - med) / mad < 2.0).all(1)
    out = np.zeros_like(cand)
    out[cand] = close
    return cv2.erode(out.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def skin_probability(
    rgb: np.ndarray,
    seeds: np.ndarray,
    person: np.ndarray | None = None,
    not_skin: np.ndarray | None = None,
    max_side: int = 320,
    seed: int = 0,
    texture: bool = True,
) -> np.ndarray:
    """Per-pixel posterior probability of skin.

    Args:
        rgb: (H, W, 3) uint8 photo.
        seeds: (H, W) bool reliable skin samples (>= 30 pixels).
        person: (H, W) float32 person probability in [0, 1], or None (whole image).
        not_skin: (H, W) bool pixels known not to be skin (eyes, brows, mouth interior), used
            as extra background samples.
        max_side: the model runs at this resolution; the result is upsampled.
        texture: add local lightness contrast as a feature (skin is smooth, hair is not).
    Returns:
        (H, W) float32 in [0, 1].
    """
    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if s < 1 else rgb
    rs = lambda m: (cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool) if s < 1 else m.astype(bool))  # noqa: E731
    sd = rs(seeds)
    if sd.sum() < 30:
        return np.zeros((h, w), np.float32)
    lab = _lab_image(small)
    if texture:
        L = lab[..., 0]
        m1 = cv2.blur(L, (5, 5))
        m2 = cv2.blur(L * L, (5, 5))
        tex = np.log1p(np.sqrt(np.clip(m2 - m1 * m1, 0, None)))
        lab = np.concatenate([lab, 4.0 * tex[..., None]], axis=2)
    nd = lab.shape[2]
    X = lab.reshape(-1, nd)
    mu, cov = _fit_gaussian(lab[sd], reg=np.array([4.0, 1.0, 1.0, 1.0][:nd]))
    # Lightness varies with shading far more than chroma does: widen it.
    cov = cov.copy()
    cov[0, 0] *= 6.0
    ll_skin = _loglik(X, mu, cov)

    pers = cv2.resize(person, size, interpolation=cv2.INTER_LINEAR) if (person is not None and s < 1) else person
    bg = ~cv2.dilate(sd.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    # Background samples: pixels far from the skin model, plus known non-skin.
    far = (ll_skin.reshape(sd.shape) < np.percentile(ll_skin[sd.reshape(-1)], 1) - 6.0)
    bgs = bg & far
    if not_skin is not None:
        bgs |= rs(not_skin)
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(bgs.reshape(-1))
    if len(idx) > 2000:
        idx = rng.choice(idx, 2000, replace=False)
    ll_bg = np.full(len(X), -1e9, np.float32)
    if len(idx) >= 60:
        cv2.setRNGSeed(int(seed))  # EM's initial clustering uses OpenCV's global RNG
        em = cv2.ml.EM_create()
        em.setClustersNumber(5)
        em.setCovarianceMatrixType(cv2.ml.EM_COV_MAT_GENERIC)
        em.setTermCriteria((cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 15, 1e-3))
        em.trainEM(X[idx].astype(np.float64))
        # Score all pixels at once from the model's parameters (predict2 is per sample).
        means, covs, wts = em.getMeans(), em.getCovs(), em.getWeights().ravel()
        comps = [np.log(max(wt, 1e-6)) + _loglik(X, m, c + np.eye(nd) * 1.0) for m, c, wt in zip(means, covs, wts)]
        ll_bg = np.logaddexp.reduce(np.stack(comps), axis=0)
    prior_skin = 0.5
    logit = (ll_skin - ll_bg) + np.log(prior_skin / (1 - prior_skin))
    p = 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))
    p = p.reshape(sd.shape).astype(np.float32)
    if pers is not None:
        p *= np.clip((pers - 0.2) / 0.6, 0, 1)
    # Edge-aware smoothing: the photo guides where the boundary may sit.
    guide = small.astype(np.float32) / 255.0
    r = max(2, int(round(min(size) / 120)))
    p = cv2.ximgproc.guidedFilter(guide, p, r, 1e-3)
    if s < 1:
        p = cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(p, 0, 1)


def skin_mask(prob: np.ndarray, seeds: np.ndarray, threshold: float = 0.5, min_area_frac: float = 0.002) -> np.ndarray:
    """Threshold ``prob``, fill small holes and keep connected parts that touch the seeds or
    are large (arms, hands far from the face)."""
    m = (prob >= threshold).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return m.astype(bool)
    keep = np.zeros(n, bool)
    touched = np.unique(lab[seeds & (lab > 0)])
    keep[touched] = True
    keep[np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_area_frac * m.size)] = True
    keep[0] = False
    return keep[lab]
