"""What the ops tests share: reading /metrics as Prometheus would, the guardian's clocks and
the alerts it queued."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.service import Service
from tests.helpers import rows

METRICS_TOKEN = "scrape-token-for-tests-0123"


async def get_metrics(shop: Service, token: str | None = METRICS_TOKEN) -> tuple[int, str]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{shop.http_url}/metrics", headers=headers) as response,
    ):
        return response.status, await response.text()


async def scrape(shop: Service) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, parsed by prometheus-client's own parser: by name and labels."""
    status, text = await get_metrics(shop)
    assert status == 200, text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """One sample's value; 0 when the series does not exist yet (a counter never touched)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


class Clocks:
    """The guardian's clocks, each moved forward by the test on its own: the real time plus
    `shift` seconds (its clock: the hour between two alerts) or `wall_shift` (its wall clock:
    the age of what waits in the outbox)."""

    def __init__(self) -> None:
        self.shift = 0.0
        self.wall_shift = 0.0

    def clock(self) -> float:
        return time.time() + self.shift

    def wall(self) -> float:
        return time.time() + self.wall_shift


def health_alerts(database: Path) -> list[str]:
    """The guardian's messages queued so far, to any admin, oldest first."""
    found = rows(database, "SELECT detail FROM outbox WHERE kind = 'health_alert' ORDER BY id")
    return [row["detail"] for row in found]


# The series each metric type exposes, after its family's name (prometheus-client's format).
SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


async def exported_series(shop: Service) -> dict[str, set[str]]:
    """Every family /metrics declares, with the series names it exposes, touched yet or not (a
    labelled family with no child has no samples, only its # TYPE line), parsed by
    prometheus-client's own parser."""
    status, text = await get_metrics(shop)
    assert status == 200, text
    return {
        family.name: {family.name + suffix for suffix in SERIES_SUFFIXES.get(family.type, ("",))}
        for family in text_string_to_metric_families(text)
    }
