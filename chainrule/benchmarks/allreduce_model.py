"""The cost of one gradient allreduce on a cluster, from the ring algorithm's cost model.

A ring allreduce of ``n`` bytes over ``K`` ranks runs a reduce-scatter and an
all-gather, each ``K - 1`` steps in which every rank sends ``n / K`` bytes to
its neighbour (Patarasuk and Yuan, *Bandwidth optimal all-reduce algorithms for
clusters of workstations*, JPDC 2009; Thakur, Rabenseifner and Gropp,
*Optimization of collective communication operations in MPICH*, IJHPCA 2005):

    T_ring(K, n) = 2 (K - 1) alpha + 2 (K - 1) / K * n / beta

with ``alpha`` the per-message latency and ``beta`` the link bandwidth. The
bandwidth term tends to ``2 n / beta`` as K grows, independent of K, while the
latency term grows linearly; recursive halving/doubling (Rabenseifner's
algorithm) has the same bandwidth term with ``2 log2(K) alpha`` latency, which
MPI libraries pick for large K. ``python -m chainrule.benchmarks.allreduce_model``
prints the Markdown table in ``docs/distributed.md``.
"""

from __future__ import annotations

import math

GBIT = 1e9 / 8  # bytes per second in one Gb/s


def ring_allreduce_seconds(ranks: int, nbytes: float, bandwidth: float, latency: float) -> float:
    """``2 (K-1) alpha + 2 (K-1)/K n / beta``: the ring algorithm's time for one allreduce."""
    if ranks == 1:
        return 0.0
    return 2 * (ranks - 1) * latency + 2 * (ranks - 1) / ranks * nbytes / bandwidth


def halving_doubling_seconds(ranks: int, nbytes: float, bandwidth: float, latency: float) -> float:
    """``2 log2(K) alpha + 2 (K-1)/K n / beta``: Rabenseifner's algorithm (K a power of two)."""
    if ranks == 1:
        return 0.0
    return 2 * math.log2(ranks) * latency + 2 * (ranks - 1) / ranks * nbytes / bandwidth


def notes_network_parameters() -> int:
    """784-200-200-10 with biases: 784*200+200 + 200*200+200 + 200*10+10."""
    return 784 * 200 + 200 + 200 * 200 + 200 + 200 * 10 + 10


def table(bandwidth_gbit: float = 25.0, latency_us: float = 5.0) -> str:
    models = [
        ("the notes' MLP (199,210 float32)", notes_network_parameters() * 4),
        ("100M parameters (float32)", 100e6 * 4),
    ]
    bandwidth, latency = bandwidth_gbit * GBIT, latency_us * 1e-6
    lines = [
        f"Link {bandwidth_gbit:g} Gb/s ({bandwidth / 1e9:.3f} GB/s), latency {latency_us:g} µs per message.",
        "",
        "| model | bytes | K | ring | halving-doubling | bandwidth share (ring) |",
        "|---|---|---|---|---|---|",
    ]
    for name, nbytes in models:
        for ranks in (8, 16, 32, 64, 128, 256, 512, 1024):
            ring = ring_allreduce_seconds(ranks, nbytes, bandwidth, latency)
            rhd = halving_doubling_seconds(ranks, nbytes, bandwidth, latency)
            share = (2 * (ranks - 1) / ranks * nbytes / bandwidth) / ring
            lines.append(f"| {name} | {nbytes / 1e6:.2f} MB | {ranks} | {_ms(ring)} | {_ms(rhd)} | {share:.0%} |")
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


if __name__ == "__main__":
    print(table())
