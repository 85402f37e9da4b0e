"""Checkpoints: safetensors files that round-trip nested state and are written atomically."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import chainrule as cr


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
    save_file = pytest.importorskip("safetensors.numpy").save_file

    save_file({"a": np.arange(3, dtype=np.float32)}, str(tmp_path / "plain.safetensors"))
    assert cr.load(tmp_path / "plain.safetensors")["a"].tolist() == [0.0, 1.0, 2.0]


# ---------------------------------------------------------------------- file objects
def _round_trip_through(kind: str, obj, tmp_path):
    if kind == "BytesIO":
        buffer = io.BytesIO()
        cr.save(obj, buffer)
        buffer.seek(0)
        return cr.load(buffer)
    path = tmp_path / "opened.ckpt"
    with open(path, "wb") as file:
        cr.save(obj, file)
    with open(path, "rb") as file:
        return cr.load(file)


@pytest.mark.parametrize("kind", ["BytesIO", "open file"])
def test_file_objects_round_trip_without_a_sidecar(kind, tmp_path):
    state = {"w": cr.randn(3, 2), "step": 4, "names": ("a", "b"), 0: [1.5, None, True]}
    loaded = _round_trip_through(kind, state, tmp_path)
    assert loaded["step"] == 4 and loaded["names"] == ("a", "b") and loaded[0] == [1.5, None, True]
    np.testing.assert_array_equal(loaded["w"].numpy(), state["w"].numpy())
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".json")] == []


def test_a_file_object_may_hold_more_than_the_checkpoint():
    buffer = io.BytesIO(b"prefix")
    buffer.seek(0, io.SEEK_END)
    cr.save({"w": cr.ones(2)}, buffer)
    buffer.seek(len(b"prefix"))
    assert cr.load(buffer)["w"].tolist() == [1.0, 1.0]


def _saved_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    cr.save(obj, buffer)
    return buffer.getvalue()


def _flip_tensor_byte(data: bytes) -> bytes:
    corrupt = bytearray(data)
    corrupt[-3] ^= 0x01  # in the last tensor's bytes
    return bytes(corrupt)


def _change_epoch(data: bytes) -> bytes:
    assert data.count(b'\\"epoch\\": 3') == 1
    return data.replace(b'\\"epoch\\": 3', b'\\"epoch\\": 7')


@pytest.mark.parametrize(
    "damage, message",
    [
        (_flip_tensor_byte, "corrupt: these tensors differ from the sha256.*: 'w'"),
        (_change_epoch, "corrupt: its structure"),
        (lambda data: data[: len(data) - 5], "not a readable safetensors file"),
        (lambda data: data[:6], "not a readable safetensors file"),
    ],
    ids=["tensor-byte", "structure", "truncated", "header-cut"],
)
def test_damage_is_detected_and_names_the_file(damage, message, tmp_path):
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(damage(_saved_bytes({"epoch": 3, "w": cr.arange(8, dtype=cr.float32)})))
    with pytest.raises(ValueError, match=f"damaged.safetensors is {message}"):
        cr.load(path)


def test_saving_a_module_says_to_save_its_state_dict(tmp_path):
    model = cr.nn.Sequential(cr.nn.Linear(2, 2))
    for target in (tmp_path / "model.safetensors", io.BytesIO()):
        with pytest.raises(TypeError, match=r"nn.Module \(Sequential\).*model.state_dict\(\)"):
            cr.save(model, target)
    with pytest.raises(TypeError, match=r"nn.Module \(Linear\) at 'layers/0'"):
        cr.save({"layers": [cr.nn.Linear(2, 2)]}, io.BytesIO())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes", 1j, print], ids=lambda v: type(v).__name__)
def test_save_names_the_type_it_refuses(value):
    with pytest.raises(TypeError, match=f"type {type(value).__name__} at 'x'"):
        cr.save({"x": value}, io.BytesIO())


@pytest.mark.parametrize(
    "map_location",
    ["cpu", cr.device("cpu"), {"cpu": "cpu"}, lambda storage, location: storage, lambda storage, location: None],
    ids=["string", "device", "dict", "callable", "callable-None"],
)
def test_map_location_forms_on_chainrule_files(map_location):
    loaded = cr.load(io.BytesIO(_saved_bytes({"w": cr.ones(2, 2)})), map_location=map_location)
    assert loaded["w"].device == "cpu" and loaded["w"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_arrays_come_back_as_arrays_when_asked():
    loaded = cr.load(io.BytesIO(_saved_bytes({"w": cr.ones(2)})), as_tensors=False)
    assert type(loaded["w"]) is np.ndarray


# ---------------------------------------------------------------------- the safetensors library agrees
SAFETENSORS_DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


@pytest.mark.parametrize("dtype", SAFETENSORS_DTYPES)
def test_the_safetensors_library_reads_our_files_and_we_read_its(dtype, tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    values = np.arange(-3, 9).reshape(3, 4).astype(dtype)
    path = tmp_path / "ours.safetensors"
    cr.save({"w": cr.from_numpy(values), "empty": cr.zeros(0, 2), "scalar": cr.tensor(2.5)}, path)
    with safe_open(str(path), framework="numpy") as file:
        np.testing.assert_array_equal(file.get_tensor("w"), values)
        assert file.get_tensor("empty").shape == (0, 2) and file.get_tensor("scalar") == np.float32(2.5)
        assert "chainrule" in file.metadata()
    theirs = safetensors_numpy.save({"w": values, "t": np.ascontiguousarray(values.T)})
    loaded = cr.load(io.BytesIO(theirs))
    np.testing.assert_array_equal(loaded["w"].numpy(), values)
    np.testing.assert_array_equal(loaded["t"].numpy(), values.T)


def test_bfloat16_safetensors_load_as_float32_with_a_warning():
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    values = torch.tensor([1.5, -2.25, 3.0e38, 1e-3]).to(torch.bfloat16)
    with pytest.warns(UserWarning, match="bfloat16.*float32"):
        loaded = cr.load(io.BytesIO(safetensors_torch.save({"w": values})))
    assert loaded["w"].dtype == cr.float32
    np.testing.assert_array_equal(loaded["w"].numpy(), values.float().numpy())


def test_atomic_writes_flush_the_folder_after_the_rename(tmp_path, monkeypatch):
    import os

    from chainrule.serialization import atomic

    synced = []
    real_fsync = os.fsync

    def recording_fsync(descriptor):
        synced.append(
            os.path.realpath(f"/proc/self/fd/{descriptor}") if os.path.exists("/proc/self/fd") else descriptor
        )
        return real_fsync(descriptor)

    monkeypatch.setattr(atomic.os, "fsync", recording_fsync)
    atomic.atomic_write_bytes(tmp_path / "sub" / "file.bin", b"payload")
    assert (tmp_path / "sub" / "file.bin").read_bytes() == b"payload"
    assert len(synced) == 2  # the temporary file's data, then the folder holding the rename
    if isinstance(synced[-1], str):
        assert synced[-1] == os.path.realpath(tmp_path / "sub")
