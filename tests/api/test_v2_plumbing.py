"""The v2 plumbing: formats, envelopes, statuses, headers, CORS, and AWS calls per request."""

from __future__ import annotations

import json

import pytest
from defusedxml import ElementTree


def test_unknown_path_is_a_404_envelope_in_the_requested_format(client):
    response = client.http.get("/2/nothing.json")
    assert response.status_code == 404
    assert json.loads(response.body)["error"]["request"] == "/2/nothing.json"
    xml = client.http.get("/2/nothing/deeper")
    assert xml.status_code == 404
    assert ElementTree.fromstring(xml.body).tag == "error"
    assert xml.headers["X-RateLimit-Limit"] == "500"


def test_wrong_method_is_a_405_envelope(client, api_key):
    response = client.http.delete(f"/2/credits.json?key={api_key}")
    assert response.status_code == 405
    error = json.loads(response.body)["error"]
    assert error["method"] == "delete"
    assert error["format"] == "json"


def test_unknown_key_is_401_with_rate_limit_headers(client):
    response = client.http.get("/2/credits.json?key=nope")
    assert response.status_code == 401
    assert json.loads(response.body)["error"]["message"] == "Invalid API key"
    assert "X-RateLimit-Remaining" in response.headers


def test_format_query_parameter_selects_json(client, api_key):
    response = client.http.get(f"/2/credits?_format=json&key={api_key}")
    assert json.loads(response.body)["credits"]["limit"] == 500


def test_keyless_call_is_charged_to_the_source_ip(client):
    response = client.http.get("/2/credits.json", headers={"X-Forwarded-For": "9.9.9.9"})
    assert response.status_code == 200
    assert json.loads(response.body)["credits"]["remaining"] == 500


def test_cors_allows_any_origin_without_credentials(client, api_key):
    response = client.http.get(f"/2/credits.json?key={api_key}", headers={"Origin": "https://elsewhere.test"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_post_without_content_type_and_query_parameters_works(client, api_key):
    response = client.http.post(f"/2/credits.json?key={api_key}", body=b"")
    assert response.status_code in (200, 405)
    assert response.headers["Content-Type"] == "application/json"


def test_unexpected_error_is_a_generic_logged_500_envelope(client, api_key, aws_calls, caplog):
    client.http.get(f"/2/credits.json?key={api_key}")  # warm the key cache
    aws_calls.fail("dynamodb.GetItem", "InternalServerError")
    response = client.http.get(f"/2/credits.json?key={api_key}")
    assert response.status_code == 500
    error = json.loads(response.body)["error"]
    assert "InternalServerError" not in error["message"]
    assert "request " in error["message"]
    assert any("unexpected error" in r.message for r in caplog.records)


def test_throttled_ledger_answers_503_with_retry_after(client, api_key, aws_calls):
    client.http.get(f"/2/credits.json?key={api_key}")
    aws_calls.fail("dynamodb.GetItem", "ThrottlingException")
    response = client.http.get(f"/2/credits.json?key={api_key}")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


def test_cost_zero_call_makes_one_credits_read(client, api_key, aws_calls):
    client.http.get(f"/2/credits.json?key={api_key}")  # warm: the key is then cached
    aws_calls.reset()
    client.http.get(f"/2/credits.json?key={api_key}")
    assert aws_calls.calls == ["dynamodb.GetItem"]


def test_cold_key_costs_one_extra_read(client, api_key, aws_calls):
    aws_calls.reset()
    client.http.get(f"/2/credits.json?key={api_key}")
    assert aws_calls.calls == ["dynamodb.GetItem", "dynamodb.GetItem"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_error_envelope_is_well_formed(client, fmt):
    response = client.http.get(f"/2/nothing.{fmt}?title=%3C%2Fmessage%3E%00")
    if fmt == "json":
        assert json.loads(response.body)["error"]["parameters"].startswith("title = </message>")
    else:
        root = ElementTree.fromstring(response.body)
        assert root.findtext("parameters").startswith("title = </message>")


def test_forwarded_for_header_never_changes_the_ip_bucket(client):
    first = client.http.get("/2/image/nothing1.json", headers={"X-Forwarded-For": "1.1.1.1"})
    second = client.http.get("/2/image/nothing2.json", headers={"X-Forwarded-For": "2.2.2.2"})
    third = client.http.get("/2/image/nothing3.json")
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in (first, second, third)]
    assert remaining == [499, 498, 497]  # one bucket: API Gateway's source IP
