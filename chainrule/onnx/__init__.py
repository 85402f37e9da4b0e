"""ONNX export and import: ``export`` writes a traced forward pass, ``load`` runs an ONNX model as a Module.

Needs the optional ``onnx`` package (``pip install "chainrule[onnx]"``, which
also installs onnxruntime to run the exported files); chainrule imports it
only when ``export`` or ``load`` is called.

Export, as ``torch.onnx.export``::

    import chainrule as cr

    model.eval()
    cr.onnx.export(model, cr.randn(1, 784), "mlp.onnx", input_names=["x"], output_names=["logits"],
                   dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17)

    import onnxruntime                     # run it anywhere ONNX runs
    session = onnxruntime.InferenceSession("mlp.onnx")
    logits = session.run(None, {"x": x.numpy()})[0]

The forward pass runs on the example inputs with every ``Op.apply``
recorded (``chainrule.onnx.tracer``); the ops the outputs depend on become
ONNX nodes through the converter table (``chainrule.onnx.converters``: one
small function per op, choosing nodes by opset). Parameters and buffers
become initializers named as in ``state_dict()``; values computed from
constants only (a causal mask) are folded into constants. A second forward
pass on inputs of other sizes and values finds the reshape targets that
follow the dynamic axes, and refuses arrays computed from the inputs outside
chainrule's ops (which would otherwise be frozen into the file). An op with
no converter raises a RuntimeError naming the op and the module it ran in.
Opsets 13 to the newest the installed onnx knows are supported.

Import::

    module = cr.onnx.load("mlp.onnx")     # an nn.Module; initializers are Parameters
    logits = module(x)                    # the nodes run as chainrule ops, so backward works:
    optimizer = cr.optim.SGD(module.parameters(), lr=0.01)   # fine-tune it like any model

The loaded module's parameters keep the initializer names (dotted names
become submodules, so ``state_dict()`` keys match the exported model's);
exported buffers come back as buffers.

From the command line, a checkpoint of ``chainrule train``::

    chainrule export --checkpoint runs/mlp --out mlp.onnx --opset 17
"""

from chainrule.onnx.exporter import export
from chainrule.onnx.runtime import OnnxModule, load

__all__ = ["export", "load", "OnnxModule"]
