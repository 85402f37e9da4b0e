"""Random draws on the accelerators: made there by the device's own generator, seeded by ``cr.manual_seed``.

Host draws are pinned against NumPy's PCG64 directly; device draws are checked
for where they live, reproducibility, their moments (fixed seeds and bounds of
many standard errors, so they cannot flake) and for leaving the host
generator's state alone.
"""

from __future__ import annotations

import numpy as np
import pytest
from devices import ACCELERATORS, host

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import random

DRAWS = {
    "rand": lambda device: cr.rand(4000, device=device),
    "randn": lambda device: cr.randn(4000, device=device, dtype=cr.float64),
    "uniform_": lambda device: cr.empty(4000, device=device).uniform_(-2.0, 3.0),
    "normal_": lambda device: cr.empty(4000, device=device).normal_(1.0, 2.0),
    "random_": lambda device: cr.empty(4000, device=device, dtype=cr.int64).random_(0, 10),
    "dropout": lambda device: F.dropout(cr.ones(4000, device=device), 0.5),
}


def test_host_draws_are_numpy_pcg64_draws_of_the_seed():
    cr.manual_seed(0)
    reference = np.random.Generator(np.random.PCG64(0))
    np.testing.assert_array_equal(cr.rand(5).numpy(), reference.random(5, dtype=np.float32))
    np.testing.assert_array_equal(cr.randn(3, dtype=cr.float64).numpy(), reference.standard_normal(3))


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("draw", list(DRAWS.values()), ids=list(DRAWS))
def test_device_draws_live_on_the_device_and_leave_the_host_generator_alone(draw, device):
    cr.manual_seed(1)
    state = random.get_rng_state()
    values = draw(device)
    assert values.device.type == device
    assert random.get_rng_state() == state  # no host draw was made


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("draw", list(DRAWS.values()), ids=list(DRAWS))
def test_device_draws_are_reproducible_under_manual_seed(draw, device):
    cr.manual_seed(7)
    first, second = host(draw(device)), host(draw(device))
    cr.manual_seed(7)
    np.testing.assert_array_equal(host(draw(device)), first)
    assert not np.array_equal(first, second)  # the generator moved on
    cr.manual_seed(8)
    assert not np.array_equal(host(draw(device)), first)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_device_draws_have_the_right_moments(device):
    cr.manual_seed(3)
    n = 200_000
    uniform = host(cr.rand(n, device=device, dtype=cr.float64))
    normal = host(cr.randn(n, device=device, dtype=cr.float64))
    shifted = host(cr.empty(n, device=device).normal_(1.5, 0.5))
    integers = host(cr.empty(n, device=device, dtype=cr.int64).random_(0, 10))
    # standard errors: uniform mean 0.00065, normal mean 0.0022, normal std 0.0016: bounds of 6 or more of them
    assert uniform.min() >= 0.0 and uniform.max() < 1.0
    assert abs(uniform.mean() - 0.5) < 0.005 and abs(uniform.std() - (1 / 12) ** 0.5) < 0.005
    assert abs(normal.mean()) < 0.015 and abs(normal.std() - 1.0) < 0.01
    assert abs(shifted.mean() - 1.5) < 0.01 and abs(shifted.std() - 0.5) < 0.01
    assert set(np.unique(integers)) == set(range(10)) and abs(integers.mean() - 4.5) < 0.05


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_on_a_device_keeps_one_minus_p_and_scales_by_its_inverse(p, device):
    cr.manual_seed(11)
    x = cr.ones(500, 400, device=device, requires_grad=True)
    state = random.get_rng_state()
    y = F.dropout(x, p)
    assert random.get_rng_state() == state  # the mask was drawn on the device
    values = host(y)
    assert y.device.type == device and y.dtype == cr.float32
    kept = values != 0
    assert abs(kept.mean() - (1 - p)) < 0.005  # 200,000 draws: the standard error is at most 0.0011
    np.testing.assert_allclose(values[kept], np.float32(1 / (1 - p)), rtol=1e-6)
    weights = np.random.default_rng(2).standard_normal(values.shape).astype(np.float32)
    (y * cr.tensor(weights, device=device)).sum().backward()
    np.testing.assert_allclose(host(x.grad), weights * values, rtol=1e-6)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_attention_dropout_on_a_device_draws_there(device):
    cr.manual_seed(0)
    q = cr.randn(2, 3, 4, 5, device=device)
    state = random.get_rng_state()
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert out.device.type == device
    assert random.get_rng_state() == state


@pytest.mark.parametrize("device", ACCELERATORS)
def test_seed_device_generators_reseeds_the_devices_only(device):
    cr.manual_seed(5)
    host_first = cr.rand(3).numpy()
    random.seed_device_generators(21)
    device_first = host(cr.rand(6, device=device))
    random.seed_device_generators(21, device)  # one device, here the current one
    np.testing.assert_array_equal(host(cr.rand(6, device=device)), device_first)
    assert not np.array_equal(host(cr.rand(6, device=device)), device_first)
    cr.manual_seed(5)
    np.testing.assert_array_equal(cr.rand(3).numpy(), host_first)  # the host stream is untouched by the reseeds


@pytest.mark.parametrize("device", ACCELERATORS)
def test_an_explicit_generator_draws_on_the_host_and_copies(device):
    on_device = cr.rand(5, device=device, generator=cr.Generator(device=device).manual_seed(4))
    on_host = cr.rand(5, generator=cr.Generator().manual_seed(4))
    assert on_device.device.type == device
    np.testing.assert_array_equal(host(on_device), on_host.numpy())
