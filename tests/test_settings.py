"""Settings: environment, TOML, precedence, and errors that name the setting."""

from __future__ import annotations

import pytest

from app.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for k in list(os.environ):
        if k.startswith("RESTYLE_"):
            monkeypatch.delenv(k)


def test_defaults_are_local_and_offline():
    s = load_settings()
    assert s.host == "127.0.0.1" and s.allow_hub_downloads is False and s.allow_network is False
    assert s.num_combinations == 20
    assert s.max_image_pixels < 89_478_485  # below Pillow's own bomb limit


def test_environment_sets_typed_values(monkeypatch, tmp_path):
    monkeypatch.setenv("RESTYLE_PORT", "9001")
    monkeypatch.setenv("RESTYLE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RESTYLE_CHECKPOINT_SHA256", '{"/m/sam.pth": "ab"}')
    s = load_settings()
    assert s.port == 9001 and s.data_dir == tmp_path and s.checkpoint_sha256 == {"/m/sam.pth": "ab"}
    assert s.catalog_dir == tmp_path / "catalog"


def test_toml_file_and_environment_precedence(monkeypatch, tmp_path):
    cfg = tmp_path / "restyle.toml"
    cfg.write_text('port = 8100\nqueue_size = 3\nsam_checkpoint = "/models/sam_vit_b.pth"\n')
    monkeypatch.setenv("RESTYLE_PORT", "8200")
    s = load_settings(cfg)
    assert s.port == 8200  # environment wins
    assert s.queue_size == 3 and str(s.sam_checkpoint) == "/models/sam_vit_b.pth"
    # overrides (CLI flags) win over both
    assert load_settings(cfg, port=8300).port == 8300


def test_toml_section_is_accepted(tmp_path):
    cfg = tmp_path / "restyle.toml"
    cfg.write_text("[restyle]\nwork_max_side = 768\n")
    assert load_settings(cfg).work_max_side == 768


@pytest.mark.parametrize(
    "env, value, fragment",
    [
        ("RESTYLE_PORT", "eighty", "RESTYLE_PORT"),
        ("RESTYLE_DEVICE", "tpu", "RESTYLE_DEVICE"),
        ("RESTYLE_WORK_MAX_SIDE", "10", "RESTYLE_WORK_MAX_SIDE"),
        ("RESTYLE_MAX_UPLOAD_BYTES", "-1", "RESTYLE_MAX_UPLOAD_BYTES"),
        ("RESTYLE_AUTH", "nocolon", "RESTYLE_AUTH"),
        ("RESTYLE_SAM_CHEKPOINT", "/x", "unknown setting RESTYLE_SAM_CHEKPOINT"),
    ],
)
def test_invalid_or_unknown_settings_name_the_setting(monkeypatch, env, value, fragment):
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError, match=fragment):
        load_settings()


def test_unknown_toml_key_is_named(tmp_path):
    cfg = tmp_path / "restyle.toml"
    cfg.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="'prot'"):
        load_settings(cfg)


def test_missing_or_broken_config_file(tmp_path):
    with pytest.raises(SettingsError, match="no such file"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(bad)


def test_binding_beyond_loopback_requires_auth():
    with pytest.raises(SettingsError, match="RESTYLE_AUTH"):
        load_settings(host="0.0.0.0")
    assert load_settings(host="0.0.0.0", auth="me:secret").auth == "me:secret"
