"""Checkpoints: safetensors files that round-trip nested state and are written atomically."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("safetensors")


def test_round_trip_of_nested_state(tmp_path):
    state = {
        "model": {"fc.weight": cr.randn(3, 4), "fc.bias": cr.zeros(3, dtype=cr.float64)},
        "optimizer": {"state": {0: {"step": 5, "momentum_buffer": cr.ones(3, 4)}}, "param_groups": [{"lr": 0.1}]},
        "epoch": 7,
        "rng": {"state": {"state": 2**100, "inc": 3}},
        "note": None,
        "shape": (2, 3),
        "int_tensor": cr.arange(5),
    }
    path = tmp_path / "ckpt.safetensors"
    cr.save(state, path)
    loaded = cr.load(path)
    assert loaded["epoch"] == 7 and loaded["note"] is None and loaded["shape"] == (2, 3)
    assert loaded["rng"]["state"]["state"] == 2**100
    assert loaded["optimizer"]["state"][0]["step"] == 5 and loaded["optimizer"]["param_groups"][0]["lr"] == 0.1
    for key in ("fc.weight", "fc.bias"):
        assert loaded["model"][key].dtype == state["model"][key].dtype
        np.testing.assert_array_equal(loaded["model"][key].numpy(), state["model"][key].numpy())
    assert loaded["int_tensor"].tolist() == [0, 1, 2, 3, 4]


def test_sidecar_describes_the_file(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save({"w": cr.ones(2, 3)}, path)
    sidecar = json.loads((tmp_path / "m.safetensors.json").read_text())
    assert sidecar["structure"]["w"] == {"tensor": "w", "shape": [2, 3], "dtype": "float32"}
    import hashlib

    assert sidecar["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_save_refuses_arbitrary_objects(tmp_path):
    with pytest.raises(TypeError, match="save: cannot store.*object"):
        cr.save({"x": object()}, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    cr.save({"epoch": 1, "w": cr.ones(2)}, path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError):
        cr.save({"epoch": 2, "w": cr.zeros(2)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_load_rejects_garbage(tmp_path):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        cr.load(path)


def test_plain_safetensors_file_loads_as_flat_dict(tmp_path):
    from safetensors.numpy import save_file

    save_file({"a": np.arange(3, dtype=np.float32)}, str(tmp_path / "plain.safetensors"))
    assert cr.load(tmp_path / "plain.safetensors")["a"].tolist() == [0.0, 1.0, 2.0]
