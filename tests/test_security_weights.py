"""Model files: a pickle with a payload is refused and the payload never runs; pins are enforced."""

from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import save_file

from pipelines.weights import WeightsError, load_state_dict, sha256_file


class _Payload:
    """Unpickling this runs ``exec`` and writes a marker file: a real code payload."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('payload ran')",))


def _tiny_state():
    g = torch.Generator().manual_seed(0)
    return {"layer.weight": torch.randn(4, 3, generator=g), "layer.bias": torch.zeros(4)}


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy"])
def test_pickle_checkpoint_with_payload_is_refused_and_never_runs(tmp_path, zipfile):
    marker = tmp_path / "pwned.txt"
    ckpt = tmp_path / "sam_vit_b.pth"
    torch.save({**_tiny_state(), "extra": _Payload(marker)}, ckpt, _use_new_zipfile_serialization=zipfile)

    with pytest.raises(WeightsError, match="refused.*payload"):
        load_state_dict(ckpt)
    assert not marker.exists()


def test_plain_pickle_file_with_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned.txt"
    ckpt = tmp_path / "model.bin"
    ckpt.write_bytes(pickle.dumps({"w": _Payload(marker)}, protocol=2))
    with pytest.raises(WeightsError):
        load_state_dict(ckpt)
    assert not marker.exists()

    # Control: the payload is real; an unsafe loader would have run it.
    pickle.loads(ckpt.read_bytes())
    assert marker.read_text() == "payload ran"


def test_clean_pth_and_safetensors_load(tmp_path):
    state = _tiny_state()
    torch.save({"state_dict": state}, tmp_path / "m.pth")
    save_file(state, tmp_path / "m.safetensors")
    for name in ("m.pth", "m.safetensors"):
        got = load_state_dict(tmp_path / name)
        assert set(got) == set(state)
        assert torch.equal(got["layer.weight"], state["layer.weight"])


def test_sha256_pin_from_settings(tmp_path, settings):
    path = tmp_path / "m.safetensors"
    save_file(_tiny_state(), path)
    good = sha256_file(path)

    pinned = settings.model_copy(update={"checkpoint_sha256": {str(path): good}})
    assert set(load_state_dict(path, settings=pinned)) == {"layer.weight", "layer.bias"}

    wrong = settings.model_copy(update={"checkpoint_sha256": {str(path): "0" * 64}})
    with pytest.raises(WeightsError, match="SHA-256 is .* but the settings pin"):
        load_state_dict(path, settings=wrong)
    by_name = settings.model_copy(update={"checkpoint_sha256": {"m.safetensors": "f" * 64}})
    with pytest.raises(WeightsError, match="SHA-256"):
        load_state_dict(path, settings=by_name)
    with pytest.raises(WeightsError, match="not 64 hex"):
        load_state_dict(path, sha256="abc")


def test_pin_is_checked_before_the_pickle_is_opened(tmp_path):
    marker = tmp_path / "pwned.txt"
    ckpt = tmp_path / "m.pt"
    torch.save({"x": _Payload(marker)}, ckpt)
    with pytest.raises(WeightsError, match="SHA-256"):
        load_state_dict(ckpt, sha256="1" * 64)
    assert not marker.exists()


def test_bad_files_get_specific_errors(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_state_dict(tmp_path / "missing.pth")
    (tmp_path / "m.pkl").write_bytes(b"x")
    with pytest.raises(WeightsError, match="unknown checkpoint type"):
        load_state_dict(tmp_path / "m.pkl")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(WeightsError, match="not a valid safetensors"):
        load_state_dict(tmp_path / "bad.safetensors")
    (tmp_path / "trunc.pth").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(WeightsError):
        load_state_dict(tmp_path / "trunc.pth")
