"""The operator console in headless Chromium against the local stack (docs/console.md#tests)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.e2e.campaign_support import at
from tests.e2e.console_browser import Watched, chromium
from tests.e2e.tokens import mint
from tests.webhook_signing import standard_headers

pytestmark = pytest.mark.integration

HOSTILE = "<img src=x onerror=alert(1)>"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" + "Q2FtcGFpZ25zIQ=="


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


@pytest.fixture
def tab(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    watched = Watched(context.new_page())
    try:
        yield watched
    finally:
        context.close()
    assert watched.problems == []


def admin(stack: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.bootstrap_info['adminKey']}"}


def api(stack: Any, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else admin(stack)
    return requests.request(method, f"{stack.api_url}{path}", headers=headers, timeout=10, **kwargs)


def fresh_admin(stack: Any) -> str:
    """An admin JWT of an owner of its own: key creation is 5 per 15 minutes per owner, and the
    stack's admin key is shared by the whole suite."""
    return mint(stack.bootstrap_info, sub=f"console-{uuid.uuid4().hex}", scope="admin", lifetime=900)


def new_key(stack: Any, name: str, scopes: list[str], **extra: Any) -> dict[str, Any]:
    answer = api(stack, "POST", "/v1/keys", fresh_admin(stack), json={"name": name, "scopes": scopes, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def sign_in(tab: Watched, stack: Any, credential: str, view: str = "overview") -> Any:
    page = tab.page
    page.goto(f"{stack.api_url}/console#/{view}")
    page.get_by_label("API key or JWT").fill(credential)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#nav a").first.wait_for()
    return page


def test_sign_in_with_the_admin_key_keeps_it_in_session_storage_only(tab: Watched, local_stack: Any) -> None:
    # Given the stack's admin key, When pasted at sign-in, Then every view is offered
    page = sign_in(tab, local_stack, local_stack.bootstrap_info["adminKey"])
    assert page.locator("#nav a").all_inner_texts() == [
        "Overview", "Keys", "Rate limits", "Webhooks", "Campaigns", "Breakers",
    ]  # fmt: skip
    page.locator("[data-ready]").wait_for()
    page.locator("[data-metrics]").wait_for()
    # And the key lives in sessionStorage only: not in the URL, a cookie or localStorage
    key = local_stack.bootstrap_info["adminKey"]
    assert page.evaluate("sessionStorage.getItem('gatehouse.credential')") == key
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    assert key not in page.url
    tab.screenshot("overview")
    # And the overview is readable on a phone
    page.set_viewport_size({"width": 390, "height": 844})
    tab.screenshot("overview-phone")


def test_a_refused_credential_shows_the_error_with_its_request_id(tab: Watched, local_stack: Any) -> None:
    page = tab.page
    page.goto(f"{local_stack.api_url}/console")
    page.get_by_label("API key or JWT").fill("gk_test_notavalidkeyatall")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    # API Gateway's own refusal (no Gatehouse requestId exists): its apigw-requestid is shown instead
    assert re.match(r"40[13] ", alert.inner_text())
    assert re.search(r"requestId: \S+", alert.inner_text()) and "(none)" not in alert.inner_text()
    assert page.evaluate("sessionStorage.length") == 0
    tab.screenshot("sign-in-refused")


def test_create_a_key_and_see_its_secret_once(tab: Watched, local_stack: Any) -> None:
    page = sign_in(tab, local_stack, fresh_admin(local_stack), "keys")
    name = f"console key {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("keys:read").check()
    page.get_by_label("Expires (UTC, optional)").fill("2030-01-01T10:00")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("[data-secret]").inner_text()
    assert re.fullmatch(r"gk_test_[A-Za-z0-9]+", secret)
    page.get_by_role("button", name="Copy").wait_for()  # visible, or fails after the timeout
    # The secret works, and the list shows the key without it
    me = api(local_stack, "GET", "/v1/me", token=secret)
    assert me.status_code == 200 and me.json()["scopes"] == ["keys:read"]
    tab.screenshot("keys-created")
    page.get_by_role("link", name="Done: show the list").click()
    page.get_by_role("cell", name=name).wait_for()
    assert secret not in page.content()
    page.get_by_role("cell", name="2030-01-01T10:00:00Z").wait_for()  # visible, or fails after the timeout
    tab.screenshot("keys")
    # Rotate with a grace period: a new secret, shown once; then revoke the old key
    row = page.locator("tr", has=page.get_by_role("cell", name=name, exact=True)).first
    row.get_by_role("button", name="Rotate").click()
    rotated = page.locator("[data-secret]").inner_text()
    assert rotated.startswith("gk_test_") and rotated != secret
    revoke = page.locator("tr", has_text="rotated").filter(has_text=name).get_by_role("button", name="Revoke")
    revoke.click()
    page.get_by_role("button", name="Confirm revoke").click()
    page.get_by_text(f"Revoked {name}.").wait_for()


def test_a_signed_webhook_reaches_processed_and_is_replayed(tab: Watched, local_stack: Any) -> None:
    # Given a source and a signed webhook sent to it
    source = f"console-{uuid.uuid4().hex[:8]}"
    registration = {"scheme": "standard", "secrets": [SECRET], "eventTypePath": "type"}
    assert api(local_stack, "PUT", f"/v1/webhook-sources/{source}", json=registration).status_code == 201
    body = b'{"type": "order.paid", "id": 42}'
    sent = requests.post(f"{local_stack.api_url}/webhooks/{source}", data=body,
                         headers=standard_headers(SECRET, body), timeout=10)  # fmt: skip
    assert sent.status_code == 202, sent.text
    event_id = sent.json()["id"]
    # When the operator filters the events by the source and opens the event
    page = sign_in(tab, local_stack, local_stack.bootstrap_info["adminKey"], "webhooks")
    page.get_by_label("Source", exact=True).fill(source)
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=event_id).click()
    # Then it reaches PROCESSED on screen
    status = page.locator("dd[data-field='status']")
    status.get_by_text("PROCESSED").wait_for(timeout=20_000)
    assert page.locator("dd[data-field='replays']").inner_text() == "0"
    tab.screenshot("webhook-event")
    # And a replay runs it again, back to PROCESSED
    page.get_by_role("button", name="Replay").click()
    page.locator("dd[data-field='replays']", has_text="1").wait_for(timeout=20_000)
    status.get_by_text("PROCESSED").wait_for(timeout=20_000)
    page.goto(f"{local_stack.api_url}/console#/webhooks?source={source}")
    page.get_by_role("link", name=event_id).wait_for()
    tab.screenshot("webhooks")


def test_a_campaign_starting_in_seconds_shows_running_on_its_timeline(tab: Watched, local_stack: Any) -> None:
    # The page's clock is Playwright's: it stands still, on a whole second, from just before the campaign
    # is created (the form computes its start from it) until its countdown has been read, so the
    # countdown shows exactly three seconds however long the machine took. Then it runs on, and the
    # scheduler starts the campaign on the real clock.
    tab.page.clock.install()
    page = sign_in(tab, local_stack, local_stack.bootstrap_info["adminKey"], "campaigns")
    page.get_by_text("New campaign").click()
    page.get_by_label("Name").fill(f"launch {uuid.uuid4().hex[:6]}")
    page.get_by_label("Starts in (seconds)").fill("3")
    page.get_by_label("Target engagements (optional)").fill("10")
    # A whole second, far enough ahead that the campaign (due 3 s after it) cannot start on the real
    # clock before the page has shown it SCHEDULED, however slow the machine.
    page.clock.pause_at(datetime.fromtimestamp(int(time.time()) + 8, UTC))
    page.get_by_role("button", name="Create campaign").click()
    page.locator("[data-status='SCHEDULED']").wait_for()
    countdown = page.locator("[data-timer='START'] [data-countdown]")
    assert countdown.inner_text() == "in 3s"
    tab.screenshot("campaign-scheduled")
    page.clock.resume()
    page.locator("[data-status='RUNNING']").wait_for(timeout=30_000)
    page.get_by_role("cell", name="timer.START").wait_for()  # visible, or fails after the timeout
    tab.screenshot("campaign-running")
    page.get_by_role("link", name="← Campaigns").click()
    page.locator("[data-campaign-id]").first.wait_for()
    tab.screenshot("campaigns")


def test_exhausting_a_custom_limit_shows_the_429s(tab: Watched, local_stack: Any) -> None:
    # Given a key, and a custom limit of 3 an hour set on it in the override form
    key = new_key(local_stack, f"limited {uuid.uuid4().hex[:6]}", ["keys:read"])
    me = api(local_stack, "GET", "/v1/me", token=key["key"]).json()
    page = sign_in(tab, local_stack, local_stack.bootstrap_info["adminKey"])
    page.goto(f"{local_stack.api_url}/console#/ratelimit?subject={me['principalId']}&owner={me['ownerId']}")
    page.get_by_role("heading", name=f"Override of {me['principalId']}").wait_for()
    form = page.get_by_role("form", name="Edit override")
    form.get_by_label("Requests").first.fill("3")
    form.get_by_label("Per seconds").first.fill("3600")
    form.get_by_role("button", name="Save override").click()
    page.get_by_text("Override saved.").wait_for()
    # When the key spends it and more
    statuses = [api(local_stack, "GET", "/v1/keys", token=key["key"]).status_code for _ in range(5)]
    assert statuses.count(429) >= 2, statuses
    # Then its usage gauge shows the window exhausted
    page.reload()
    gauges = page.locator(f"[data-subject='{me['principalId']}'] .gauge-row")
    gauges.first.wait_for()
    assert page.locator(".gauge-row[data-level='full']").count() >= 1
    assert "exhausted" in gauges.first.inner_text()
    tab.screenshot("ratelimit")
    # And the overview, from the real GET /v1/metrics: the 429s just caused are on its chart
    page.goto(f"{local_stack.api_url}/console#/overview")
    panel = page.locator("[data-metrics]")
    panel.wait_for()
    assert panel.get_attribute("data-metrics") == "available", panel.inner_text()
    chart = page.locator("figure", has_text="Rate-limited (429s)")
    assert chart.locator("text.value").first.text_content() not in ("0", "")
    tab.screenshot("overview-after-429s")


def test_the_overview_charts_the_metrics_shape(tab: Watched, local_stack: Any) -> None:
    # The metrics route lands separately (SPEC §13); its answer is stubbed in the browser here.
    def metrics(route: Any) -> None:
        window = route.request.url.rsplit("window=", 1)[-1]
        scale = {"5m": 1, "1h": 12, "24h": 288}[window]
        route.fulfill(json={
            "window": window,
            "requests": {"total": 300 * scale, "byStatus": {"200": 290 * scale, "429": 7 * scale, "500": 3 * scale},
                         "successRate": 0.9667, "errorRate": 0.01, "perSecond": 1.0,
                         "latencyMs": {"avg": 12.0, "p50": 8.0, "p95": 40.0, "p99": 95.0},
                         "topRoutes": [{"route": "GET /v1/keys", "requests": 120, "errors": 1, "p95Ms": 30.0}],
                         "topPrincipals": [{"principal": HOSTILE, "requests": 99}]},
            "rateLimit": {"checked": 300 * scale, "limited": 7 * scale},
            "webhooks": {}, "timers": {}, "breakers": {"callbacks": "open"},
        })  # fmt: skip

    tab.page.route(re.compile(r".*/v1/metrics\?window=.*"), metrics)
    page = sign_in(tab, local_stack, local_stack.bootstrap_info["adminKey"])
    page.locator("[data-metrics='available']").wait_for()
    chart = page.locator("figure", has_text="Rate-limited (429s)")
    assert chart.locator("text.value").all_text_contents() == ["7", "84", "2016"]
    page.get_by_role("cell", name=HOSTILE).wait_for()  # visible, or fails after the timeout
    assert page.locator("main img").count() == 0
    tab.screenshot("overview-metrics")


def test_hostile_names_render_as_text_and_run_nothing(tab: Watched, local_stack: Any) -> None:
    new_key(local_stack, HOSTILE, ["keys:read"])
    created = api(local_stack, "POST", "/v1/campaigns",
                  json={"name": HOSTILE, "startTime": at(3600), "durationHours": 1})  # fmt: skip
    assert created.status_code == 201, created.text
    page = sign_in(tab, local_stack, local_stack.bootstrap_info["adminKey"], "keys")
    page.get_by_role("cell", name=HOSTILE).first.wait_for()
    assert page.locator("main img").count() == 0
    tab.screenshot("keys-hostile-name")
    page.goto(f"{local_stack.api_url}/console#/campaigns/{created.json()['id']}")
    page.get_by_role("heading", name=HOSTILE).wait_for()
    assert page.locator("main img").count() == 0
    page.goto(f"{local_stack.api_url}/console#/campaigns")
    page.get_by_role("link", name=HOSTILE).first.wait_for()
    assert page.locator("main img").count() == 0
    time.sleep(0.3)  # an onerror would have fired by now; the tab fixture asserts no dialog came


def test_a_credential_without_webhooks_read_is_not_offered_the_webhook_views(tab: Watched, local_stack: Any) -> None:
    key = new_key(local_stack, "no webhooks", ["keys:read", "campaigns:read"])
    page = sign_in(tab, local_stack, key["key"])
    assert page.locator("#nav a").all_inner_texts() == ["Overview", "Keys", "Rate limits", "Campaigns"]
    page.goto(f"{local_stack.api_url}/console#/webhooks")
    page.get_by_text("does not hold webhooks:read").wait_for()
    assert page.locator("[data-event-id]").count() == 0
    tab.screenshot("no-webhooks-read")
    # And keys:read without keys:write: the list, but no create, rotate or revoke
    page.goto(f"{local_stack.api_url}/console#/keys")
    page.get_by_role("heading", name="Keys", exact=True).wait_for()
    assert page.get_by_role("button", name="Create key").count() == 0
    assert page.get_by_role("button", name="Revoke").count() == 0


def test_breakers_view(tab: Watched, local_stack: Any) -> None:
    page = sign_in(tab, local_stack, local_stack.bootstrap_info["adminKey"], "breakers")
    page.get_by_role("heading", name="Breaker states").wait_for()
    unavailable = page.locator("[data-breakers='unavailable']")
    rows = page.locator("main table tbody tr")
    rows.first.or_(unavailable).wait_for()
    tab.screenshot("breakers")


def test_register_a_source_and_rotate_its_secret(tab: Watched, local_stack: Any) -> None:
    page = sign_in(tab, local_stack, local_stack.bootstrap_info["adminKey"], "webhooks")
    name = f"ui-{uuid.uuid4().hex[:8]}"
    page.get_by_text("Register a source").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Register source").click()
    first = page.locator("[data-secret]").inner_text()
    assert first.startswith("whsec_")
    # The generated secret verifies a webhook
    body = b'{"type": "ping"}'
    sent = requests.post(f"{local_stack.api_url}/webhooks/{name}", data=body,
                         headers=standard_headers(first, body), timeout=10)  # fmt: skip
    assert sent.status_code == 202, sent.text
    page.get_by_role("link", name="Refresh").click()
    row = page.locator("tr", has=page.get_by_role("cell", name=name, exact=True))
    row.get_by_role("button", name="Rotate secret").click()
    page.get_by_text(f"New secret of {name}").wait_for()
    assert page.locator("[data-secret]").inner_text() not in ("", first)


def test_execute_a_timer_then_cancel_the_campaign(tab: Watched, local_stack: Any) -> None:
    created = api(
        local_stack, "POST", "/v1/campaigns", json={"name": "by hand", "startTime": at(3600), "durationHours": 1}
    )
    assert created.status_code == 201, created.text
    page = sign_in(tab, local_stack, local_stack.bootstrap_info["adminKey"], f"campaigns/{created.json()['id']}")
    page.locator("[data-status='SCHEDULED']").wait_for()
    page.locator("[data-timer='START']").get_by_role("button", name="Execute now").click()
    page.locator("[data-status='RUNNING']").wait_for(timeout=15_000)
    page.get_by_label("Reason").fill("launch moved")
    page.get_by_role("button", name="Cancel campaign").click()
    page.locator("[data-status='CANCELLED']").wait_for(timeout=15_000)
    page.get_by_role("cell", name="launch moved").wait_for()  # visible, or fails after the timeout
