"""The sample Grafana dashboard queries metrics that the workers really expose, all of them."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from workers.observability.collector import metric_families
from workers.observability.metrics import WorkerMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "scripts" / "grafana" / "newswire.json"
METRIC_NAME = re.compile(r"\bnewswire_[a-z0-9_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exposed() -> dict[str, set[str]]:
    """Family name -> the sample names Prometheus sees for it."""
    registry = CollectorRegistry()
    WorkerMetrics.create(registry)
    families = [*registry.collect(), *metric_families().values()]
    return {f.name: {f.name + suffix for suffix in SUFFIXES[f.type]} for f in families}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_queried_metric_exists(dashboard: dict[str, Any]) -> None:
    known = set().union(*exposed().values())
    used = {name for expr in expressions(dashboard) for name in METRIC_NAME.findall(expr)}
    assert used, "the dashboard queries no newswire metric"
    assert sorted(used - known) == []


def test_every_metric_is_on_the_dashboard(dashboard: dict[str, Any]) -> None:
    used = {name for expr in expressions(dashboard) for name in METRIC_NAME.findall(expr)}
    unshown = [family for family, samples in exposed().items() if not samples & used]
    assert unshown == []


def test_panels_are_well_formed(dashboard: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["gridPos"]["x"] >= 0 and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)) and all(ref_ids)
        for expr in (target["expr"] for target in panel["targets"]):
            assert expr.count("(") == expr.count(")"), expr
