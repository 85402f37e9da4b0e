"""OpenBLAS control: kernels and the decision to ask for the AVX-512 ones (chainrule.backend.openblas)."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.backend import openblas

AVX512 = sorted(openblas.AVX512_FLAGS)


def test_cpu_flags_reads_the_first_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2 avx512f\n\nflags : other\n")
    assert openblas.cpu_flags(str(cpuinfo)) == {"fpu", "sse2", "avx2", "avx512f"}
    assert openblas.cpu_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.parametrize(
    "flags, core, environment, expected",
    [
        (AVX512 + ["avx2"], "Haswell", {}, True),  # the CPU has AVX-512, OpenBLAS runs AVX2 kernels
        (AVX512, "Zen", {}, True),
        (AVX512, "SkylakeX", {}, False),  # already the AVX-512 kernels
        (AVX512, "Cooperlake", {}, False),
        (AVX512, "Haswell", {"OPENBLAS_CORETYPE": "Haswell"}, False),  # the user chose
        (["avx2", "avx512f"], "Haswell", {}, False),  # AVX-512 only in part (e.g. hidden by a VM)
        (["avx2"], "Haswell", {}, False),
    ],
)
def test_avx512_kernels_are_asked_for_only_when_the_cpu_has_them_and_nobody_chose(flags, core, environment, expected):
    kernels = [("/lib/libopenblas.so", core, 1)]
    assert openblas.should_use_avx512_kernels(flags, kernels, environment) is expected


def test_no_openblas_means_nothing_to_change():
    assert openblas.should_use_avx512_kernels(AVX512, [], {}) is False


def test_relaunch_restarts_once_with_the_variable_set(monkeypatch):
    calls = []
    monkeypatch.setattr(openblas, "cpu_flags", lambda: frozenset(AVX512))
    monkeypatch.setattr(openblas, "loaded_kernels", lambda: [("/lib/libopenblas.so", "Haswell", 1)])
    monkeypatch.setattr(openblas.os, "execv", lambda path, args: calls.append((path, args)))
    monkeypatch.setattr(openblas.os, "environ", {})  # a stand-in, so the real environment stays untouched
    openblas.relaunch_with_avx512_kernels(["train", "--epochs", "1"])
    assert calls and calls[0][1][1:] == ["-m", "chainrule", "train", "--epochs", "1"]
    assert openblas.os.environ["OPENBLAS_CORETYPE"] == "SkylakeX"
    openblas.relaunch_with_avx512_kernels(["train"])  # the restarted process: the variable is set now
    assert len(calls) == 1


def test_this_process_reports_its_openblas_kernel():
    np.ones((2, 2)) @ np.ones((2, 2))
    kernels = openblas.loaded_kernels()
    if not kernels:
        pytest.skip("NumPy here does not use OpenBLAS")
    path, core, threads = kernels[0]
    assert "openblas" in path.lower() and core and core != "unknown"
    assert threads is None or threads >= 1
