"""`GET /v1/invoices` over HTTP: drafts and closed invoices, filters, pages, line tracing,
other tenants, wrong prefixes and scopes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio.to_thread
import httpx
import pytest

from domain.billing.invoice import invoice_id
from domain.billing.period import Period
from domain.shared.cause import SYSTEM
from domain.shared.ids import format_id, parse_id
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, error_of, sign_up
from tests.e2e.test_api_keys import bearer, make_key
from tests.support.billing import at, billing_settings, record, usage

pytestmark = pytest.mark.anyio
IN, LLAMA = "inference.input_tokens", "llama-3.2-1b-instruct"
JAN, FEB, MAR = Period(2026, 1), Period(2026, 2), Period(2026, 3)


@pytest.fixture
def plane(backend_settings: Settings, tmp_path: Path) -> Iterator[ControlPlane]:
    """The conftest's plane, with the test prices and a worker that closes nothing itself."""
    plane = ControlPlane(billing_settings(backend_settings, tmp_path))
    plane.start_workers()
    try:
        yield plane
    finally:
        plane.close()


def public(org: UUID, period: Period) -> str:
    return format_id("inv", invoice_id(org, period))


async def invoiced_months(plane: ControlPlane, account: Account) -> UUID:
    """January to March closed (January paid, February void) and usage this month."""
    org = parse_id("org", account.org_id)
    now = time.time()

    def work() -> None:
        record(plane, usage(org, "jan", IN, 1_000_000, at(2026, 1, 5), model=LLAMA),
               usage(org, "feb", IN, 2_000_000, at(2026, 2, 5), model=LLAMA),
               usage(org, "mar-1", IN, 500_000, at(2026, 3, 2, 9), model=LLAMA),
               usage(org, "mar-2", IN, 250_000, at(2026, 3, 2, 17), model=LLAMA),
               usage(org, "mar-3", IN, 250_000, at(2026, 3, 30), model=LLAMA),
               usage(org, "mar-4", "rl.grader_calls", 3, at(2026, 3, 30)),
               usage(org, "now", IN, 4_000_000, max(Period.of(now).start, now - 60), model=LLAMA))
        for period in (JAN, FEB, MAR):
            closing = plane.billing.prepare_close(period, now=now)
            plane.billing.close_invoice(org, closing)
        plane.billing.pay(invoice_id(org, JAN), at=now, cause=SYSTEM)
        done = plane.billing.void(invoice_id(org, FEB), reason="goodwill", at=now,
                                  cause=SYSTEM)
        record(plane, usage(org, "mar-late", IN, 7, at(2026, 3, 3), model=LLAMA))  # after the close
        plane.await_projections(plane.billing.name, done.position)

    await anyio.to_thread.run_sync(work)
    return org


async def invoices(client: httpx.AsyncClient, headers: dict[str, str], **params: Any
                   ) -> httpx.Response:
    return await client.get("/v1/invoices", headers=headers, params=params)


async def test_list_filter_page_get_trace_and_isolate(client: httpx.AsyncClient,
                                                       plane: ControlPlane) -> None:
    ada, bob = await sign_up(client), await sign_up(client, "bob")
    org = await invoiced_months(plane, ada)
    draft_id = public(org, Period.of(time.time()))
    listed = (await invoices(client, ada.headers)).json()
    assert [(i["id"], i["status"]) for i in listed["data"]] == [
        (draft_id, "draft"), (public(org, MAR), "finalized"), (public(org, FEB), "void"),
        (public(org, JAN), "paid")]
    assert listed["has_more"] is False and listed["first_id"] == draft_id
    draft, march = listed["data"][0], listed["data"][1]
    # 4,000,000 * 0.06 / 1M = 0.24, live, with no usage position and no actions
    assert (draft["total"], draft["usage_position"], draft["version"]) == ("0.240000", None, 0)
    assert draft["allowed_actions"] == [] and draft["finalized_at"] is None
    assert march["object"] == "invoice" and march["organization_id"] == ada.org_id
    assert (march["period"], march["period_start"], march["period_end"]) == (
        "2026-03", MAR.start, MAR.end)
    # 1,000,000 * 0.06 / 1M = 0.06 and 3 * 0.50 / 1000 = 0.0015
    assert [(line["index"], line["meter"], line["quantity"], line["amount"], line["records"])
            for line in march["lines"]] == [(0, IN, 1_000_000, "0.060000", 3),
                                            (1, "rl.grader_calls", 3, "0.001500", 1)]
    assert (march["subtotal"], march["total"], march["currency"]) == ("0.061500", "0.061500",
                                                                      "usd")
    assert march["allowed_actions"] == ["pay", "void"] and march["version"] == 1
    assert listed["data"][2]["void_reason"] == "goodwill"

    first = (await invoices(client, ada.headers, limit=2)).json()
    assert [i["id"] for i in first["data"]] == [draft_id, public(org, MAR)] and first["has_more"]
    rest = (await invoices(client, ada.headers, limit=2, after=first["last_id"])).json()
    assert [i["id"] for i in rest["data"]] == [public(org, FEB), public(org, JAN)]
    assert rest["has_more"] is False
    for params, expected in (({"status": "paid"}, [JAN]), ({"period": "2026-02"}, [FEB]),
                             ({"status": "finalized", "period": "2026-03"}, [MAR])):
        found = (await invoices(client, ada.headers, **params)).json()["data"]
        assert [i["id"] for i in found] == [public(org, p) for p in expected], params
    only_draft = (await invoices(client, ada.headers, status="draft")).json()["data"]
    assert [i["id"] for i in only_draft] == [draft_id]
    error_of(await invoices(client, ada.headers, period="2026-3"), 400)
    error_of(await invoices(client, ada.headers, status="open"), 400)

    got = await client.get(f"/v1/invoices/{public(org, MAR)}", headers=ada.headers)
    assert got.status_code == 200 and got.json() == march
    got_draft = await client.get(f"/v1/invoices/{draft_id}", headers=ada.headers)
    assert got_draft.json()["status"] == "draft"
    await invoices_as_they_were(client, ada, bob, org, draft_id)

    # Line 0 sums three records on two days; the late record is not one of them.
    trace = (await client.get(f"/v1/invoices/{public(org, MAR)}/lines/0/usage",
                              headers=ada.headers, params={"limit": 2})).json()
    assert trace["object"] == "invoice.line_usage" and trace["line"] == march["lines"][0]
    day2, day30 = at(2026, 3, 2), at(2026, 3, 30)
    assert [(b["start_time"], b["end_time"], b["quantity"], b["records"])
            for b in trace["buckets"]] == [(day2, day2 + 86400, 750_000, 2),
                                           (day30, day30 + 86400, 250_000, 1)]
    page = trace["records"]
    assert [r["source_id"] for r in page["data"]] == ["mar-1", "mar-2"] and page["has_more"]
    assert page["data"][0]["seq"] <= march["usage_position"]
    more = (await client.get(f"/v1/invoices/{public(org, MAR)}/lines/0/usage",
                             headers=ada.headers, params={"after": page["last_id"]})).json()
    assert [r["source_id"] for r in more["records"]["data"]] == ["mar-3"]
    error_of(await client.get(f"/v1/invoices/{public(org, MAR)}/lines/2/usage",
                              headers=ada.headers), 404)
    draft_trace = (await client.get(f"/v1/invoices/{draft_id}/lines/0/usage",
                                    headers=ada.headers)).json()
    assert [r["source_id"] for r in draft_trace["records"]["data"]] == ["now"]
    await other_tenants_wrong_prefixes_and_scopes(client, ada, bob, org)


async def invoices_as_they_were(client: httpx.AsyncClient, ada: Account, bob: Account,
                                org: UUID, draft_id: str) -> None:
    """January, paid at version 2, read at version 1 from its log: finalized, payable."""
    january = f"/v1/invoices/{public(org, JAN)}"
    then = await client.get(january, headers=ada.headers, params={"version": 1})
    assert then.status_code == 200 and then.headers["etag"] == '"1"'
    assert (then.json()["status"], then.json()["allowed_actions"]) == ("finalized",
                                                                       ["pay", "void"])
    now = (await client.get(january, headers=ada.headers)).json()
    rebuilt = (await client.get(january, headers=ada.headers, params={"version": 2})).json()
    assert now["status"] == "paid" and rebuilt == now
    error_of(await client.get(january, headers=ada.headers, params={"version": 3}), 404)
    error_of(await client.get(january, headers=bob.headers, params={"version": 1}), 404)
    error_of(await client.get(f"/v1/invoices/{draft_id}", headers=ada.headers,
                              params={"version": 1}), 404)
    error_of(await client.get(january, headers=ada.headers,
                              params={"version": 1, "as_of": 1}), 400)


async def other_tenants_wrong_prefixes_and_scopes(client: httpx.AsyncClient, ada: Account,
                                                  bob: Account, org: UUID) -> None:
    mine = public(org, MAR)
    for path in (f"/v1/invoices/{mine}", f"/v1/invoices/{mine}/lines/0/usage"):
        error_of(await client.get(path, headers=bob.headers), 404, "not_found")
    error_of(await client.get(f"/v1/invoices/org_{org.hex}", headers=ada.headers), 404)
    error_of(await client.get("/v1/invoices/inv_nope", headers=ada.headers), 404)
    bobs = (await invoices(client, bob.headers)).json()["data"]
    assert [i["status"] for i in bobs] == ["draft"] and bobs[0]["lines"] == []
    assert (await invoices(client, bob.headers, after=mine)).json()["data"] == []

    reader = await make_key(client, ada, scopes=["billing:read"])
    assert (await invoices(client, bearer(reader))).status_code == 200
    error_of(await invoices(client, bearer(await make_key(client, ada, scopes=["usage:read"]))),
             403, "insufficient_scope")
    project = await create_project(client, ada, "p")
    scoped = await make_key(client, ada, scopes=["billing:read"], project_id=project["id"])
    error_of(await client.get(f"/v1/invoices/{mine}", headers=bearer(scoped)), 403)
