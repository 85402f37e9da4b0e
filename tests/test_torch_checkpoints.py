"""cr.load on files written by torch.save: same values as torch.load, and no code from the file run.

PyTorch is the oracle: each file is written by ``torch.save`` and read back by
both ``torch.load`` and ``cr.load``; chainrule must agree on every value, on
which tensors share memory, and must refuse a pickle that names anything but
tensors and plain containers.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import subprocess
import warnings
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule.serialization import RefusedGlobalError, RefusedPickleError, UnreadableCheckpointError

torch = pytest.importorskip("torch")


def torch_save_bytes(obj, legacy: bool = False, protocol: int = 2) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy, pickle_protocol=protocol)
    return buffer.getvalue()


def rewrite_archive(data: bytes, change) -> bytes:
    """The zip ``data`` with each member's bytes replaced by ``change(name, bytes)`` (None drops it)."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for name in source.namelist():
            content = change(name, source.read(name))
            if content is not None:
                archive.writestr(name, content)
    return target.getvalue()


def assert_same(ours, theirs, where="checkpoint"):
    """``ours`` (from cr.load) holds what ``theirs`` (from torch.load) holds, tensor for tensor."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cr.Tensor), f"{where}: {type(ours).__name__} is not a tensor"
        expected = theirs.detach().float() if theirs.dtype == torch.bfloat16 else theirs.detach()
        assert ours.dtype == np.dtype(str(expected.dtype).removeprefix("torch.")), where
        assert ours.shape == tuple(expected.shape), where
        np.testing.assert_array_equal(ours.detach().numpy(), expected.numpy(), err_msg=where)
        assert ours.requires_grad == theirs.requires_grad, where
        assert isinstance(ours, cr.nn.Parameter) == isinstance(theirs, torch.nn.Parameter), where
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs), where
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        expected_type = cr.Size if isinstance(theirs, torch.Size) else type(theirs)
        assert type(ours) is expected_type and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, torch.dtype):
        assert ours == np.dtype(str(theirs).removeprefix("torch.")), where
    elif isinstance(theirs, torch.device):
        assert str(ours) == str(theirs), where
    else:
        assert type(ours) is type(theirs) and ours == theirs, where


# ---------------------------------------------------------------------- real models
def _batchnorm(lib):
    return lib.nn.Sequential(lib.nn.Conv2d(3, 4, 3), lib.nn.BatchNorm2d(4), lib.nn.ReLU())


def _transformer(lib):
    return lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)


MODELS = {
    "Linear": (lambda lib: lib.nn.Linear(5, 3), (4, 5)),
    "Conv2d": (lambda lib: lib.nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 7, 7)),
    "BatchNorm2d": (_batchnorm, (3, 3, 6, 6)),
    "LSTM": (lambda lib: lib.nn.LSTM(4, 5, num_layers=2, batch_first=True), (2, 6, 4)),
    "Embedding": (lambda lib: lib.nn.Embedding(10, 4), None),
    "TransformerEncoderLayer": (_transformer, (2, 5, 8)),
}


def _model_input(lib, shape):
    rng = np.random.default_rng(0)
    if shape is None:  # token indices
        return lib.tensor(rng.integers(0, 10, size=(3, 7)))
    return lib.tensor(rng.standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("name", list(MODELS))
def test_torch_state_dict_loads_into_the_same_chainrule_model(name, legacy, tmp_path):
    build, shape = MODELS[name]
    torch.manual_seed(0)
    theirs = build(torch)
    with torch.no_grad():  # a few training-mode passes give BatchNorm non-trivial running statistics
        for _ in range(2):
            theirs(_model_input(torch, shape))
    theirs.eval()
    path = tmp_path / f"{name}.pt"
    path.write_bytes(torch_save_bytes(theirs.state_dict(), legacy=legacy))

    state = cr.load(path)
    assert_same(state, torch.load(path))
    ours = build(cr)
    ours.load_state_dict(state, strict=True)
    ours.eval()
    with torch.no_grad():
        expected = theirs(_model_input(torch, shape))
    result = ours(_model_input(cr, shape))
    if isinstance(expected, tuple):  # LSTM: (output, (h, c))
        expected, result = expected[0], result[0]
    np.testing.assert_allclose(result.detach().numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_nested_training_checkpoint_from_a_file_object(protocol):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": 3,
        "history": [0.5, 0.25],
        "config": {"name": "run", "shape": torch.Size([2, 3]), "dtype": torch.float64, "device": torch.device("cpu")},
        "flags": (True, None, b"raw\x00\xff"),
        "plain": [{1, 2}, 1 + 2j, 2**70, -5, 1e-300],
        "weight_parameter": torch.nn.Parameter(torch.ones(2)),
    }
    data = torch_save_bytes(checkpoint, protocol=protocol)
    ours = cr.load(io.BytesIO(data))
    assert_same(ours, torch.load(io.BytesIO(data), weights_only=False))  # trusted: written just above
    assert isinstance(ours["config"]["shape"], cr.Size)
    assert ours["optimizer"]["state"][0]["step"].item() == 1.0


def test_training_resumes_from_a_torch_checkpoint():
    torch.manual_seed(0)
    theirs = torch.nn.Linear(3, 2)
    their_optimizer = torch.optim.Adam(theirs.parameters(), lr=0.01)
    theirs(torch.randn(4, 3)).sum().backward()
    their_optimizer.step()
    checkpoint = cr.load(
        io.BytesIO(torch_save_bytes({"model": theirs.state_dict(), "optimizer": their_optimizer.state_dict()}))
    )
    ours = cr.nn.Linear(3, 2)
    ours.load_state_dict(checkpoint["model"])
    our_optimizer = cr.optim.Adam(ours.parameters(), lr=0.5)
    our_optimizer.load_state_dict(checkpoint["optimizer"])  # the saved lr and Adam moments win
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    for model, optimizer, lib in ((theirs, their_optimizer, torch), (ours, our_optimizer, cr)):
        optimizer.zero_grad()
        model(lib.tensor(x)).sum().backward()
        optimizer.step()
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].detach().numpy(), value.numpy(), rtol=1e-6, err_msg=name)


# ---------------------------------------------------------------------- storages
def test_views_and_shared_storages_keep_their_values_and_share_memory():
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    saved = {
        "base": base,
        "transposed": base.t(),
        "row": base[2],  # storage offset 12
        "strided": base[1:, ::2],  # non-contiguous, offset
        "broadcast": base[0].expand(3, 6),  # stride 0
        "other": torch.arange(3),
    }
    data = torch_save_bytes(saved)
    ours, theirs = cr.load(io.BytesIO(data)), torch.load(io.BytesIO(data))
    assert_same(ours, theirs)
    arrays = {name: tensor.numpy() for name, tensor in ours.items()}
    for name in ("transposed", "row", "strided", "broadcast"):
        assert np.shares_memory(arrays["base"], arrays[name]), name
    assert not np.shares_memory(arrays["base"], arrays["other"])
    arrays["base"][2, 0] = -1.0  # written through one view, seen through the others
    assert ours["row"][0].item() == -1.0 and ours["transposed"][0, 2].item() == -1.0


def test_the_same_tensor_twice_is_one_tensor():
    weight = torch.ones(2, 2)
    ours = cr.load(io.BytesIO(torch_save_bytes({"encoder": weight, "decoder": weight})))
    assert ours["encoder"] is ours["decoder"]


DTYPES = ["float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "bool"]


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_storage_dtype(dtype, legacy):
    values = torch.tensor([[0, 1, 5], [3, 0, 2]]).to(getattr(torch, dtype))
    ours = cr.load(io.BytesIO(torch_save_bytes({"x": values, "t": values.t()}, legacy=legacy)))
    assert_same(ours, {"x": values, "t": values.t()})


def test_bfloat16_becomes_float32_with_a_warning():
    values = torch.tensor([1.5, -2.25, 3.0e38, 1e-3]).to(torch.bfloat16)
    with pytest.warns(UserWarning, match="bfloat16.*float32"):
        ours = cr.load(io.BytesIO(torch_save_bytes(values)))
    assert ours.dtype == cr.float32
    np.testing.assert_array_equal(ours.numpy(), values.float().numpy())


def test_big_endian_archive():
    values = {"f": torch.linspace(-1, 1, 5), "i": torch.arange(4), "h": torch.tensor([0.5, 2.0], dtype=torch.float16)}
    sizes = {"0": 4, "1": 8, "2": 2}  # the element size of each storage, in save order

    def to_big_endian(name, content):
        if name.endswith("/byteorder"):
            return b"big"
        key = name.rsplit("/", 1)[-1]
        if "/data/" in name:
            return np.frombuffer(content, dtype=f"<u{sizes[key]}").astype(f">u{sizes[key]}").tobytes()
        return content

    data = rewrite_archive(torch_save_bytes(values), to_big_endian)
    assert_same(cr.load(io.BytesIO(data)), values)


# ---------------------------------------------------------------------- devices
def _saved_on(obj, location: bytes = b"cuda:0") -> bytes:
    """torch.save bytes whose storages say they were on ``location`` (as a GPU machine writes them)."""
    recorded = b"X" + len(location).to_bytes(4, "little") + location  # BINUNICODE
    return rewrite_archive(
        torch_save_bytes(obj),
        lambda name, content: (
            content.replace(b"X\x03\x00\x00\x00cpu", recorded) if name.endswith("data.pkl") else content
        ),
    )


@pytest.mark.parametrize(
    "map_location",
    [
        "cpu",
        "device",
        {"cuda:0": "cpu"},
        lambda storage, location: storage,
    ],
    ids=["string", "device", "dict", "callable"],
)
def test_map_location_forms_bring_cuda_tensors_to_the_cpu(map_location):
    data = _saved_on({"w": torch.arange(6.0).reshape(2, 3)})
    theirs = torch.load(
        io.BytesIO(data), map_location=torch.device("cpu") if map_location == "device" else map_location
    )
    ours = cr.load(io.BytesIO(data), map_location=cr.device("cpu") if map_location == "device" else map_location)
    assert_same(ours, theirs)
    assert ours["w"].device == cr.device("cpu")


def test_cuda_tensors_come_to_the_cpu_when_cuda_is_absent():
    if cr.cuda.is_available():
        pytest.skip("a GPU is present")
    data = _saved_on({"w": torch.ones(2)})
    assert cr.load(io.BytesIO(data))["w"].device == "cpu"  # torch.load raises here instead
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        cr.load(io.BytesIO(data), map_location="cuda")
    for elsewhere in (b"mps", b"xla:0"):
        assert cr.load(io.BytesIO(_saved_on({"w": torch.ones(2)}, elsewhere)))["w"].device == "cpu"


# ---------------------------------------------------------------------- refusing code
MARKER = "chainrule-must-not-create-this"


class _SystemCall:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


class _Exec:
    def __reduce__(self):
        return (exec, (f"open({MARKER!r}, 'w').close()",))


class _Eval:
    def __reduce__(self):
        return (eval, (f"open({MARKER!r}, 'w')",))


class _Popen:
    def __reduce__(self):
        return (subprocess.Popen, (["touch", MARKER],))


class _Builtin(collections.OrderedDict):  # an allowed-looking container of a disallowed class
    pass


PAYLOADS = {
    "os.system": (_SystemCall, "posix.system" if os.name == "posix" else "nt.system"),
    "builtins.exec": (_Exec, "builtins.exec"),
    "builtins.eval": (_Eval, "builtins.eval"),
    "subprocess.Popen": (_Popen, "subprocess.Popen"),
    "subclass": (_Builtin, "_Builtin"),
}


def _pickle_archive(payload: bytes) -> bytes:
    """A torch.save-shaped zip whose data.pkl is ``payload``."""
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
    return target.getvalue()


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_a_pickle_that_calls_code_is_refused_and_runs_nothing(payload, protocol, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make, global_name = PAYLOADS[payload]
    state = {"weight": torch.ones(2), "attack": make()} if protocol == 2 else {"attack": make()}
    if protocol == 2:  # through torch.save itself, behind a real tensor
        data = torch_save_bytes(state)
    else:
        data = _pickle_archive(pickle.dumps(state, protocol=protocol))
    path = tmp_path / "attack.pt"
    path.write_bytes(data)
    assert issubclass(RefusedGlobalError, pickle.UnpicklingError)  # what torch.load raises
    with pytest.raises(RefusedGlobalError, match=f"attack.pt.*refused.*{global_name}"):
        cr.load(path, weights_only=False)
    assert not (tmp_path / MARKER).exists()


def test_a_whole_torch_module_is_refused_with_advice():
    data = torch_save_bytes(torch.nn.Sequential(torch.nn.Linear(2, 2)))
    with pytest.raises(RefusedGlobalError, match=r"torch.nn.modules.container.Sequential.*model.state_dict\(\)"):
        cr.load(io.BytesIO(data))


def test_allowed_globals_cannot_be_misused():
    # BUILD (attribute setting) on anything but an OrderedDict, and REDUCE on a non-callable stand-in
    build_on_list = b"\x80\x02]}X\x01\x00\x00\x00aK\x01sb."  # [], {"a": 1}, BUILD
    with pytest.raises(RefusedPickleError, match="refused BUILD of a list"):
        cr.load(io.BytesIO(_pickle_archive(build_on_list)))
    reduce_dtype = b"\x80\x02ctorch\nfloat32\n)R."
    with pytest.raises(RefusedPickleError, match="refused REDUCE"):
        cr.load(io.BytesIO(_pickle_archive(reduce_dtype)))


class _TensorOfAString:
    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, ("not a storage", 0, (1,), (1,), False, collections.OrderedDict()))


@pytest.mark.parametrize(
    "payload, message",
    [
        (pickle.dumps({"a": [1, 2, 3]}, protocol=2)[:-3], "ends early"),
        (pickle.dumps({"a": [1, 2, 3]}, protocol=2).replace(b"]", b"\xff", 1), "unsupported pickle instruction"),
        (pickle.dumps(_TensorOfAString(), protocol=2), "_rebuild_tensor_v2 of a str"),
    ],
    ids=["truncated", "unknown-instruction", "bad-arguments"],
)
def test_a_malformed_pickle_is_an_unreadable_file(payload, message):
    with pytest.raises(UnreadableCheckpointError, match=f"<BytesIO>.*{message}.*truncated or corrupt"):
        cr.load(io.BytesIO(_pickle_archive(payload)))


def test_absurdly_deep_nesting_is_an_unreadable_file():
    payload = b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."  # a list in a list in ... 100,000 deep
    with pytest.raises(UnreadableCheckpointError, match="nests containers too deeply"):
        cr.load(io.BytesIO(_pickle_archive(payload)))


def test_a_tensor_reaching_past_its_storage_is_refused():
    data = torch_save_bytes(torch.arange(4.0))
    # the storage of 4 floats claims to hold a tensor of 40: size (4,) -> (40,)
    data = rewrite_archive(
        data,
        lambda name, content: content.replace(b"K\x04\x85", b"K\x28\x85") if name.endswith("data.pkl") else content,
    )
    with pytest.raises(UnreadableCheckpointError, match="reaches element 39 of storage 0"):
        cr.load(io.BytesIO(data))


# ---------------------------------------------------------------------- damaged files
def test_truncated_archive_gives_a_clear_error(tmp_path):
    data = torch_save_bytes({"w": torch.ones(100)})
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableCheckpointError, match="cut.pt is not a complete torch.save archive.*truncated"):
        cr.load(path)
    with pytest.raises(RuntimeError):  # what torch.load raises, too
        cr.load(path)


def test_corrupted_storage_fails_its_checksum(tmp_path):
    data = bytearray(torch_save_bytes({"w": torch.full((64,), 3.0)}))
    payload = np.full(64, 3.0, dtype=np.float32).tobytes()
    start = bytes(data).index(payload)
    data[start + 10] ^= 0xFF
    path = tmp_path / "flipped.pt"
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableCheckpointError, match="flipped.pt.*(CRC|corrupt)"):
        cr.load(path)


def test_missing_storage_is_named():
    data = rewrite_archive(torch_save_bytes({"w": torch.ones(2)}), lambda n, c: None if "/data/" in n else c)
    with pytest.raises(UnreadableCheckpointError, match="storage .*data/0 is missing"):
        cr.load(io.BytesIO(data))


def test_truncated_legacy_file():
    data = torch_save_bytes({"w": torch.ones(100)}, legacy=True)
    with pytest.raises(UnreadableCheckpointError, match="truncated or corrupt"):
        cr.load(io.BytesIO(data[:-40]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cr.load(io.BytesIO(data))["w"].tolist() == [1.0] * 100
