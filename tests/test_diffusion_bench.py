"""The GPU benchmark's code path (tiny models on the CPU) and its full-size architectures (meta device)."""

from __future__ import annotations

import json

import pytest
import torch

from pipelines.diffusion.components import RESOLUTION, random_components, vision_config


def test_bench_smoke_runs_and_prints_table(tmp_path, capsys):
    from bench.bench_diffusion_gpu import main

    out = tmp_path / "rows.json"
    assert main(["--smoke", "--family", "sd15", "sdxl", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "device: CPU" in text and "vs batch1" in text
    rows = json.loads(out.read_text())["rows"]
    assert [(r["family"], r["batch"]) for r in rows] == [("sd15", 1), ("sd15", 2), ("sdxl", 1), ("sdxl", 2)]
    for r in rows:
        assert r["per_image_s"] > 0 and r["call_s"] >= r["per_image_s"]
        assert r["time_for_20_s"] == pytest.approx(20 * r["per_image_s"])
    assert rows[0]["speedup_vs_batch1"] == 1.0


def _millions(module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


# Published parameter counts (millions): SD 1.5 UNet 859.5, ControlNet-SD15 361.3, SDXL UNet 2567.5,
# ControlNet-SDXL 1251.4, VAE 83.7, CLIP ViT-L text 123.1, OpenCLIP bigG text 694.7.
@pytest.mark.parametrize("family, expected", [
    ("sd15", dict(unet=859.5, controlnet=361.3, vae=83.7, text_encoder=123.1)),
    ("sdxl", dict(unet=2567.5, controlnet=1251.4, vae=83.7, text_encoder=123.1, text_encoder_2=694.7)),
])
def test_full_size_architectures_match_published_models(family, expected):
    comps = random_components(family, "full", device="meta")  # shapes only: no memory, no compute
    for name, millions in expected.items():
        assert _millions(comps[name]) == pytest.approx(millions, rel=0.01), name
    unet, cn = comps["unet"], comps["controlnet"]
    res = RESOLUTION[(family, "full")]
    lat = res // 8
    with torch.device("meta"):
        ehs = torch.zeros(2, 77, unet.config.cross_attention_dim)
        added = {"text_embeds": torch.zeros(2, 1280), "time_ids": torch.zeros(2, 6)} if family == "sdxl" else None
        t = torch.zeros(2)
        down, mid = cn(torch.zeros(2, 4, lat, lat), t, encoder_hidden_states=ehs,
                       controlnet_cond=torch.zeros(2, 3, res, res), added_cond_kwargs=added, return_dict=False)
        out = unet(torch.zeros(2, 9, lat, lat), t, encoder_hidden_states=ehs, down_block_additional_residuals=down,
                   mid_block_additional_residual=mid, added_cond_kwargs=added).sample
    assert tuple(out.shape) == (2, 4, lat, lat)
    assert vision_config(family, "full").projection_dim == (1024 if family == "sd15" else 1280)
