"""Fixtures for UI tests: a real Engine fed by the seeded synthetic stream, and a frozen clock."""

from __future__ import annotations

import copy

import pytest

from liqtui.ui.synthetic import end_ts, make_engine

N_BARS = 720


@pytest.fixture(scope="session")
def _engine_template():
    return make_engine(N_BARS)


@pytest.fixture
def engine(_engine_template):
    """A fresh copy of a real Engine after one day of synthetic 1m bars (deterministic)."""
    return copy.deepcopy(_engine_template)


@pytest.fixture
def frozen_clock():
    """The app's clock, frozen at the end of the synthetic stream."""
    return lambda: end_ts(N_BARS)
