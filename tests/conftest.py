"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest
from devices import DEVICES


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each device the suite runs on: "cpu", "fake" (the device double) and "cuda" where present."""
    return request.param
