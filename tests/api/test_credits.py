"""GET /2/credits in every format, the rate-limit headers, and the charge per call."""

from __future__ import annotations

import json

from defusedxml import ElementTree


def test_credits_json_reports_full_bucket(client, api_key):
    response = client.http.get(f"/2/credits.json?key={api_key}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(response.body)["credits"]
    assert body["limit"] == 500
    assert body["remaining"] == 500
    assert response.headers["X-RateLimit-Limit"] == "500"
    assert response.headers["X-RateLimit-Remaining"] == "500"
    assert int(response.headers["X-RateLimit-Reset"]) == body["reset"]


def test_credits_default_is_xml(client, api_key):
    response = client.http.get(f"/2/credits?key={api_key}")
    assert response.status_code == 200
    root = ElementTree.fromstring(response.body)
    assert root.tag == "credits"
    assert root.findtext("limit") == "500"
