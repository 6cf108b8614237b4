"""EfficientNet-Lite0 (bundled ImageNet weights) and MiniLM: real labels on real photos."""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from catalog.embeddings import ImageEmbedder, TextEmbedder, imagenet_categories, letterbox

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def embedder():
    return ImageEmbedder()


def test_classifies_real_photos(embedder):
    names = imagenet_categories()
    probs = embedder.classify([Image.fromarray(data.chelsea()), Image.fromarray(data.coffee())])
    assert probs.shape == (2, 1000) and np.allclose(probs.sum(1), 1, atol=1e-4)
    cat = names[int(probs[0].argmax())]
    cup = names[int(probs[1].argmax())]
    assert cat in ("tabby", "tiger cat", "Egyptian cat", "Persian cat"), cat
    assert cup in ("espresso", "cup", "coffee mug"), cup
    assert probs[0].max() > 0.5


def test_embed_is_normalised_and_similar_for_similar_images(embedder):
    cat = Image.fromarray(data.chelsea())
    v = embedder.embed([cat, cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT), Image.fromarray(data.coffee())])
    assert v.shape == (3, embedder.dim) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1
    assert embedder.features([cat]).shape == (1, 1280)
    assert embedder.feature_maps([cat]).shape == (1, 1280, 7, 7)
    assert embedder.backend == "efficientnet-lite0" and "efficientnet-lite0" in embedder.model_name


def test_bad_inputs_are_value_errors(embedder):
    with pytest.raises(ValueError, match="list of PIL"):
        embedder.embed(Image.new("RGB", (8, 8)))
    with pytest.raises(ValueError, match="not a PIL image"):
        embedder.embed([np.zeros((4, 4, 3))])
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_dummy_components_run_without_weights():
    e = ImageEmbedder(**ImageEmbedder.get_dummy_components(seed=0))
    v = e.embed([Image.new("RGB", (50, 30), (200, 10, 10))])
    assert v.shape == (1, 1280) and np.isfinite(v).all()


def test_letterbox_keeps_aspect():
    out = letterbox(Image.new("RGB", (100, 50), (255, 0, 0)), 64)
    a = np.asarray(out)
    assert out.size == (64, 64) and tuple(a[32, 32]) == (255, 0, 0) and tuple(a[2, 32]) == (127, 127, 127)


def test_text_embedder_semantics():
    t = TextEmbedder()
    v = t.embed(["grey fabric sofa", "three-seat couch in grey", "red matte lipstick"])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert t.backend == "minilm-l6"
    with pytest.raises(ValueError):
        t.embed("a string")


def test_batchnorm_folding_keeps_the_outputs():
    import copy

    import torch

    from catalog.efficientnet import EfficientNetLite0

    torch.manual_seed(0)
    net = EfficientNetLite0().eval()
    for m in net.modules():  # non-trivial statistics, or folding would be a no-op to check
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    fused = copy.deepcopy(net).fuse_batchnorm()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(2, 3, 96, 80)
    with torch.inference_mode():
        a, b = net(x), fused(x)
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (a - b).abs().max()
