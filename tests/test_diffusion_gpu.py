"""The diffusion backend on a CUDA GPU at full size (random weights): fp16, batching, seeds.

Skipped by default (marker ``gpu``); run on a GPU machine with ``pytest -m gpu tests/test_diffusion_gpu.py``.
"""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

from pipelines.diffusion import RoomDiffusionRenderer
from pipelines.diffusion.components import random_components, write_random_ip_adapter

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    return torch.device("cuda")


@pytest.mark.parametrize("family, res", [("sd15", 512), ("sdxl", 1024)])
def test_full_size_fp16_batch_and_seeds(cuda, tmp_path, family, res):
    comps = random_components(family, "full", device=cuda, dtype=torch.float16)
    folder = write_random_ip_adapter(tmp_path, comps["unet"], family, "full", device=cuda, dtype=torch.float16)
    r = RoomDiffusionRenderer.from_components(comps, family, ip_adapter=folder, device=cuda, dtype=torch.float16,
                                              max_batch=4)
    assert r.resolution == res and r.pipe.unet.dtype == torch.float16 and r.has_ip_adapter
    rng = np.random.default_rng(0)
    room = PIL.Image.fromarray(rng.integers(0, 255, (600, 800, 3), dtype=np.uint8))
    mask = np.zeros((600, 800), bool)
    mask[200:500, 250:600] = True
    product = PIL.Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8))
    out = r.render([room] * 5, [mask] * 5, room=room, product_images=[product] * 5, seeds=[1, 2, 3, 4, 1],
                   num_inference_steps=4, strength=0.75)
    a = [np.asarray(i).astype(int) for i in out.images]
    assert all(np.array_equal(x[~mask], np.asarray(room)[~mask]) for x in a)
    assert np.abs(a[0] - a[4]).max() <= 2  # same seed in different batches (fp16 kernels may differ by 1-2)
    assert np.abs(a[0] - a[1]).max() > 10
