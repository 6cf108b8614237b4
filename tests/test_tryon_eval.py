"""Evaluation on the real data (slow; run with -m slow). Thresholds are the figures reached so
far (regression guards), next to the issue's goals where they are met."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipe(shared_data):
    from bench.eval_tryon import _pipe

    return _pipe()


def test_fasseg_regions(pipe):
    from bench.eval_tryon import eval_fasseg

    r = eval_fasseg(pipe)
    assert r["faces_found"] == 35
    assert r["lips"]["mean"] >= 0.83 and r["lips"]["mean"] > r["lips_mesh"]["mean"]  # goal 0.86: not met
    assert r["skin"]["mean"] >= 0.90  # goal 0.90
    assert r["face"]["mean"] >= 0.95 and r["face"]["mean"] > r["face_mesh"]["mean"]  # goal 0.96: not met


def test_cc0_detection_per_tone_group(pipe):
    from bench.eval_tryon import eval_cc0

    r = eval_cc0(pipe)
    assert r["found"] >= 49
    assert r["by_group"]["max_gap_points"] <= 5.0


def test_real_shades_fidelity(pipe):
    from bench.eval_tryon import eval_fidelity

    r = eval_fidelity(pipe, limit=60)
    for ref, res in r.items():
        for kind in ("lipstick", "foundation"):
            assert res[kind]["mean_delta_e"] <= 3.0, (ref, kind, res[kind])
            assert res[kind]["mean_texture_corr"] >= 0.9, (ref, kind, res[kind])
            assert res[kind]["mean_delta_e"] < res[kind]["baseline_untouched_mean_delta_e"]
