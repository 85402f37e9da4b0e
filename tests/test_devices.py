"""Devices and backend switches: the answers PyTorch gives on this machine, and the boilerplate that asks.

PyTorch (a CPU build) is the oracle, so these compare against a machine
without CUDA; where CuPy sees a GPU the comparisons that assume none skip.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

no_gpu = pytest.mark.skipif(cr.cuda.is_available(), reason="compares with PyTorch's CPU build (no GPU)")


# ---------------------------------------------------------------------- cr.device
DEVICE_SPECS = [("cpu",), ("cpu", 0), ("cuda",), ("cuda", 0), ("cuda:0",), ("cuda:3",), ("mps",)]


@pytest.mark.parametrize("spec", DEVICE_SPECS, ids=str)
def test_device_reads_like_torch(spec):
    ours, theirs = cr.device(*spec), torch.device(*spec)
    assert (ours.type, ours.index, str(ours), repr(ours)) == (theirs.type, theirs.index, str(theirs), repr(theirs))
    assert cr.device(ours) == ours and hash(cr.device(ours)) == hash(ours)


@pytest.mark.parametrize(
    "spec", [("gpu",), ("cuda:-1",), ("cuda:x",), ("cuda:0", 1), ("cuda", -1), ("cuda:0", 0)], ids=str
)
def test_bad_device_strings_raise_runtime_error_like_torch(spec):
    with pytest.raises(RuntimeError):
        torch.device(*spec)
    with pytest.raises(RuntimeError, match="device"):
        cr.device(*spec)


@no_gpu
def test_an_int_device_needs_an_accelerator():
    with pytest.raises(RuntimeError):
        torch.device(0)
    with pytest.raises(RuntimeError, match="accelerator"):
        cr.device(0)


def test_device_equality_and_hashing():
    assert cr.device("cuda", 0) == cr.device("cuda:0") != cr.device("cuda")
    assert len({cr.device("cpu"), cr.device("cpu"), cr.device("cuda:0"), cr.device("cuda", 0)}) == 2
    # unlike torch.device, a device also equals its string (and never raises on a bad one)
    assert cr.device("cuda:0") == "cuda:0" and cr.device("cpu") != "cuda" and cr.device("cpu") != "gpu"
    assert cr.device("cpu") != 3


def test_cpu_device_moves_tensors_and_modules():
    device = cr.device("cpu")
    x = cr.zeros(2, 3, device=device)
    assert x.device == device and x.to(device) is x and x.to(device, cr.float64).dtype == cr.float64
    model = cr.nn.Linear(3, 2).to(device)
    assert all(p.device == device for p in model.parameters())
    assert model(x).device == device


@no_gpu
def test_cuda_device_without_cuda_raises_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        cr.zeros(2, device=cr.device("cuda"))
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        cr.ones(2).to("cuda:0")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        cr.nn.Linear(2, 2).cuda()


# ---------------------------------------------------------------------- the boilerplate
BOILERPLATE = [
    'device = torch.device("cuda" if torch.cuda.is_available() else "mps" '
    'if torch.backends.mps.is_available() else "cpu")',
    'device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"',
    'device = "cuda" if torch.cuda.is_available() else "cpu"\n'
    "torch.manual_seed(0)\n"
    "torch.cuda.manual_seed(0)\n"
    "torch.cuda.manual_seed_all(0)\n"
    "torch.backends.cudnn.deterministic = True\n"
    "torch.backends.cudnn.benchmark = False\n"
    "x = torch.zeros(2, 3, device=device).to(device)",
]


@no_gpu
@pytest.mark.parametrize("program", BOILERPLATE, ids=["cuda-mps-cpu", "accelerator", "seeding"])
def test_device_selection_boilerplate_runs_unchanged(program):
    flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        answers = {}
        for lib in (cr, torch):
            scope = {"torch": lib}
            exec(program, scope)
            answers[lib.__name__] = str(scope["device"])
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags
        cr.backends.cudnn.deterministic, cr.backends.cudnn.benchmark = False, False
    assert answers["chainrule"] == answers["torch"] == "cpu"


# ---------------------------------------------------------------------- cr.cuda, cr.accelerator
SAFE_QUERIES = [
    ("cuda.is_available", lambda lib: lib.cuda.is_available()),
    ("cuda.device_count", lambda lib: lib.cuda.device_count()),
    ("cuda.manual_seed", lambda lib: lib.cuda.manual_seed(1)),
    ("cuda.manual_seed_all", lambda lib: lib.cuda.manual_seed_all(1)),
    ("cuda.empty_cache", lambda lib: lib.cuda.empty_cache()),
    ("cuda.is_initialized", lambda lib: lib.cuda.is_initialized()),
    ("cuda.memory_allocated", lambda lib: lib.cuda.memory_allocated()),
    ("cuda.max_memory_allocated", lambda lib: lib.cuda.max_memory_allocated()),
    ("cuda.memory_reserved", lambda lib: lib.cuda.memory_reserved()),
    ("cuda.max_memory_reserved", lambda lib: lib.cuda.max_memory_reserved()),
    ("cuda.memory_stats", lambda lib: dict(lib.cuda.memory_stats())),
    ("accelerator.is_available", lambda lib: lib.accelerator.is_available()),
    ("accelerator.current_accelerator", lambda lib: lib.accelerator.current_accelerator()),
    ("accelerator.device_count", lambda lib: lib.accelerator.device_count()),
    ("backends.mps.is_available", lambda lib: lib.backends.mps.is_available()),
    ("backends.mps.is_built", lambda lib: lib.backends.mps.is_built()),
    ("backends.cuda.is_built", lambda lib: lib.backends.cuda.is_built()),
    ("backends.cudnn.is_available", lambda lib: lib.backends.cudnn.is_available()),
    ("backends.cudnn.version", lambda lib: lib.backends.cudnn.version()),
    ("are_deterministic_algorithms_enabled", lambda lib: lib.are_deterministic_algorithms_enabled()),
    ("get_float32_matmul_precision", lambda lib: lib.get_float32_matmul_precision()),
]


@no_gpu
@pytest.mark.parametrize("name, query", SAFE_QUERIES, ids=[name for name, _ in SAFE_QUERIES])
def test_safe_queries_answer_as_torch_does(name, query):
    assert query(cr) == query(torch)


NEEDS_A_DEVICE = [
    lambda lib: lib.cuda.current_device(),
    lambda lib: lib.cuda.synchronize(),
    lambda lib: lib.cuda.get_device_name(),
    lambda lib: lib.cuda.get_device_name(0),
    lambda lib: lib.cuda.set_device(0),
    lambda lib: lib.cuda.reset_peak_memory_stats(),
    lambda lib: lib.accelerator.current_device_index(),
    lambda lib: lib.accelerator.synchronize(),
    lambda lib: lib.accelerator.memory_allocated(),
    lambda lib: lib.accelerator.max_memory_allocated(),
    lambda lib: lib.accelerator.memory_reserved(),
    lambda lib: lib.accelerator.reset_peak_memory_stats(),
    lambda lib: lib.accelerator.empty_cache(),
    lambda lib: lib.accelerator.set_device_index(0),
]


@no_gpu
@pytest.mark.parametrize("call", NEEDS_A_DEVICE)
def test_calls_that_need_a_device_raise_where_torch_raises(call):
    with pytest.raises((AssertionError, RuntimeError, AttributeError)):  # what torch's CPU build raises
        call(torch)
    with pytest.raises(RuntimeError, match="not available|none is available"):
        call(cr)


needs_gpu = pytest.mark.skipif(not cr.cuda.is_available(), reason="needs CuPy and an NVIDIA GPU")


@needs_gpu
def test_cuda_device_queries_on_a_gpu():
    count = cr.cuda.device_count()
    assert count >= 1 and cr.accelerator.device_count() == count and cr.cuda.is_initialized()
    index = cr.cuda.current_device()
    assert 0 <= index < count and cr.accelerator.current_device_index() == index
    name = cr.cuda.get_device_name()
    assert isinstance(name, str) and name == cr.cuda.get_device_name(f"cuda:{index}") and name
    cr.cuda.set_device(index)
    assert cr.cuda.current_device() == index
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        cr.cuda.set_device(count)
    cr.cuda.synchronize()
    cr.accelerator.synchronize()


@needs_gpu
def test_cuda_memory_figures_follow_allocations():
    cr.cuda.synchronize()
    cr.cuda.empty_cache()
    cr.cuda.reset_peak_memory_stats()
    before = cr.cuda.memory_allocated()
    assert cr.cuda.max_memory_allocated() == before <= cr.cuda.memory_reserved()
    size = 64 * 2**20
    x = cr.empty(size // 4, dtype=cr.float32, device="cuda")
    held = cr.cuda.memory_allocated()
    assert held >= before + size and cr.cuda.memory_reserved() >= held
    del x
    assert cr.cuda.memory_allocated() == before  # back in the pool's cache, not held by an array
    assert cr.cuda.max_memory_allocated() >= before + size  # the peak remembers it
    assert cr.cuda.memory_stats()["allocated_bytes.all.peak"] == cr.cuda.max_memory_allocated()
    cr.cuda.reset_peak_memory_stats()
    assert cr.cuda.max_memory_allocated() == before
    cr.cuda.empty_cache()
    assert cr.cuda.memory_reserved() < size


@needs_gpu
def test_cuda_manual_seed_makes_device_draws_reproducible():
    cr.cuda.manual_seed_all(5)
    first = cr.randn(4, device="cuda")
    cr.cuda.manual_seed(5)
    again = cr.randn(4, device="cuda")
    assert first.device.type == "cuda"
    np.testing.assert_array_equal(first.cpu().numpy(), again.cpu().numpy())


# ---------------------------------------------------------------------- flags
FLAGS = [
    ("cudnn", "deterministic"),
    ("cudnn", "benchmark"),
    ("cudnn", "enabled"),
    ("cudnn", "allow_tf32"),
    ("cuda.matmul", "allow_tf32"),
]


def _namespace(lib, path: str):
    namespace = lib.backends
    for part in path.split("."):
        namespace = getattr(namespace, part)
    return namespace


@pytest.mark.parametrize("path, flag", FLAGS, ids=[f"{p}.{f}" for p, f in FLAGS])
def test_backend_flags_default_like_torch_and_are_settable(path, flag):
    ours, theirs = _namespace(cr, path), _namespace(torch, path)
    default = getattr(theirs, flag)
    assert getattr(ours, flag) == default
    try:
        setattr(ours, flag, not default)
        assert getattr(ours, flag) == (not default)
    finally:
        setattr(ours, flag, default)


def test_unknown_matmul_flag_is_an_attribute_error_like_torch():
    for lib in (cr, torch):
        with pytest.raises(AttributeError):
            lib.backends.cuda.matmul.no_such_flag  # noqa: B018


def test_num_threads_set_and_read_back():
    before = cr.get_num_threads()
    try:
        cr.set_num_threads(1)
        assert cr.get_num_threads() == 1
        a = np.ones((64, 64), dtype=np.float32)
        np.testing.assert_allclose((cr.tensor(a) @ cr.tensor(a)).numpy(), a @ a)
    finally:
        cr.set_num_threads(before)
    assert cr.get_num_threads() == before


@pytest.mark.parametrize("threads", [0, -2, 1.5])
def test_bad_thread_counts_raise_like_torch(threads):
    with pytest.raises(RuntimeError):
        torch.set_num_threads(threads)
    with pytest.raises(RuntimeError, match="set_num_threads"):
        cr.set_num_threads(threads)


def test_deterministic_algorithms_switch():
    try:
        cr.use_deterministic_algorithms(True, warn_only=True)
        assert cr.are_deterministic_algorithms_enabled() and cr.is_deterministic_algorithms_warn_only_enabled()
    finally:
        cr.use_deterministic_algorithms(False)
    assert not cr.are_deterministic_algorithms_enabled()
    for lib in (cr, torch):
        with pytest.raises(TypeError):
            lib.use_deterministic_algorithms("yes")


def test_float32_matmul_precision_is_accepted():
    try:
        cr.set_float32_matmul_precision("high")
        assert cr.get_float32_matmul_precision() == "high"
        with pytest.warns(UserWarning, match="no effect"):
            cr.set_float32_matmul_precision("fastest")
        assert cr.get_float32_matmul_precision() == "high"
    finally:
        cr.set_float32_matmul_precision("highest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.set_float32_matmul_precision("fastest")  # the oracle also ignores it
    assert torch.get_float32_matmul_precision() == "highest"
