"""Cases: create, read, list, edit, move through the lifecycle, and their history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from app.api.deps import API, Ctx, adapter_for, parse_body
from app.api.idempotency import Idempotency
from app.api.openapi import json_body
from app.api.problems import responses
from app.api.responses import json_response
from app.models.record import CaseRecord
from app.schemas.case_views import AnyCaseView
from app.schemas.cases import CaseCreate, CaseFilters, CaseUpdate
from app.schemas.common import Page
from app.schemas.duplicates import PossibleDuplicates
from app.schemas.events import EventView
from app.schemas.subject_access import SubjectAccess
from app.schemas.transitions import transition_adapter
from app.services import cases, duplicates, exports, history, lifecycle, policy, subject_access
from app.services.policy import Actor
from app.services.views import present_case
from app.vocabulary import Action

router = APIRouter(prefix=f"{API}/cases", tags=["cases"])

READ_ERRORS = (401, 403, 404, 422, 500, 503)
WRITE_ERRORS = (*READ_ERRORS, 409, 412, 413, 428)
IF_MATCH = Header(
    alias="If-Match",
    description='The case\'s current ETag, e.g. "3". Required: without it the answer is 428.',
)
LEAVING_SCOPE = ", ".join(action for action in Action if policy.leaves_scope(action))
Limit = Annotated[int, Query(ge=1, le=200, description="Page size, 1–200.")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page")
]


def case_response(actor: Actor, record: CaseRecord, status: int = 200, **headers: str) -> Response:
    """One case as the caller may see it, with its version as the ETag."""
    return json_response(
        present_case(actor, record),
        status,
        headers={"ETag": f'"{record.case["version"]}"', **headers},
    )


async def case_filters(
    filters: Annotated[CaseFilters, Query()],
) -> CaseFilters:
    return filters


Filters = Annotated[CaseFilters, Depends(case_filters)]


@router.post(
    "",
    status_code=201,
    response_model=AnyCaseView,
    responses=responses(*WRITE_ERRORS),
    openapi_extra=json_body("CaseCreate", adapter_for(CaseCreate)),
    summary="Register a case (household)",
)
async def create_case(request: Request, ctx: Ctx, idem: Idempotency) -> Response:
    if idem.replay is not None:
        return idem.replay
    data = await parse_body(request, adapter_for(CaseCreate))
    record = await cases.create_case(ctx.db, ctx.actor, data, ctx.now)
    location = f"{request.url.path}/{record.case['id']}"
    return await idem.store(case_response(ctx.actor, record, 201, Location=location))


@router.get(
    "",
    response_model=Page[AnyCaseView],
    responses=responses(*READ_ERRORS),
    summary="List the cases you can see",
)
async def list_cases(
    ctx: Ctx, filters: Filters, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    records, next_cursor = await cases.list_cases(
        ctx.db, ctx.actor, filters, limit=limit, cursor=cursor, now=ctx.now
    )
    items = [present_case(ctx.actor, record) for record in records]
    return json_response({"items": items, "next_cursor": next_cursor})


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {"description": "CSV, one row per case", "content": {"text/csv": {}}},
        **responses(*READ_ERRORS),
    },
    summary="The same filters as the list, as CSV (streamed)",
)
async def export_cases(request: Request, ctx: Ctx, filters: Filters) -> StreamingResponse:
    await cases.log_export(ctx.db, ctx.actor, filters, ctx.now)
    return StreamingResponse(
        exports.export_cases(request.app.state.database, ctx.actor, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": exports.attachment(exports.export_filename(ctx.now))},
    )


@router.get(
    "/{case_id:uuid}",
    response_model=AnyCaseView,
    responses=responses(*READ_ERRORS),
    summary="Read one case",
)
async def read_case(ctx: Ctx, case_id: uuid.UUID) -> Response:
    return case_response(ctx.actor, await cases.read_case(ctx.db, ctx.actor, case_id, ctx.now))


@router.patch(
    "/{case_id:uuid}",
    response_model=AnyCaseView,
    responses=responses(*WRITE_ERRORS),
    openapi_extra=json_body("CaseUpdate", adapter_for(CaseUpdate)),
    summary="Change a case's details or members",
)
async def update_case(
    request: Request,
    ctx: Ctx,
    case_id: uuid.UUID,
    if_match: Annotated[str | None, IF_MATCH] = None,
) -> Response:
    data = await parse_body(request, adapter_for(CaseUpdate))
    record = await cases.update_case(ctx.db, ctx.actor, case_id, data, if_match, ctx.now)
    return case_response(ctx.actor, record)


@router.post(
    "/{case_id:uuid}/transitions",
    response_model=AnyCaseView,
    responses={
        **responses(*WRITE_ERRORS),
        200: {
            "description": "The case as you now see it.",
            "headers": {
                "Location": {
                    "description": "split_case only: the URL of the new case.",
                    "schema": {"type": "string"},
                }
            },
        },
        204: {"description": f"Done; the case has left your scope ({LEAVING_SCOPE})."},
    },
    openapi_extra=json_body("Transition", transition_adapter),
    summary="Take a lifecycle action on a case",
)
async def transition(
    request: Request,
    ctx: Ctx,
    idem: Idempotency,
    case_id: uuid.UUID,
    if_match: Annotated[str | None, IF_MATCH] = None,
) -> Response:
    if idem.replay is not None:
        return idem.replay
    command = await parse_body(request, transition_adapter)
    record = await lifecycle.apply_transition(
        ctx.db,
        ctx.actor,
        case_id,
        command,
        if_match,
        ctx.now,
        checklist=request.app.state.settings.departure_requirements,
    )
    action = Action(command.action)
    if policy.leaves_scope(action):
        response = Response(status_code=204, headers={"ETag": f'"{record.case["version"]}"'})
    elif action is Action.split_case:  # the new case is the last one split from it
        split_into = record.case["split_into"] or []
        location = f"{router.prefix}/{split_into[-1]}"
        response = case_response(ctx.actor, record, Location=location)
    else:
        response = case_response(ctx.actor, record)
    return await idem.store(response)


@router.get(
    "/{case_id:uuid}/events",
    response_model=Page[EventView],
    responses=responses(*READ_ERRORS),
    summary="The case's history, oldest first",
)
async def list_events(
    ctx: Ctx, case_id: uuid.UUID, limit: Limit = 50, cursor: Cursor = None
) -> Page[EventView]:
    return await history.list_events(
        ctx.db, ctx.actor, case_id, limit=limit, cursor=cursor, now=ctx.now
    )


@router.get(
    "/{case_id:uuid}/members/{member_id:uuid}/subject-access",
    response_model=SubjectAccess,
    responses=responses(*READ_ERRORS),
    summary="Everything held about one member, and who read it (supervisor)",
)
async def member_subject_access(ctx: Ctx, case_id: uuid.UUID, member_id: uuid.UUID) -> Response:
    reference, document = await subject_access.subject_access(
        ctx.db, ctx.actor, case_id, member_id, ctx.now
    )
    filename = f"pta-subject-access-{reference}-{member_id}.json"
    return json_response(document, headers={"Content-Disposition": exports.attachment(filename)})


@router.get(
    "/{case_id:uuid}/possible-duplicates",
    response_model=PossibleDuplicates,
    responses=responses(*READ_ERRORS),
    summary="Members of other cases who may be the same people (caseworker, supervisor)",
)
async def possible_duplicates(ctx: Ctx, case_id: uuid.UUID) -> PossibleDuplicates:
    items = await duplicates.possible_duplicates(ctx.db, ctx.actor, case_id, ctx.now)
    return PossibleDuplicates(items=items)
