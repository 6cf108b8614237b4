"""RoomDiffusionRenderer on tiny random-weight components (diffusers' get_dummy_components sizes).

Every model path runs here on the CPU: SD 1.5 and SDXL ControlNet inpainting, 9- and 4-channel
UNets, IP-Adapter loaded from safetensors + image_encoder/ through diffusers' load_ip_adapter,
from_pretrained/from_settings from saved folders, canny and MLSD control images.
"""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

from pipelines.diffusion import RoomDiffusionRenderer, load_annotator, room_control_image
from pipelines.diffusion.components import offline_clip_tokenizer, random_components, write_random_ip_adapter
from pipelines.diffusion.renderer import pipeline_class

FAMILIES = ("sd15", "sdxl")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def get_dummy_components(family: str, unet_in_channels: int = 9) -> dict:
    return random_components(family, "tiny", unet_in_channels=unet_in_channels, seed=0)


def get_dummy_inputs(seed: int = 0, size=(80, 48)) -> dict:
    """A room (gradient + a dark 'old item'), a composite (a red 'product' pasted over the item),
    the mask of the pasted region, and the product's catalogue photo."""
    w, h = size
    rng = np.random.default_rng(seed)
    room = np.zeros((h, w, 3), np.uint8)
    room[:] = np.linspace(120, 220, w, dtype=np.uint8)[None, :, None]
    room[h * 2 // 3 :] = (150, 120, 90)  # floor
    room[12:36, 18:54] = (40, 40, 50)  # the old item
    room = np.clip(room.astype(int) + rng.integers(-3, 4, room.shape), 0, 255).astype(np.uint8)
    composite = room.copy()
    composite[14:34, 22:50] = (190, 40, 40)
    mask = np.zeros((h, w), bool)
    mask[10:38, 16:56] = True
    product = PIL.Image.new("RGB", (40, 40), (190, 40, 40))
    return dict(room=PIL.Image.fromarray(room), composite=PIL.Image.fromarray(composite), mask=mask, product=product)


@pytest.fixture(scope="module")
def renderers(tmp_path_factory) -> dict[str, RoomDiffusionRenderer]:
    out = {}
    for family in FAMILIES:
        comps = get_dummy_components(family)
        folder = write_random_ip_adapter(tmp_path_factory.mktemp(f"ip_{family}"), comps["unet"], family, "tiny",
                                         weight_name=f"ip-adapter_{family}.safetensors")
        out[family] = RoomDiffusionRenderer.from_components(
            comps, family, ip_adapter=folder, ip_adapter_weight_name=f"ip-adapter_{family}.safetensors",
            resolution=64, min_crop=16, max_batch=2,
        )
    return out


def _render(r, n=1, seeds=None, **kw):
    x = get_dummy_inputs()
    args = dict(room=x["room"], product_images=[x["product"]] * n, seeds=seeds or list(range(n)),
                num_inference_steps=2, strength=1.0)
    args.update(kw)
    return r.render([x["composite"]] * n, [x["mask"]] * n, **args)


@pytest.mark.parametrize("family", FAMILIES)
def test_render_outputs_and_unchanged_outside_mask(renderers, family):
    r = renderers[family]
    x = get_dummy_inputs()
    out = _render(r, n=3, seeds=[7, 8, 9])
    assert out.backend == f"controlnet-inpaint-{family}"
    assert out.seeds == [7, 8, 9] and len(out.images) == 3
    assert set(out.timings) >= {"control", "product_embeds", "diffusion", "paste", "total", "per_image"}
    assert out.conditioning["ip_adapter"] is True and out.conditioning["control"] == "canny"
    comp = np.asarray(x["composite"])
    for im in out.images:
        a = np.asarray(im)
        assert im.size == x["composite"].size and a.dtype == np.uint8
        assert np.array_equal(a[~x["mask"]], comp[~x["mask"]]), "pixels outside the mask must be untouched"
        assert (a[x["mask"]] != comp[x["mask"]]).any(axis=-1).mean() > 0.5, "the masked region was not repainted"
    assert [c.size for c in out.control_images] == [(64, 64)] * 3


@pytest.mark.parametrize("family", FAMILIES)
def test_seed_determinism_and_batching(renderers, family):
    r = renderers[family]
    # max_batch=2: seeds [3, 4, 3] run as two pipeline calls.
    out = _render(r, n=3, seeds=[3, 4, 3])
    a = [np.asarray(i).astype(int) for i in out.images]
    assert np.abs(a[0] - a[2]).max() <= 1, "same seed, same image (across batches)"
    assert np.abs(a[0] - a[1]).max() > 10, "different seeds must give different images"
    alone = np.asarray(_render(r, n=1, seeds=[4]).images[0]).astype(int)
    assert np.abs(alone - a[1]).max() <= 1, "a seed's image must not depend on its batch neighbours"
    again = np.asarray(_render(r, n=1, seeds=[4]).images[0]).astype(int)
    assert np.array_equal(alone, again)


@pytest.mark.parametrize("family", FAMILIES)
def test_ip_adapter_conditions_on_the_product(renderers, family):
    r = renderers[family]
    x = get_dummy_inputs()
    red = r.render([x["composite"]], [x["mask"]], room=x["room"], product_images=[x["product"]], seeds=[0],
                   num_inference_steps=2, strength=1.0)
    blue = r.render([x["composite"]], [x["mask"]], room=x["room"],
                    product_images=[PIL.Image.new("RGB", (40, 40), (20, 40, 200))], seeds=[0],
                    num_inference_steps=2, strength=1.0)
    assert not np.array_equal(np.asarray(red.images[0]), np.asarray(blue.images[0]))
    # With the adapter's scale at 0 the product photo has no effect.
    z1 = r.render([x["composite"]], [x["mask"]], product_images=[x["product"]], seeds=[0], num_inference_steps=2,
                  strength=1.0, ip_adapter_scale=0.0)
    z2 = r.render([x["composite"]], [x["mask"]], product_images=[PIL.Image.new("RGB", (9, 9), (0, 0, 255))],
                  seeds=[0], num_inference_steps=2, strength=1.0, ip_adapter_scale=0.0)
    assert np.array_equal(np.asarray(z1.images[0]), np.asarray(z2.images[0]))


def test_ip_adapter_loaded_through_diffusers(renderers, tmp_path):
    from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0
    from safetensors.torch import load_file
    from transformers import CLIPVisionModelWithProjection

    r = renderers["sd15"]
    assert r.has_ip_adapter
    assert isinstance(r.pipe.image_encoder, CLIPVisionModelWithProjection)
    procs = [p for p in r.pipe.unet.attn_processors.values() if isinstance(p, IPAdapterAttnProcessor2_0)]
    assert procs, "cross-attention processors must be IP-Adapter ones"
    # The weights in the UNet are the ones written to the safetensors file.
    comps = get_dummy_components("sd15")
    write_random_ip_adapter(tmp_path, comps["unet"], "sd15", "tiny", weight_name="w.safetensors")
    saved = load_file(str(tmp_path / "w.safetensors"))
    first_cross = next(k for k in saved if k.startswith("ip_adapter.") and k.endswith("to_k_ip.weight"))
    assert torch.equal(procs[0].to_k_ip[0].weight.detach().cpu(), saved[first_cross])


@pytest.mark.parametrize("family", FAMILIES)
def test_erase(renderers, family):
    r = renderers[family]
    x = get_dummy_inputs()
    out = r.erase([x["room"]], [x["mask"]], seeds=[1], num_inference_steps=2)
    assert out.conditioning["ip_adapter"] is False and out.backend == r.backend
    room = np.asarray(x["room"])
    a = np.asarray(out.images[0])
    assert np.array_equal(a[~x["mask"]], room[~x["mask"]])
    assert not np.array_equal(a[x["mask"]], room[x["mask"]])


@pytest.mark.parametrize("family", FAMILIES)
def test_base_model_with_four_channel_unet(family):
    pipe = pipeline_class(family)(**get_dummy_components(family, unet_in_channels=4))
    r = RoomDiffusionRenderer(pipe, family, resolution=64, min_crop=16)
    assert not r.has_ip_adapter
    out = _render(r, n=2, seeds=[0, 1], product_images=None, strength=0.9)
    x = get_dummy_inputs()
    assert out.conditioning["ip_adapter"] is False
    assert np.array_equal(np.asarray(out.images[0])[~x["mask"]], np.asarray(x["composite"])[~x["mask"]])


def test_control_image_comes_from_room_outside_and_composite_inside(renderers):
    x = get_dummy_inputs()
    annot = load_annotator("canny")
    room_edges = np.asarray(annot(x["room"]))[..., 0] > 0
    comp_edges = np.asarray(annot(x["composite"]))[..., 0] > 0
    ctrl = np.asarray(room_control_image(x["room"], x["composite"], x["mask"], annot, grow_px=0))[..., 0] > 0
    m = x["mask"]
    assert np.array_equal(ctrl[~m], room_edges[~m])
    assert np.array_equal(ctrl[m], comp_edges[m])
    assert (room_edges[m] != comp_edges[m]).any()  # the old item's outline is not in the control image
    # The control image steers the result.
    r = renderers["sd15"]
    a = _render(r, seeds=[0], controlnet_conditioning_scale=0.0).images[0]
    b = _render(r, seeds=[0], controlnet_conditioning_scale=2.0).images[0]
    assert not np.array_equal(np.asarray(a), np.asarray(b))


def test_large_photo_small_item_crop(renderers):
    r = renderers["sd15"]
    rng = np.random.default_rng(0)
    big = PIL.Image.fromarray(rng.integers(0, 255, (150, 260, 3), dtype=np.uint8))
    mask = np.zeros((150, 260), bool)
    mask[100:120, 200:215] = True  # near the right edge: the crop must shift inside the photo
    out = r.render([big], [mask], seeds=[0], num_inference_steps=2, strength=1.0)
    a = np.asarray(out.images[0])
    assert out.images[0].size == (260, 150)
    assert np.array_equal(a[~mask], np.asarray(big)[~mask])
    assert (a[mask] != np.asarray(big)[mask]).any()
    crop = r._crop_for(mask)
    x0, y0, x1, y1 = crop.box
    assert x0 <= 200 and x1 >= 215 and y0 <= 100 and y1 >= 120 and x1 <= 260 and y1 <= 150
    assert x1 - x0 == y1 - y0  # square when the photo allows


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(images=[]), "non-empty list"),
        (dict(images=[np.zeros((4, 4, 3))]), r"images\[0\] must be a PIL image"),
        (dict(masks=[]), "masks must be a list of 1"),
        (dict(masks=[np.ones((5, 5), bool)]), r"masks\[0\] has shape \(5, 5\)"),
        (dict(masks=[np.zeros((48, 80), bool)]), "is empty"),
        (dict(room=PIL.Image.new("RGB", (10, 10))), "room image 0 must be a PIL image of size"),
        (dict(product_images=[PIL.Image.new("RGB", (4, 4))] * 2), "product_images must be a list of 1"),
        (dict(product_images=[None]), "every product_images entry"),
        (dict(prompts=["a", "b"]), "prompts must be"),
        (dict(seeds=[-1]), "non-negative integers"),
        (dict(seeds=[1, 2]), "seeds must be a list of 1"),
        (dict(num_inference_steps=0), "num_inference_steps must be a positive integer"),
        (dict(strength=0.0), r"strength must be in \(0, 1\]"),
        (dict(strength=0.2, num_inference_steps=2), "no denoising step would run"),
        (dict(guidance_scale=-1.0), "guidance_scale must be >= 0"),
        (dict(controlnet_conditioning_scale=-0.5), "controlnet_conditioning_scale must be >= 0"),
    ],
)
def test_bad_inputs(renderers, change, message):
    x = get_dummy_inputs()
    args = dict(images=[x["composite"]], masks=[x["mask"]], room=x["room"], product_images=[x["product"]],
                seeds=[0], num_inference_steps=2, strength=1.0)
    args.update(change)
    with pytest.raises(ValueError, match=message):
        renderers["sd15"].render(args.pop("images"), args.pop("masks"), **args)


def test_constructor_checks():
    comps = get_dummy_components("sd15")
    from diffusers import StableDiffusionControlNetInpaintPipeline

    pipe = StableDiffusionControlNetInpaintPipeline(**comps)
    with pytest.raises(ValueError, match="needs a StableDiffusionXLControlNetInpaintPipeline"):
        RoomDiffusionRenderer(pipe, "sdxl")
    with pytest.raises(ValueError, match="family must be"):
        RoomDiffusionRenderer(pipe, "sd3")
    with pytest.raises(ValueError, match="multiple of 4"):
        RoomDiffusionRenderer(pipe, "sd15", resolution=66)
    with pytest.raises(ValueError, match="max_batch"):
        RoomDiffusionRenderer(pipe, "sd15", max_batch=0)
    with pytest.raises(ValueError, match="no pickle"):
        RoomDiffusionRenderer.from_components(comps, "sd15", ip_adapter="/nowhere", ip_adapter_weight_name="ip.bin")
    with pytest.raises(FileNotFoundError, match="IP-Adapter weights not found"):
        RoomDiffusionRenderer.from_components(comps, "sd15", ip_adapter="/nowhere")


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """Tiny SD 1.5 and SDXL folders laid out as on the Hub (model, ControlNet, IP-Adapter)."""
    root = tmp_path_factory.mktemp("models")
    for family in FAMILIES:
        comps = get_dummy_components(family)
        controlnet = comps["controlnet"]
        pipe = pipeline_class(family)(**comps)
        pipe.save_pretrained(root / family)
        controlnet.save_pretrained(root / f"{family}_controlnet")
        # SDXL: laid out as the h94/IP-Adapter repository (the family's folder is found inside).
        ip_folder = root / f"{family}_ip" / ("sdxl_models" if family == "sdxl" else "")
        write_random_ip_adapter(ip_folder, comps["unet"], family, "tiny", weight_name=f"ip-adapter_{family}.safetensors")
    from controlnet_aux.mlsd.models.mbv2_mlsd_large import MobileV2_MLSD_Large

    torch.manual_seed(0)
    (root / "annotators").mkdir()
    torch.save(MobileV2_MLSD_Large().state_dict(), root / "annotators" / "mlsd_large_512_fp32.pth")
    return root


@pytest.mark.parametrize("family", FAMILIES)
def test_from_settings_loads_local_folders(settings, saved_models, family):
    root = saved_models
    keys = dict(sd15=("sd_model", "controlnet_model"), sdxl=("sdxl_model", "controlnet_sdxl_model"))[family]
    s = settings.model_copy(update={
        keys[0]: str(root / family), keys[1]: str(root / f"{family}_controlnet"),
        "ip_adapter": str(root / f"{family}_ip"), "ip_adapter_weight_name": f"ip-adapter_{family}.safetensors",
        "device": "cpu", "dtype": "float32",
        # sd15: an MLSD ControlNet, with the annotator's weights (random here) in annotators_dir.
        "controlnet_condition": "mlsd" if family == "sd15" else "canny", "annotators_dir": str(root / "annotators"),
    })
    r = RoomDiffusionRenderer.from_settings(s, family, resolution=64, min_crop=16)
    assert r.backend == f"controlnet-inpaint-{family}" and r.has_ip_adapter
    assert r.control == s.controlnet_condition
    assert type(r.pipe.scheduler).__name__ == "UniPCMultistepScheduler"
    out = _render(r, n=2, seeds=[0, 1])
    x = get_dummy_inputs()
    assert out.conditioning["control"] == s.controlnet_condition
    assert np.array_equal(np.asarray(out.images[1])[~x["mask"]], np.asarray(x["composite"])[~x["mask"]])
    if family == "sd15":  # a wrong SHA-256 pin on the IP-Adapter file stops loading
        ip_file = root / "sd15_ip" / "ip-adapter_sd15.safetensors"
        bad = s.model_copy(update={"checkpoint_sha256": {str(ip_file): "0" * 64}})
        with pytest.raises(ValueError, match="(?i)sha-?256"):
            RoomDiffusionRenderer.from_settings(bad, family, resolution=64)


def test_from_settings_errors(settings, tmp_path):
    with pytest.raises(ValueError, match="RESTYLE_SD_MODEL"):
        RoomDiffusionRenderer.from_settings(settings, "sd15")
    with pytest.raises(ValueError, match="RESTYLE_SDXL_MODEL"):
        RoomDiffusionRenderer.from_settings(settings)
    s = settings.model_copy(update={"sd_model": str(tmp_path / "missing")})
    with pytest.raises(ValueError, match="RESTYLE_CONTROLNET_MODEL"):
        RoomDiffusionRenderer.from_settings(s)
    s = settings.model_copy(update={"sd_model": str(tmp_path / "missing"), "controlnet_model": str(tmp_path)})
    with pytest.raises(FileNotFoundError, match="inpainting model folder not found"):
        RoomDiffusionRenderer.from_settings(s)


def test_offline_tokenizer_is_clip_shaped():
    tok = offline_clip_tokenizer()
    ids = tok("a sofa", padding="max_length", max_length=tok.model_max_length).input_ids
    assert len(ids) == 77 and ids[0] == tok.bos_token_id and tok.eos_token_id in ids
    assert max(ids) < 1000  # fits the tiny text encoder's vocabulary


def test_mlsd_annotator_with_random_weights(tmp_path):
    from controlnet_aux.mlsd.models.mbv2_mlsd_large import MobileV2_MLSD_Large

    torch.manual_seed(0)
    torch.save(MobileV2_MLSD_Large().state_dict(), tmp_path / "mlsd_large_512_fp32.pth")
    annot = load_annotator("mlsd", tmp_path, resolution=64)
    img = get_dummy_inputs()["room"]
    out = annot(img)
    assert out.size == img.size and out.mode == "RGB"
    with pytest.raises(ValueError, match="RESTYLE_ANNOTATORS_DIR"):
        load_annotator("depth", None)
    with pytest.raises(FileNotFoundError, match="dpt_hybrid"):
        load_annotator("depth", tmp_path)
    with pytest.raises(ValueError, match="unknown control kind"):
        load_annotator("normal", tmp_path)


@pytest.mark.slow
def test_depth_annotator_with_random_weights(tmp_path):
    """MiDaS DPT-hybrid through controlnet-aux (a 123 M-parameter model: slow, ~500 MB written)."""
    from controlnet_aux.midas.midas.dpt_depth import DPTDepthModel

    torch.manual_seed(0)
    model = DPTDepthModel(path=None, backbone="vitb_rn50_384", non_negative=True)
    torch.save(model.state_dict(), tmp_path / "dpt_hybrid-midas-501f0c75.pt")
    annot = load_annotator("depth", tmp_path, resolution=64)
    img = get_dummy_inputs()["room"]
    out = annot(img)
    assert out.size == img.size and out.mode == "RGB"


def test_feather_ramps_inside_the_mask_only(renderers):
    r = renderers["sd15"]  # feather_px = 6
    m = np.zeros((40, 60), bool)
    m[10:30, 0:30] = True  # touches the photo's left border
    a = r._feather(m)
    assert a.dtype == np.float32 and (a[~m] == 0).all() and (a[m] > 0).all()
    assert a[20, 0] == 1.0, "no ramp where the mask meets the photo's border"
    assert a[20, 29] < 0.5 and a[20, 15] == 1.0  # ramp next to unedited pixels, full weight deep inside
    assert (r._feather(np.ones((8, 8), bool)) == 1.0).all()
