"""SamSegmenter with a tiny random-weight SAM built from segment_anything's own modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipelines.room.types import MaskProposal
from pipelines.sam import SamSegmenter, build_sam_tiny, load_sam_weights


def get_dummy_sam(seed: int = 0):
    torch.manual_seed(seed)
    return build_sam_tiny(img_size=64)


def get_dummy_image(seed: int = 0, size=(96, 80)) -> np.ndarray:
    """A (H, W, 3) uint8 "room": two flat blocks on a gradient, plus a little noise."""
    w, h = size
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = np.linspace(90, 200, w, dtype=np.uint8)[None, :, None]
    img[h // 2 :, 10:50] = (160, 60, 40)
    img[10:30, 60:90] = (30, 90, 160)
    return np.clip(img.astype(int) + rng.integers(-5, 6, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("sam") / "sam_tiny.pth"
    torch.save(get_dummy_sam().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def segmenter(tiny_checkpoint):
    # Random weights predict low IoU: open the filters so proposals come out at all.
    return SamSegmenter.from_checkpoint(
        tiny_checkpoint, "tiny", "cpu", points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0,
        min_area_frac=0.0,
    )


def test_checkpoint_round_trip_loads_same_weights(tiny_checkpoint):
    seg = SamSegmenter.from_checkpoint(tiny_checkpoint, "tiny")
    ref = get_dummy_sam().state_dict()
    got = seg.sam.state_dict()
    assert set(ref) == set(got)
    assert all(torch.equal(ref[k], got[k].cpu()) for k in ref)
    assert seg.backend == "sam-tiny"


def test_safetensors_checkpoint(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "sam_tiny.safetensors"
    save_file({k: v.contiguous() for k, v in get_dummy_sam().state_dict().items()}, str(path))
    assert set(load_sam_weights(path)) == set(get_dummy_sam().state_dict())
    SamSegmenter.from_checkpoint(path, "tiny")


def test_pickled_module_is_refused(tmp_path):
    # A whole pickled module (arbitrary code on load) must never be unpickled.
    path = tmp_path / "evil.pth"
    torch.save(get_dummy_sam(), path)
    with pytest.raises(Exception) as e:
        SamSegmenter.from_checkpoint(path, "tiny")
    assert "weights_only" in str(e.value) or "Weights" in type(e.value).__name__ or "pickle" in str(e.value).lower()


def test_wrong_architecture_is_a_clear_error(tiny_checkpoint, tmp_path):
    path = tmp_path / "other.pth"
    torch.save(build_sam_tiny(img_size=64, embed_dim=48).state_dict(), path)
    with pytest.raises(ValueError, match="not a SAM tiny checkpoint|size mismatch"):
        SamSegmenter.from_checkpoint(path, "tiny")
    with pytest.raises(ValueError, match="unknown SAM model type"):
        SamSegmenter.from_checkpoint(tiny_checkpoint, "vit_z")
    with pytest.raises(FileNotFoundError):
        SamSegmenter.from_checkpoint(tmp_path / "nope.pth", "tiny")


def test_from_settings(settings, tiny_checkpoint):
    with pytest.raises(ValueError, match="RESTYLE_SAM_CHECKPOINT"):
        SamSegmenter.from_settings(settings)
    s = settings.model_copy(update={"sam_checkpoint": tiny_checkpoint, "device": "cpu"})
    s.__dict__["sam_model_type"] = "tiny"  # the settings type allows only real models; tiny is for tests
    seg = SamSegmenter.from_settings(s, points_per_side=2)
    assert seg.backend == "sam-tiny" and seg.points_per_side == 2


def test_propose_shapes_and_determinism(segmenter):
    image = get_dummy_image()
    props = segmenter.propose(image)
    assert props, "open filters must let proposals through"
    for p in props:
        assert isinstance(p, MaskProposal)
        assert p.mask.shape == image.shape[:2] and p.mask.dtype == bool and p.mask.any()
        x0, y0, x1, y1 = p.box
        ys, xs = np.nonzero(p.mask)
        assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert 0.0 <= p.score <= 1.0 and p.source == "sam-tiny"
    assert [p.score for p in props] == sorted((p.score for p in props), reverse=True)
    again = segmenter.propose(image)
    assert len(again) == len(props)
    assert all(np.array_equal(a.mask, b.mask) and a.score == b.score for a, b in zip(props, again))


def test_propose_filters_and_limits(tiny_checkpoint):
    image = get_dummy_image()
    strict = SamSegmenter.from_checkpoint(tiny_checkpoint, "tiny", points_per_side=4, pred_iou_thresh=1.01)
    assert strict.propose(image) == []
    few = SamSegmenter.from_checkpoint(
        tiny_checkpoint, "tiny", points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0,
        min_area_frac=0.0, max_proposals=2,
    )
    assert len(few.propose(image)) <= 2


def test_from_prompts_point_and_box(segmenter):
    image = get_dummy_image(1)
    p = segmenter.from_prompts(image, points=[(30, 60)])
    assert p.mask.shape == image.shape[:2] and p.mask.dtype == bool
    assert len(p.extra["candidates"]) == 3  # a lone click is ambiguous: three candidates
    q = segmenter.from_prompts(image, points=[(30, 60)])
    assert np.array_equal(p.mask, q.mask) and p.score == q.score
    b = segmenter.from_prompts(image, box=(10, 40, 50, 80))
    assert len(b.extra["candidates"]) == 1
    both = segmenter.from_prompts(image, points=[(30, 60), (75, 20)], point_labels=[1, 0], box=(5, 5, 90, 78))
    assert both.mask.shape == image.shape[:2]


def test_image_embedding_is_cached(segmenter, monkeypatch):
    image = get_dummy_image(2)
    segmenter.from_prompts(image, points=[(5, 5)])
    calls = []
    orig = type(segmenter.sam.image_encoder).forward
    monkeypatch.setattr(type(segmenter.sam.image_encoder), "forward", lambda self, x: calls.append(1) or orig(self, x))
    segmenter.from_prompts(image, points=[(40, 40)])
    assert calls == []  # same photo: no second encoder pass
    segmenter.from_prompts(get_dummy_image(3), points=[(40, 40)])
    assert calls == [1]
    segmenter.propose(get_dummy_image(4))
    segmenter.from_prompts(get_dummy_image(4), points=[(40, 40)])
    assert calls == [1, 1], "a click after proposals on the same photo reuses the embedding"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "at least one point or a box"),
        ({"points": [(200, 5)]}, "outside the 96x80 photo"),
        ({"points": [(5, 5)], "point_labels": [1, 1]}, "1 points but 2 point_labels"),
        ({"points": [(5, 5)], "point_labels": [2]}, "must be 1"),
        ({"box": (10, 10, 5, 20)}, "x1 > x0"),
        ({"box": (100, 90, 120, 95)}, "does not overlap"),
        ({"box": (1, 2, 3)}, "must be"),
        ({"point_labels": [1], "box": (1, 1, 5, 5)}, "without points"),
    ],
)
def test_bad_prompts(segmenter, kwargs, message):
    with pytest.raises(ValueError, match=message):
        segmenter.from_prompts(get_dummy_image(), **kwargs)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((10, 10), np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        ([[0]], "numpy array"),
    ],
)
def test_bad_images(segmenter, image, message):
    with pytest.raises(ValueError, match=message):
        segmenter.propose(image)


def test_propose_on_downscaled_copy_shares_the_embedding(tiny_checkpoint, monkeypatch):
    seg = SamSegmenter.from_checkpoint(
        tiny_checkpoint, "tiny", points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0,
        min_area_frac=0.0, proposal_side=48,
    )
    image = get_dummy_image(5)
    calls = []
    orig = type(seg.sam.image_encoder).forward
    monkeypatch.setattr(type(seg.sam.image_encoder), "forward", lambda self, x: calls.append(1) or orig(self, x))
    props = seg.propose(image)
    assert props and all(p.mask.shape == image.shape[:2] for p in props)
    assert set(seg.last_timings) == {"encode_s", "generate_s", "propose_s"}
    click = seg.from_prompts(image, points=[(30, 60)])
    assert click.mask.shape == image.shape[:2]
    assert calls == [1], "one encoder pass for the proposals (on a smaller copy) and the click"
    # Same proposals as post-processing at full size, up to the resampling of edges.
    full = SamSegmenter(seg.sam, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                        min_area_frac=0.0, proposal_side=None).propose(image)
    best_small, best_full = props[0].mask, full[0].mask
    iou = (best_small & best_full).sum() / max(1, (best_small | best_full).sum())
    assert iou > 0.7


def test_sha256_pin_is_checked(settings, tiny_checkpoint):
    import hashlib

    good = hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    s = settings.model_copy(update={"checkpoint_sha256": {str(tiny_checkpoint): good}})
    SamSegmenter.from_checkpoint(tiny_checkpoint, "tiny", settings=s)
    bad = settings.model_copy(update={"checkpoint_sha256": {str(tiny_checkpoint): "0" * 64}})
    with pytest.raises(ValueError, match="(?i)sha-?256"):
        SamSegmenter.from_checkpoint(tiny_checkpoint, "tiny", settings=bad)


def test_default_density_fits_the_device():
    assert SamSegmenter(get_dummy_sam(), "cpu").points_per_side == 8
    with pytest.raises(ValueError, match="points_per_side"):
        SamSegmenter(get_dummy_sam(), "cpu", points_per_side=0)
