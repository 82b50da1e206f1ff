"""Benchmarks share the tests' fixtures (tests/conftest.py). Ratios computed by the benchmarks are
reported through the ``report_ratio`` fixture and printed at the end of the run, so CI logs show them."""

from __future__ import annotations

import pytest

_RATIOS = pytest.StashKey[dict]()


@pytest.fixture
def report_ratio(request):
    def report(name: str, line: str) -> None:
        request.config.stash.setdefault(_RATIOS, {})[name] = line

    return report


def pytest_terminal_summary(terminalreporter, config):
    ratios = config.stash.get(_RATIOS, {})
    if ratios:
        terminalreporter.section("benchmark ratios")
        for name, line in ratios.items():
            terminalreporter.write_line(f"{name}: {line}")
