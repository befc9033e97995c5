"""Headless Chromium draws an asset's readings (api/static/readings-chart.js) on the asset
page and in the dashboard panel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg.types.json import Jsonb

from tests.e2e.browser import CHROMIUM
from tests.e2e.conftest import Stack
from tests.e2e.seed import query, seed_site
from tests.e2e.test_browser_dashboard import page  # noqa: F401 - the fixture

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium"),
]


def test_asset_page_and_dashboard_chart_the_readings(stack: Stack, page) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ids = seed_site(stack.database_url, lat=51.5, lon=-0.1)
    now = datetime.now(UTC)
    for i in range(12):
        query(stack.database_url, "INSERT INTO readings (device_id, ts, metrics, source)"
              " VALUES (%s, %s, %s, 'native')",
              (ids["dev"], now - timedelta(minutes=30) + timedelta(minutes=2 * i),
               Jsonb({"temperature": 20.0 + i})))
    page.goto(stack.api_url + "/")
    page.fill("#token", stack.admin_token)
    page.click("#login-form button")
    page.wait_for_selector("#conn.on", timeout=15000)
    page.select_option("#readings-panel .rc-asset", ids["asset"])
    # functions, not bare expressions: the pages' CSP forbids eval, which Playwright uses
    # for expressions (api/middleware.py)
    page.wait_for_function(
        "() => document.querySelector('#readings-panel .rc-status').textContent"
        ".startsWith('12 ')",
        timeout=15000)
    page.goto(f"{stack.api_url}/static/asset.html?asset={ids['asset']}")
    page.wait_for_function(
        "() => document.querySelector('.rc-status').textContent.startsWith('12 buckets')",
        timeout=15000)
    points = page.get_attribute(".rc-chart polyline", "points")
    assert points is not None and len(points.split()) == 12
