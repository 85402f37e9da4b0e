"""Training loops: ``Trainer`` (epochs, evaluation, JSON-lines metrics, checkpoints, exact resume, Ctrl-C).

from chainrule.training import Trainer
trainer = Trainer(model, optimizer, loss_fn, train_loader, test_loader, out_dir="runs/demo")
history = trainer.fit(epochs=10)   # one dict per epoch: loss, accuracy, test_loss, test_accuracy, lr, ...
"""

from chainrule.training.checkpoint import latest_checkpoint, load_checkpoint, resolve_checkpoint, save_checkpoint
from chainrule.training.metrics import MetricsLog, RunningMetrics, correct_predictions, predicted_classes
from chainrule.training.progress import BarProgress, LineProgress, NoProgress, make_progress
from chainrule.training.trainer import Trainer, evaluate, fit

__all__ = [
    "BarProgress",
    "LineProgress",
    "MetricsLog",
    "NoProgress",
    "RunningMetrics",
    "Trainer",
    "correct_predictions",
    "evaluate",
    "fit",
    "latest_checkpoint",
    "load_checkpoint",
    "make_progress",
    "predicted_classes",
    "resolve_checkpoint",
    "save_checkpoint",
]
