"""The analytics page at ``/analytics``: a server-rendered shell whose ES module
(``static/analytics/analytics.js``) reads ``/analytics/kpis``, ``/analytics/scorecards``
and ``/analytics/roi`` with the browser session and draws them with Chart.js (npm).

Like the console, the page holds no data: without a staff session it shows the
console's login screen (which reloads this page once signed in)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from ..auth.access import public
from .console import VENDOR as CONSOLE_VENDOR
from .console import _who, render
from .vendor import vendor_url

router = APIRouter()
VENDOR = {**CONSOLE_VENDOR, "chart_js": vendor_url("chart.js", "dist/chart.umd.min.js")}


@router.get("/analytics", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(public)])
async def analytics_page(request: Request) -> HTMLResponse:
    p = await run_in_threadpool(_who, request)
    headers = {"cache-control": "no-store"}
    if p is None:
        return HTMLResponse(render("console/login.html", vendor=VENDOR), headers=headers)
    if not p.is_staff:
        return HTMLResponse(render("console/forbidden.html", role=p.role), headers=headers)  # a page, not an API refusal
    return HTMLResponse(render("analytics/index.html", vendor=VENDOR), headers=headers)
