"""`restyle doctor` tells the truth about every backend."""

from __future__ import annotations

import json

from app.backends import CAPABILITIES, choose, doctor
from app.cli import main


def test_every_capability_has_a_ready_cpu_default(settings):
    statuses = doctor(settings)
    for cap in CAPABILITIES:
        defaults = [s for s in statuses if s.capability == cap and s.default]
        assert defaults and all(s.ready for s in defaults), cap
        assert choose(cap, settings, statuses) == defaults[0].backend  # nothing else configured


def test_missing_sam_checkpoint_is_named(settings, tmp_path):
    from app.settings import load_settings

    s = load_settings(data_dir=settings.data_dir, sam_checkpoint=tmp_path / "sam_vit_b.pth")
    sam = next(x for x in doctor(s) if x.backend == "sam")
    assert not sam.ready and f"RESTYLE_SAM_CHECKPOINT={tmp_path / 'sam_vit_b.pth'}" in sam.detail
    (tmp_path / "sam_vit_b.pth").write_bytes(b"x")
    sam = next(x for x in doctor(s) if x.backend == "sam")
    assert sam.ready and choose("room_segmentation", s) == "sam"


def test_diffusion_needs_both_model_and_controlnet(settings, tmp_path):
    from app.settings import load_settings

    (tmp_path / "sd").mkdir()
    s = load_settings(data_dir=settings.data_dir, sd_model=str(tmp_path / "sd"))
    st = next(x for x in doctor(s) if x.backend == "controlnet-inpaint-sd15")
    assert not st.ready and "RESTYLE_CONTROLNET_MODEL" in st.detail
    (tmp_path / "cn").mkdir()
    s = load_settings(data_dir=settings.data_dir, sd_model=str(tmp_path / "sd"), controlnet_model=str(tmp_path / "cn"))
    assert choose("room_generation", s) == "controlnet-inpaint-sd15"


def test_doctor_cli_json(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("RESTYLE_DATA_DIR", str(tmp_path))
    assert main(["doctor", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["capability"] for r in rows} == set(CAPABILITIES)


def test_cli_rejects_bad_settings(capsys, monkeypatch):
    monkeypatch.setenv("RESTYLE_QUEUE_SIZE", "0")
    assert main(["doctor"]) == 2
    assert "RESTYLE_QUEUE_SIZE" in capsys.readouterr().err
