"""The benchmark suite (``chainrule bench``) and its modules run in --quick mode and report every workload.

No timing is asserted: the checks are that each workload has its row, that
every cell holds what its column promises, and that the report carries the
facts of the run and the command that made it.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys

import numpy as np
import pytest
from devices import ACCELERATORS

from chainrule.benchmarks import cli, report
from chainrule.benchmarks._timing import Summary, result_from_samples

HAS_TORCH = importlib.util.find_spec("torch") is not None

# Row labels each module reports, in order (a row's workload starts with its label, then a word break).
MODULE_ROWS = {
    "mlp_epoch": ["MLP 784-200-200-10 epoch", "MLP 784-800-10 epoch"],
    "lenet": ["LeNet-5 training"],
    "layers": ["Conv2d", "LSTM", "TransformerEncoderLayer"],
    "resnet": ["ResNet blocks"],
    "char_rnn": ["char-RNN LSTM"],
    "gpt": ["GPT training step"],
    "vae": ["VAE training step"],
    "op_overhead": [
        "tiny ops fwd+bwd, n=1",
        "tiny ops fwd+bwd, n=100",
        "tiny ops fwd no_grad, n=1",
        "tiny ops fwd no_grad, n=100",
    ],
    "memory": ["MLP 784-200-200-10 epoch peak RSS", "GPT training step peak RSS"],
}
FLOORED = ("MLP", "tiny ops fwd no_grad")  # the rows with a NumPy floor
FACTS = ("Date", "Versions", "CPU", "BLAS (NumPy)", "OpenBLAS kernel", "OPENBLAS_CORETYPE", "Threads", "Machine load")


def parse_table(text: str) -> list[dict[str, str]]:
    """The rows of the one Markdown table in ``text``, as dicts keyed by the header; checks the header."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header, rule, *rows = ([cell.strip() for cell in line.strip("|").split("|")] for line in lines)
    assert tuple(header) == report.HEADERS
    assert all(set(cell) == {"-"} for cell in rule)
    return [dict(zip(header, row, strict=True)) for row in rows]


def median(cell: str) -> float:
    """The median of a 'median (min-max)' cell; it must be a positive number."""
    value = float(cell.split()[0])
    assert value > 0, cell
    return value


def check_row(row: dict[str, str], torch_ran: bool) -> None:
    """Every cell of ``row`` says what its column promises, and 'met' follows from the ratios."""
    median(row["chainrule"])
    assert row["unit"] in {"s", "ms", "ms/batch", "us/op", "MB"}
    frameworks = [("torch", "cr/torch", torch_ran), ("NumPy floor", "cr/numpy", row["workload"].startswith(FLOORED))]
    for column, ratio, ran in frameworks:
        if ran:
            median(row[column])
            assert float(row[ratio]) > 0
        else:
            assert row[column] == row[ratio] == "-", row
    if row["target"] == "-":
        assert row["met"] == "-"
        return
    bounds = dict(bound.split(" <= ") for bound in row["target"].split(", "))
    if not torch_ran:
        assert row["met"] == "-"
        return
    if any(abs(float(row[ratio]) - float(limit)) < 0.006 for ratio, limit in bounds.items()):
        return  # a cell's two decimals cannot tell on which side of its bound the ratio lies
    met = all(float(row[ratio]) <= float(limit) for ratio, limit in bounds.items())
    assert row["met"] == ("yes" if met else "no"), row


def check_rows(rows: list[dict[str, str]], modules: list[str], torch_ran: bool) -> None:
    """``rows`` are exactly the rows of ``modules``, in order, each well formed."""
    expected = [label for module in modules for label in MODULE_ROWS[module]]
    assert len(rows) == len(expected), [row["workload"] for row in rows]
    for row, label in zip(rows, expected):
        assert re.match(re.escape(label) + r"\b", row["workload"]), (row["workload"], label)
        check_row(row, torch_ran)


def test_chainrule_bench_quick_reports_every_workload_and_writes_the_document(tmp_path):
    output = tmp_path / "bench.md"
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", "bench", "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    check_rows(parse_table(done.stdout), list(MODULE_ROWS), torch_ran=HAS_TORCH)
    document = output.read_text()
    assert document == done.stdout
    above, below = document.split("\n|", 1)[0], document.rsplit("|\n", 1)[1]
    for fact in FACTS:
        assert f"\n- {fact}" in above
    assert f"Command: `chainrule bench --quick --output {output}`" in below
    assert not [path for path in tmp_path.iterdir() if path != output]  # no temporary file left behind


@pytest.mark.parametrize("module", list(MODULE_ROWS))
def test_each_module_runs_alone_in_quick_mode(module, capsys):
    main = importlib.import_module(f"chainrule.benchmarks.{module}").main
    assert main(["--quick"]) == 0
    out = capsys.readouterr().out
    check_rows(parse_table(out), [module], torch_ran=HAS_TORCH)
    assert f"Command: `python -m chainrule.benchmarks.{module} --quick`" in out


def test_no_torch_leaves_the_torch_columns_empty(capsys, tmp_path):
    raw = tmp_path / "raw.json"
    assert cli.main(["--quick", "--no-torch", "--only", "ops,mlp", "--rounds", "2", "--json", str(raw)]) == 0
    check_rows(parse_table(capsys.readouterr().out), ["mlp_epoch", "op_overhead"], torch_ran=False)
    assert '"samples"' in raw.read_text()


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch")
def test_the_memory_of_each_framework_is_its_own():
    # A child started from a process holding PyTorch must not report PyTorch's memory.
    from chainrule.benchmarks import memory
    from chainrule.benchmarks.runner import Options, configure

    mlp, gpt = memory.run(Options(quick=True, torch=configure(1, True)))
    assert mlp.summaries["numpy"].median < mlp.summaries["torch"].median
    assert gpt.summaries["chainrule"].median < gpt.summaries["torch"].median


def test_a_failing_workload_costs_only_its_own_rows(capsys):
    from chainrule.benchmarks import op_overhead, runner

    def broken(options):
        raise RuntimeError("this workload is broken")

    args = cli.build_parser().parse_args(["--quick", "--no-torch", "--rounds", "1"])
    assert runner.run_and_report([("broken", broken), ("ops", op_overhead.run)], args, "chainrule bench") == 1
    captured = capsys.readouterr()
    check_rows(parse_table(captured.out), ["op_overhead"], torch_ran=False)
    assert "this workload is broken" in captured.err
    assert "- Failed (no rows, exit status 1): broken" in captured.out


def test_only_rejects_unknown_workloads(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--only", "mlp,nope"])
    assert exit_info.value.code == 2
    assert "nope" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch")
def test_lenet_models_start_identical():
    import torch

    import chainrule as cr
    from chainrule.benchmarks import lenet

    X, _, batches = lenet.images(1, quick=True)
    ours, theirs = lenet.models(torch)
    x = X[batches[0]]
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(cr.from_numpy(x)).detach().numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "ratios, met",
    [
        ({"torch": 0.8, "numpy": 1.15}, "yes"),
        ({"torch": 0.81, "numpy": 1.0}, "no"),
        ({"torch": 0.5, "numpy": 1.2}, "no"),
        ({"numpy": 1.0}, "-"),
    ],
)
def test_target_met(ratios, met):
    assert report.Target(0.8, 1.15).met(ratios) == met


def test_result_pairs_ratios_round_by_round():
    samples = {"chainrule": [2.0, 4.0, 9.0], "torch": [1.0, 4.0, 3.0], "numpy": [2.0, 2.0, 3.0]}
    result = result_from_samples("w", "ms", samples, scale=1e3)
    assert result.summaries["chainrule"] == Summary(2000.0, 4000.0, 9000.0, 3)
    assert result.ratios == {"torch": 2.0, "numpy": 2.0}  # medians of (2, 1, 3) and (1, 2, 3)
    assert report.table_row(result)[1] == "4000 (2000-9000)"


def test_write_atomic_replaces_the_file(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old")
    report.write_atomic(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_openblas_kernel_names_are_found():
    for library, core, threads in report.openblas_kernels():  # NumPy's OpenBLAS, where it is one
        assert core != "unknown", library
        assert threads is not None and threads >= 1


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch")
def test_gpt_and_vae_models_start_identical_in_both_frameworks():
    import torch

    import chainrule as cr
    from chainrule.benchmarks import gpt, vae

    inputs, targets = gpt.tokens(gpt.QUICK)
    ours, theirs = gpt.models(gpt.QUICK, torch)
    ours.eval(), theirs.eval()  # no dropout: the losses must agree
    expected = theirs.loss(torch.tensor(inputs), torch.tensor(targets)).item()
    assert ours.loss(cr.tensor(inputs), cr.tensor(targets)).item() == pytest.approx(expected, rel=1e-5)

    ours, theirs = vae.build_vae(cr), vae.build_vae(torch)
    ours.load_state_dict({name: value.detach().numpy() for name, value in theirs.state_dict().items()})
    images = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    mu, _ = theirs.encode(torch.tensor(images))
    our_mu, _ = ours.encode(cr.tensor(images))
    np.testing.assert_allclose(our_mu.detach().numpy(), mu.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        ours.decode(our_mu).detach().numpy(), theirs.decode(mu).detach().numpy(), rtol=1e-4, atol=1e-5
    )


# ---------------------------------------------------------------------- the GPU benchmarks, on the fake device
@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_gpu_benchmark_trains_on_a_device_as_torch_does_on_the_cpu(accelerator):
    """The workloads of ``chainrule.benchmarks.gpu`` give PyTorch's losses (same weights, same batches)."""
    torch = pytest.importorskip("torch")
    import chainrule as cr
    from chainrule.benchmarks import gpu

    rng = np.random.default_rng(0)
    images, labels = rng.random((3 * gpu.BATCH, 784), dtype=np.float32), rng.integers(0, 10, 3 * gpu.BATCH)
    for build, shape in [(gpu._mlp, (-1, 784)), (gpu._lenet, (-1, 1, 28, 28))]:
        theirs = build(torch)
        ours = build(cr)
        gpu._copy_weights(ours, theirs)
        our_loss = gpu.classifier_epoch(cr, ours, images.reshape(shape), labels, 3, accelerator)()
        their_loss = gpu.classifier_epoch(torch, theirs, images.reshape(shape), labels, 3, "cpu")()
        assert abs(our_loss - their_loss) < 1e-4 * max(1.0, abs(their_loss))
        assert all(p.device.type == cr.device(accelerator).type for p in ours.parameters())


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_gpu_benchmark_quick_run_reports_every_workload(accelerator, capsys):
    from chainrule.benchmarks import gpu

    assert gpu.main(["--device", accelerator, "--quick", "--no-torch"]) == 0
    out = capsys.readouterr().out
    for workload in ("MLP epoch", "LeNet-5", "GPT step"):
        assert re.search(rf"\| {workload}.*\| \d+\.\d\d +\| - ", out), out
