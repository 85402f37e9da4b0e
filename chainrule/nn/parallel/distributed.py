"""DistributedDataParallel: one model replica per rank, gradients averaged by the end of backward.

Each of K ranks runs the same model on its own 1/K of the global batch. At
construction rank 0's parameters and buffers are broadcast, so all replicas
start equal; after ``loss.backward()`` every rank's ``.grad`` holds the mean of
the K ranks' gradients, so identical optimizer steps keep the replicas equal.
K processes on B/K samples each then follow exactly the trajectory of one
process on all B samples (for a loss that is a mean over the batch).

How the averaging overlaps the backward pass (the reducer, after PyTorch's):

* The parameters are packed, in reverse order of registration (roughly the
  order in which backward produces their gradients), into buckets of about
  ``bucket_cap_mb`` (the first one small, so communication starts early).
  Each bucket is one flat contiguous buffer, reduced with one MPI allreduce.
* After each forward, one walk of the new graph counts, for every parameter,
  the graph edges that will deliver a gradient to it. A hook that runs after
  each accumulation into ``.grad`` counts down; when every parameter of a
  bucket is done, its gradients are copied into the bucket and a
  non-blocking ``Iallreduce`` starts while backward goes on with the layers
  below. Buckets start in index order on every rank, as MPI requires.
* Parameters the graph does not reach are done from the start, so a model
  whose forward skips a branch on some rank cannot deadlock the others. Each
  parameter carries one more number in its bucket, 1 if this rank produced a
  gradient for it: a parameter no rank touched keeps ``.grad`` None.
* When backward ends, the remaining buckets start, all are waited for, and
  each gradient is replaced by its bucket's sum divided by K.

``no_sync()`` skips the averaging (gradients accumulate locally); the first
backward after it averages the accumulated gradients.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from chainrule import distributed as dist
from chainrule.autograd.engine import queue_callback
from chainrule.autograd.function import Node
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

FIRST_BUCKET_BYTES = 1024 * 1024


class DistributedDataParallel(Module):
    """Wraps ``module`` so that ``loss.backward()`` leaves the mean gradient over all ranks in ``.grad``.

    Args:
        module: the model; ``ddp.module`` is it (save ``ddp.module.state_dict()``).
        device_ids, output_device, dim: accepted for PyTorch compatibility (one CPU device per rank).
        broadcast_buffers: copy rank 0's buffers (BatchNorm statistics) to every rank at each forward (default True).
        process_group: only the default group is supported (None).
        bucket_cap_mb: the size of a gradient bucket in MiB (default 25).
        find_unused_parameters, gradient_as_bucket_view, static_graph: accepted; unused
            parameters are always found (one walk of the graph per forward).

    Attributes:
        communication_seconds: time spent starting and waiting for allreduces in the last backward.
        exposed_seconds: the part of it that backward could not hide (the wait at its end).
    """

    def __init__(
        self,
        module: Module,
        device_ids=None,
        output_device=None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group=None,
        bucket_cap_mb: float | None = 25,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ):
        super().__init__()
        if process_group is not None:
            raise NotImplementedError("DistributedDataParallel: only the default process group is supported")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        self._world = dist.communicator()
        params = [p for p in module.parameters() if p.requires_grad]
        self._reducer = _Reducer(params, self._world, int((bucket_cap_mb or 25) * 1024 * 1024))
        self._sync_module_state()

    @property
    def communication_seconds(self) -> float:
        return self._reducer.communication_seconds

    @property
    def exposed_seconds(self) -> float:
        return self._reducer.exposed_seconds

    def _sync_module_state(self) -> None:
        for tensor in list(self.module.parameters()) + list(self.module.buffers()):
            if tensor._data.flags.c_contiguous:
                self._world.broadcast(tensor._data, 0)
            else:
                copy = np.ascontiguousarray(tensor._data)
                self._world.broadcast(copy, 0)
                tensor._data[...] = copy

    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self.training and self._world.size > 1:
            for buffer in self.module.buffers():
                self._world.broadcast(buffer._data, 0)
        output = self.module(*inputs, **kwargs)
        if self.require_backward_grad_sync and self.training:
            self._reducer.prepare(_tensors_in(output))
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Within this context backward accumulates gradients locally, without averaging them."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous


class _Bucket:
    """Parameters whose gradients are reduced together, and their flat buffer.

    Layout: the gradients back to back, then one "had a gradient" flag per parameter.
    """

    def __init__(self, params: list[Tensor]):
        self.params = params
        self.offsets = np.cumsum([0] + [p._data.size for p in params])
        numel = int(self.offsets[-1])
        self.buffer = np.zeros(numel + len(params), dtype=params[0]._data.dtype)
        self.flags = self.buffer[numel:]
        self.waiting = 0
        self.request = None

    def pack(self) -> None:
        for i, p in enumerate(self.params):
            view = self.buffer[self.offsets[i] : self.offsets[i + 1]]
            if p.grad is None:
                view[...] = 0
                self.flags[i] = 0
            else:
                view[...] = p.grad._data.reshape(-1)
                self.flags[i] = 1

    def unpack(self, world_size: int) -> None:
        for i, p in enumerate(self.params):
            if self.flags[i] == 0:
                continue  # no rank produced a gradient for it
            mean = self.buffer[self.offsets[i] : self.offsets[i + 1]].reshape(p._data.shape) / world_size
            if p.grad is None or p.grad.grad_fn is not None:
                p.grad = Tensor._wrap(mean)
            else:
                p.grad._data[...] = mean


class _Reducer:
    """Buckets, readiness counting, and the launch/wait of the allreduces (see the module docstring)."""

    def __init__(self, params: list[Tensor], world, bucket_bytes: int):
        self.world = world
        self.buckets = _make_buckets(params, bucket_bytes)
        self.bucket_of = {id(p): bucket for bucket in self.buckets for p in bucket.params}
        self.remaining: dict[int, int] = {}
        self.next_to_launch = 0
        self.active = False
        self.callback_queued = False
        self.communication_seconds = 0.0
        self.exposed_seconds = 0.0
        for p in params:
            p.register_post_accumulate_grad_hook(self._gradient_ready)

    def prepare(self, outputs: list[Tensor]) -> None:
        """After a forward: count the graph edges that will deliver each parameter's gradient."""
        if self.world.size == 1 or not any(t.requires_grad for t in outputs):
            return
        counts = _edges_into_leaves(outputs)
        if not self.active:
            self.active, self.callback_queued = True, False
            self.remaining, self.next_to_launch = {}, 0
            self.communication_seconds = 0.0
            for bucket in self.buckets:  # parameters this graph does not reach are ready now
                bucket.request = None
                bucket.waiting = sum(id(p) in counts for p in bucket.params)
        for key, count in counts.items():
            if key in self.bucket_of:
                self.remaining[key] = self.remaining.get(key, 0) + count

    def _gradient_ready(self, param: Tensor) -> None:
        if not self.active:
            return
        if not self.callback_queued:  # the first gradient of this backward: finish when it ends
            queue_callback(self._finish)
            self.callback_queued = True
        key = id(param)
        left = self.remaining.get(key)
        if left is None:
            return  # not reached by the prepared graph: reduced when backward ends
        if left <= 0:
            raise RuntimeError(
                "DistributedDataParallel: a parameter received a gradient after its bucket was reduced; "
                f"the parameter of shape {tuple(param.shape)} is used outside the wrapped module's forward"
            )
        self.remaining[key] = left - 1
        if left == 1:
            self.bucket_of[key].waiting -= 1
            self._launch_ready_buckets()
        self._progress()

    def _progress(self) -> None:
        """Let MPI move the data of the allreduces in flight (most MPIs progress only inside MPI calls)."""
        for bucket in self.buckets[: self.next_to_launch]:
            if bucket.request is not None:
                bucket.request.Test()

    def _launch_ready_buckets(self) -> None:
        while self.next_to_launch < len(self.buckets) and self.buckets[self.next_to_launch].waiting == 0:
            self._launch(self.buckets[self.next_to_launch])
            self.next_to_launch += 1

    def _launch(self, bucket: _Bucket) -> None:
        start = time.perf_counter()
        bucket.pack()
        bucket.request = self.world.iallreduce(bucket.buffer, "sum")
        self.communication_seconds += time.perf_counter() - start

    def _finish(self) -> None:
        """At the end of backward: start what is left, wait for everything, write the means."""
        start = time.perf_counter()
        try:
            while self.next_to_launch < len(self.buckets):
                self._launch(self.buckets[self.next_to_launch])
                self.next_to_launch += 1
            for bucket in self.buckets:
                bucket.request.wait()
                bucket.unpack(self.world.size)
        finally:
            self.active, self.callback_queued = False, False
            self.remaining = {}
        self.exposed_seconds = time.perf_counter() - start
        self.communication_seconds += self.exposed_seconds


def _make_buckets(params: list[Tensor], bucket_bytes: int) -> list[_Bucket]:
    """Parameters in reverse order, split by dtype into buckets of about ``bucket_bytes`` (the first 1 MiB)."""
    buckets: list[_Bucket] = []
    current: dict = {}
    for p in reversed(params):
        dtype = p._data.dtype
        group = current.setdefault(dtype, [])
        group.append(p)
        limit = FIRST_BUCKET_BYTES if not buckets else bucket_bytes
        if sum(q._data.nbytes for q in group) >= limit:
            buckets.append(_Bucket(group))
            current[dtype] = []
    buckets.extend(_Bucket(group) for group in current.values() if group)
    return buckets


def _tensors_in(output) -> list[Tensor]:
    """The tensors in a forward's output (a tensor, or tuples, lists and dicts of them)."""
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in _tensors_in(item)]
    return []


def _edges_into_leaves(outputs: list[Tensor]) -> dict[int, int]:
    """For each leaf reachable from ``outputs``, how many graph edges lead into it."""
    counts: dict[int, int] = {}
    seen: set[int] = set()
    stack = []
    for tensor in outputs:
        if tensor.grad_fn is not None:
            stack.append(tensor.grad_fn)
        elif tensor.requires_grad:
            counts[id(tensor)] = counts.get(id(tensor), 0) + 1
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node.next_edges:
            if edge is None:
                continue
            target = edge[0]
            if isinstance(target, Node):
                stack.append(target)
            else:
                counts[id(target)] = counts.get(id(target), 0) + 1
    return counts
