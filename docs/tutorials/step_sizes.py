"""Step sizes: constant, the notes' C/k, momentum and Adam on one problem.

Notes 002: SGD moves w_{k+1} = w_k - alpha_k grad L(w_k) on a random minibatch;
a constant step keeps bouncing in the noise, while alpha_k = C/k
(``optim.lr_scheduler.InverseTimeLR``) decays it so the iterates settle.
Momentum (``SGD(momentum=0.9)``) and Adam are the variants used in practice.
All four train the same softmax regression on the shipped 8 x 8 digits from the
same initial weights and see the same minibatches.
"""

from _common import Tutorial, pyplot

import chainrule as cr
from chainrule import nn
from chainrule.data import datasets
from chainrule.optim.lr_scheduler import InverseTimeLR
from chainrule.utils.data import DataLoader

STEPS = 300


def full_loss(model, X, y) -> float:
    with cr.no_grad():
        return nn.functional.cross_entropy(model(X), y).item()


def run(make_optimizer, data, initial_state, decay: bool = False) -> tuple[list[float], list[float]]:
    """Train from ``initial_state`` for STEPS minibatches; the full training loss and the rate at each step."""
    X, y = data.tensors
    model = nn.Linear(64, 10)
    model.load_state_dict(initial_state)
    optimizer = make_optimizer(model.parameters())
    scheduler = InverseTimeLR(optimizer, k0=20.0) if decay else None
    loader = DataLoader(data, batch_size=16, shuffle=True, generator=cr.Generator().manual_seed(1))
    losses, rates = [], []
    while len(losses) < STEPS:
        for inputs, targets in loader:
            loss = nn.functional.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rates.append(optimizer.param_groups[0]["lr"])
            if scheduler is not None:
                scheduler.step()
            losses.append(full_loss(model, X, y))
            if len(losses) == STEPS:
                break
    return losses, rates


def main():
    out = Tutorial("step_sizes")
    cr.manual_seed(0)
    data = datasets.digits(flatten=True)
    initial_state = nn.Linear(64, 10).state_dict()
    runs = {
        "SGD, constant step 0.5": (lambda p: cr.optim.SGD(p, lr=0.5), False),
        "SGD, C/k: 2 * 20/(20 + t)": (lambda p: cr.optim.SGD(p, lr=2.0), True),
        "SGD + momentum 0.9, step 0.05": (lambda p: cr.optim.SGD(p, lr=0.05, momentum=0.9), False),
        "Adam, step 0.01": (lambda p: cr.optim.Adam(p, lr=0.01), False),
    }
    plt = pyplot()
    figure, ax = plt.subplots(figsize=(7, 4.2))
    results = {}
    for name, (make_optimizer, decay) in runs.items():
        losses, rates = run(make_optimizer, data, initial_state, decay)
        results[name] = (losses, rates)
        ax.plot(range(1, STEPS + 1), losses, label=name, linewidth=1.2)
        out.print(f"{name:<32} loss after 1 step {losses[0]:.3f}, after {STEPS}: {losses[-1]:.3f}")
    ax.set_xlabel("step k (minibatches of 16)")
    ax.set_ylabel("training loss (all 1,800 digits)")
    ax.set_yscale("log")
    ax.legend()
    figure.tight_layout()
    figure.savefig(out.figure("step_sizes.png"), dpi=90)

    rates = results["SGD, C/k: 2 * 20/(20 + t)"][1]
    out.print(f"C/k schedule: rate at steps 1, 11, 101: {rates[0]:.4f}, {rates[10]:.4f}, {rates[100]:.4f}")
    out.check(
        all(abs(rates[t] - 2.0 * 20 / (20 + t)) < 1e-12 for t in range(STEPS)),
        "InverseTimeLR gives base_lr * k0 / (k0 + t) after t steps",
    )
    out.check(
        all(losses[-1] < 0.5 * losses[0] for losses, _ in results.values()),
        "every method at least halves the training loss",
    )
    out.finish()


if __name__ == "__main__":
    main()
