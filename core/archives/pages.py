"""Pages of the archive: the household list and 一户一档, the household file.

They show exactly what the JSON API shows (the same functions build both): ID numbers and
phones masked unless the viewer holds ``archive.read_sensitive`` at the household's unit,
and such an unmasked read audited before the page is sent.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from core.archives.care import LEVELS, TAGS
from core.archives.household_file import household_file, local_time
from core.archives.listing_api import Filters, page_of_households
from core.identity.access import Actor
from core.identity.web import require_actor
from core.web.inputs import Offset, RowId
from core.web.render import render

pages = APIRouter(prefix="/archives", dependencies=[Depends(require_actor)])
Viewer = Annotated[Actor, Depends(require_actor)]
PAGE = 50


@pages.get("/households", response_class=HTMLResponse)
async def households_page(
    request: Request, actor: Viewer, filters: Filters, offset: Offset = 0
) -> HTMLResponse:
    """户列表: the households the viewer may see, with the API's filters and search."""
    kernel = request.app.state.kernel

    found = await run_in_threadpool(page_of_households, kernel, actor, filters, PAGE + 1, offset)
    query = filters.query()
    more = len(found) > PAGE
    return await render(
        request,
        "core/archives_households.html",
        {
            "households": found[:PAGE],
            "filters": query,
            "tags": TAGS,
            "levels": LEVELS,
            "previous": urlencode(query | {"offset": max(offset - PAGE, 0)}) if offset else None,
            "next": urlencode(query | {"offset": offset + PAGE}) if more else None,
        },
    )


@pages.get("/households/{household_id}", response_class=HTMLResponse)
async def household_page(household_id: RowId, request: Request, actor: Viewer) -> HTMLResponse:
    """一户一档: the household, its members, housing, vehicles, plugins' records and sections,
    and its timeline (404 outside the viewer's scope)."""
    household = await run_in_threadpool(household_file, request, actor, household_id)
    return await render(
        request, "core/archives_household.html", {"household": household, "when": local_time}
    )
