"""chainrule's benchmark suite: chainrule against PyTorch and hand-written NumPy, side by side.

Run it as ``chainrule bench`` (see ``chainrule.benchmarks.cli``), or one
workload module alone as ``python -m chainrule.benchmarks.NAME``:

* ``mlp_epoch``   -- MLP training epochs on MNIST, with a NumPy floor;
* ``lenet``       -- LeNet-5 training batches;
* ``layers``      -- forward+backward of Conv2d, LSTM, TransformerEncoderLayer;
* ``gpt``         -- a minGPT-style training step (LayerNorm, causal attention, GELU, dropout, AdamW);
* ``vae``         -- a variational auto-encoder training step (BCE + KL, Adam);
* ``op_overhead`` -- per-op cost on tiny tensors, with a NumPy floor;
* ``memory``      -- peak resident memory of an MLP epoch, a process per framework.

Each provides ``run(options) -> list[Result]`` (``runner.Options``,
``_timing.Result``); ``report`` holds the targets and renders the Markdown
report. The frameworks alternate round by round in one process, and ratios are
medians of per-round ratios, so a disturbed round hits every framework alike.
"""
