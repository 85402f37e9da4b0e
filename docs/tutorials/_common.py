"""What every tutorial script shares: where it writes, printing that is also recorded, and checks.

A tutorial runs as ``python docs/tutorials/NAME.py [--out DIR]``. It prints as
it goes; everything printed is also written to ``DIR/tutorials/output/NAME.txt`` (the
page includes that file) and its figures go to ``DIR/images/tutorials/``.
Without ``--out`` DIR is ``docs/``, so running a script refreshes its page.
A failed ``check`` ends the script with exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent


class Tutorial:
    """The output of one tutorial script: its recorded text, its figures and its checks."""

    def __init__(self, name: str, argv: list[str] | None = None):
        parser = argparse.ArgumentParser(description=f"run the '{name}' tutorial")
        parser.add_argument(
            "--out", type=Path, default=None, help="write output/ and images/ under DIR (default docs/)"
        )
        args = parser.parse_args(argv)
        self.name = name
        root = args.out if args.out is not None else DOCS
        self.text_path = root / "tutorials" / "output" / f"{name}.txt"
        self.image_dir = root / "images" / "tutorials"
        self.text_path.parent.mkdir(parents=True, exist_ok=True)
        self.image_dir.mkdir(parents=True, exist_ok=True)
        from chainrule.backend.openblas import set_blas_threads, user_chose_threads

        if not user_chose_threads():
            set_blas_threads(1)  # OpenBLAS threads spin-wait: one thread is fastest on a small shared machine
        self.lines: list[str] = []
        self.failed: list[str] = []

    def print(self, *values) -> None:
        """Print like ``print`` and keep the line for the page."""
        line = " ".join(str(v) for v in values)
        print(line, flush=True)
        self.lines.append(line)

    def check(self, condition: bool, claim: str) -> None:
        """Record ``claim`` as a check line; remember it if it does not hold."""
        self.print(f"check: {claim}: {'ok' if condition else 'FAILED'}")
        if not condition:
            self.failed.append(claim)

    def figure(self, filename: str) -> Path:
        """The path a figure of this tutorial is saved to."""
        return self.image_dir / filename

    def finish(self) -> None:
        """Write the recorded text; exit with status 1 if a check failed."""
        self.text_path.write_text("\n".join(self.lines) + "\n")
        if self.failed:
            print(f"{self.name}: {len(self.failed)} check(s) failed: {self.failed}", file=sys.stderr)
            sys.exit(1)


def pyplot():
    """matplotlib's pyplot with a file-only backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def train_classifier(model, dataset, optimizer, epochs: int, batch_size: int, seed: int = 0, scheduler=None) -> list:
    """The PyTorch training loop: minibatches, cross-entropy, backward, step. Returns each epoch's mean loss."""
    import chainrule as cr
    from chainrule.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=cr.Generator().manual_seed(seed))
    losses = []
    model.train()
    for _ in range(epochs):
        total, count = 0.0, 0
        for inputs, targets in loader:
            loss = cr.nn.functional.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item() * len(targets)
            count += len(targets)
        losses.append(total / count)
    return losses


def accuracy(model, inputs, targets) -> float:
    """The fraction of ``inputs`` whose highest-scoring class is the target."""
    import chainrule as cr

    model.eval()
    with cr.no_grad():
        predicted = model(inputs).argmax(dim=1)
    return (predicted == targets).float().mean().item()


def notes_text(characters: int = 4000) -> str:
    """The start of the lecture notes' lecture 2 (docs/notes/), whitespace collapsed: a tiny corpus."""
    text = (DOCS / "notes" / "002-neural-nets.md").read_text(encoding="utf-8")
    words = [w for w in text.split() if w.isascii() and "$" not in w and "\\" not in w]
    return " ".join(words)[:characters]


class CharCorpus:
    """A text as character ids, cut into (input, next-character target) windows of ``block`` characters."""

    def __init__(self, text: str, block: int):
        import chainrule as cr

        self.alphabet = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.alphabet)}
        self.ids = cr.tensor([self.index[c] for c in text], dtype=cr.int64)
        self.block = block

    @property
    def vocabulary(self) -> int:
        return len(self.alphabet)

    def batch(self, size: int, generator):
        """``size`` random windows: inputs (size, block) and targets (size, block), shifted by one."""
        import chainrule as cr

        starts = cr.randint(0, len(self.ids) - self.block - 1, (size,), generator=generator)
        offsets = cr.arange(self.block + 1)
        windows = self.ids[starts[:, None] + offsets[None, :]]
        return windows[:, :-1], windows[:, 1:]

    def decode(self, ids) -> str:
        return "".join(self.alphabet[i] for i in ids)
