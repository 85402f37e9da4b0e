"""chainrule.distributed and DistributedDataParallel, run under real mpiexec in subprocesses.

The central check is PyTorch's ``_test_DDP_niter``: K ranks each given 1/K of a
global batch end with the parameters of one process trained on the whole
batch; the negative control (no gradient averaging) shows the check can fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist

SCRIPTS = Path(__file__).parent / "mpi"
HAVE_MPI = shutil.which("mpiexec") is not None and dist.is_mpi_available()
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason='MPI is not installed (pip install "chainrule[mpi]")')


def mpi_environment() -> dict:
    env = dict(os.environ)
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",  # more ranks than cores
        OMPI_MCA_btl="self,vader,tcp",
        OPENBLAS_NUM_THREADS="1",
    )
    for name in ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMIX_SIZE"):
        env.pop(name, None)
    return env


def run(args: list[str], ranks: int | None, timeout: float = 120, env_extra: dict | None = None):
    command = [sys.executable, *args] if ranks is None else ["mpiexec", "-n", str(ranks), sys.executable, *args]
    env = mpi_environment()
    env.update(env_extra or {})
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def train(tmp_path, ranks, model, optimizer, steps=6, extra=(), env_extra=None) -> dict:
    out = tmp_path / f"{model}-{optimizer}-{ranks}-{'-'.join(extra)}.npz"
    result = run(
        [str(SCRIPTS / "ddp_train.py"), model, optimizer, str(steps), str(out), *extra], ranks, env_extra=env_extra
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with np.load(out) as saved:
        return {key: saved[key] for key in saved.files}


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 4])
@pytest.mark.parametrize("model, optimizer", [("mlp", "sgd"), ("mlp", "adam"), ("cnn", "sgd"), ("cnn", "adam")])
def test_k_ranks_on_shards_equal_one_process_on_the_whole_batch(tmp_path, ranks, model, optimizer):
    single = train(tmp_path, None, model, optimizer)
    parallel = train(tmp_path, ranks, model, optimizer)
    for key in single:
        np.testing.assert_allclose(parallel[key], single[key], rtol=2e-5, atol=2e-6, err_msg=key)


@needs_mpi
def test_without_averaging_the_ranks_do_not_match_one_process(tmp_path):
    single = train(tmp_path, None, "mlp", "sgd")
    unsynced = train(tmp_path, 2, "mlp", "sgd", extra=("--no-sync",))
    worst = max(np.abs(unsynced[key] - single[key]).max() for key in single)
    assert worst > 1e-3, "the equivalence check would pass without any gradient averaging"


@needs_mpi
def test_a_parameter_unused_on_some_ranks_neither_deadlocks_nor_drifts(tmp_path):
    single = train(tmp_path, None, "unused", "sgd", env_extra={"REFERENCE_WORLD": "2"})
    parallel = train(tmp_path, 2, "unused", "sgd")
    for key in single:
        np.testing.assert_allclose(parallel[key], single[key], rtol=2e-5, atol=2e-6, err_msg=key)


RAISING = """
import chainrule as cr, chainrule.distributed as dist, time
dist.init_process_group("mpi")
if dist.get_rank() == 1:
    raise ValueError("rank one fails on purpose")
t = cr.ones(3)
dist.all_reduce(t)   # rank 0 would wait here forever without the abort
time.sleep(60)
"""

COLLECTIVES = """
import chainrule as cr, chainrule.distributed as dist
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
t = cr.tensor([float(rank + 1), 2.0])
dist.all_reduce(t)
assert t.tolist() == [world * (world + 1) / 2, 2.0 * world], t
m = cr.tensor([float(rank)]); dist.all_reduce(m, op=dist.ReduceOp.MAX); assert m.item() == world - 1
a = cr.tensor([float(rank)]); dist.all_reduce(a, op=dist.ReduceOp.AVG); assert abs(a.item() - (world - 1) / 2) < 1e-6
b = cr.full((2,), float(rank)); dist.broadcast(b, src=world - 1); assert b.tolist() == [world - 1.0] * 2
parts = [cr.zeros(2) for _ in range(world)]; dist.all_gather(parts, cr.full((2,), float(rank)))
assert [p.tolist() for p in parts] == [[float(r)] * 2 for r in range(world)]
objects = [None] * world; dist.all_gather_object(objects, {"rank": rank}); assert objects == [{"rank": r} for r in range(world)]
work = dist.all_reduce(cr.ones(4), async_op=True); work.wait()
dist.barrier()
print("ok", rank, world)
"""


@needs_mpi
def test_a_rank_that_raises_ends_the_whole_job_with_its_traceback(tmp_path):
    script = tmp_path / "raising.py"
    script.write_text(RAISING)
    result = run([str(script)], 2, timeout=60)
    assert result.returncode != 0
    assert "rank one fails on purpose" in result.stderr and "[rank 1]" in result.stderr


@needs_mpi
@pytest.mark.parametrize("ranks", [1, 3])
def test_collectives_under_mpiexec(tmp_path, ranks):
    script = tmp_path / "collectives.py"
    script.write_text(COLLECTIVES)
    result = run([str(script)], ranks, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(line for line in result.stdout.splitlines() if line.startswith("ok")) == [
        f"ok {r} {ranks}" for r in range(ranks)
    ]


def test_without_mpiexec_the_group_is_a_world_of_one():
    result = subprocess.run(
        [sys.executable, "-c", COLLECTIVES + "import sys; assert 'mpi4py' not in sys.modules"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in mpi_environment().items() if k != "WORLD_SIZE"},
    )
    assert result.returncode == 0, result.stderr
    assert "ok 0 1" in result.stdout


def test_importing_chainrule_does_not_import_mpi4py():
    result = subprocess.run(
        [sys.executable, "-c", "import chainrule, chainrule.distributed, sys; print('mpi4py' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr


def test_errors_name_the_function_and_the_fix(monkeypatch):
    dist.destroy_process_group()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init_process_group("carrier-pigeon")
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(RuntimeError, match="mpiexec -n K"):
        dist.init_process_group()
    monkeypatch.delenv("WORLD_SIZE")
    dist.init_process_group()
    try:
        with pytest.raises(RuntimeError, match="already initialised"):
            dist.init_process_group()
        with pytest.raises(ValueError, match="all_gather: tensor_list has 2 tensors but the world has 1"):
            dist.all_gather([cr.zeros(1), cr.zeros(1)], cr.zeros(1))
        with pytest.raises(ValueError, match="contiguous"):
            dist.all_reduce(cr.zeros(3, 4).t())
    finally:
        dist.destroy_process_group()


def train_command(out, *extra) -> list[str]:
    return [
        "-m", "chainrule", "train", "--dataset", "digits", "--model", "mlp", "--hidden", "32", "--epochs", "2",
        "--batch-size", "60", "--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9", "--schedule", "cosine",
        "--out", str(out), "--quiet", *extra,
    ]  # fmt: skip


def final_parameters(run_dir) -> dict:
    from chainrule.training import load_checkpoint, resolve_checkpoint

    state = load_checkpoint(resolve_checkpoint(str(run_dir)))
    return {key: np.asarray(value) for key, value in state["model"].items()}


@needs_mpi
def test_chainrule_train_on_two_processes_matches_one_process(tmp_path):
    single = run(train_command(tmp_path / "one"), None, timeout=300)
    assert single.returncode == 0, single.stderr
    double = run(train_command(tmp_path / "two"), 2, timeout=300)
    assert double.returncode == 0, double.stderr
    assert double.stdout.count("Done:") == 1  # rank 0 alone reports
    ours, reference = final_parameters(tmp_path / "two"), final_parameters(tmp_path / "one")
    assert ours.keys() == reference.keys()
    for key in reference:
        np.testing.assert_allclose(ours[key], reference[key], rtol=1e-4, atol=1e-5, err_msg=key)
    # Only rank 0 wrote: one metrics log, one set of checkpoints.
    assert (tmp_path / "two" / "metrics.jsonl").read_text().count('"event": "epoch"') == 2


@needs_mpi
def test_chainrule_train_refuses_a_batch_that_does_not_divide_by_the_processes(tmp_path):
    command = train_command(tmp_path / "odd")
    command[command.index("--batch-size") + 1] = "61"
    result = run(command, 2, timeout=120)
    assert result.returncode == 2
    assert "must divide by the 2 processes" in result.stderr


@needs_mpi
def test_ctrl_c_under_mpiexec_leaves_one_checkpoint_that_resumes_exactly(tmp_path):
    epochs = ["--epochs", "30"]
    reference = run(train_command(tmp_path / "ref") + epochs, None, timeout=300)
    assert reference.returncode == 0, reference.stderr
    # mpiexec answers Ctrl-C with SIGKILL a quarter of a second after SIGTERM; on a loaded
    # machine that kill can reach rank 0's checkpoint writer first. Two tries, then it fails.
    for attempt in range(2):
        out = tmp_path / f"stopped{attempt}"
        expected_progress = interrupt_under_mpiexec(out, epochs)
        if expected_progress is not None:
            break
    assert expected_progress is not None, "rank 0 recorded no interrupt, twice"
    assert expected_progress < (30, 0), "the run ended before the interrupt: nothing was tested"
    resumed = run([*train_command(out), *epochs, "--resume", str(out)], 2, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    ours, expected = final_parameters(out), final_parameters(tmp_path / "ref")
    for key in expected:
        np.testing.assert_allclose(ours[key], expected[key], rtol=1e-4, atol=1e-5, err_msg=key)


def interrupt_under_mpiexec(out, epochs) -> tuple | None:
    """Start a 2-process run, Ctrl-C it a few epochs in; the (epoch, batch) of its interrupt checkpoint."""
    import signal
    import time

    from chainrule.training.checkpoint import checkpoint_progress, list_checkpoints

    command = ["mpiexec", "-n", "2", sys.executable, *train_command(out), *epochs]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=mpi_environment()
    )
    deadline = time.monotonic() + 120
    while not (out / "metrics.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # a few epochs in, far from the end
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode != 0
    # Rank 0's checkpoint writer outlives mpiexec's kill: wait for the interrupt's checkpoint.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
        stops = [r for r in records if r["event"] == "interrupt"]
        if stops:
            progress = (stops[-1]["epoch"] - 1, stops[-1]["batch"])
            if checkpoint_progress(list_checkpoints(out)[-1]) == progress:
                return progress
        time.sleep(0.1)
    return None
