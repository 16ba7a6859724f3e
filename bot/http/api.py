"""The HTTP API under `/api/v1` (FastAPI, mounted in `warroom serve`'s Starlette app).

Every request carries a bearer token from `warroom api-tokens create`; a `read` token reads, a
`write` token also declares and changes incidents, each write under the client's
`Idempotency-Key` (a retry gets the first answer back, never a second change). A change made
here is the one Slack makes: the same war room, the same lines in the room and the broadcast
channel (saying which token made it), the same timeline. Every error is problem details
(RFC 9457). Each token may make `WARROOM_API_RATE_LIMIT` requests a minute per process.
"""

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.exceptions import HTTPException

from bot import clock
from bot.api.queries import (
    EVERYTHING,
    PUBLIC,
    IncidentFilter,
    Reader,
    incident_by_number,
    list_alerts,
    list_incidents,
    timeline_page,
)
from bot.api.queries import followups_of as stored_followups
from bot.api.tokens import find_token, touch
from bot.api.writes import earlier, fingerprint, remember
from bot.deps import Deps
from bot.errors import WarroomError
from bot.flows.changes import record_outcome
from bot.flows.effects import require_person
from bot.flows.rooms import declare
from bot.http.api_schema import (
    PROBLEM_TYPE,
    WORDS,
    AlertOut,
    AlertPage,
    DeclareIn,
    EventOut,
    FollowUpOut,
    IncidentOut,
    IncidentPage,
    Problem,
    SeverityIn,
    StatusFilter,
    StatusIn,
    TextIn,
    TimelinePage,
)
from bot.incidents.changes import (
    AlreadyChanged,
    Context,
    IncidentClosed,
    Outcome,
    change_severity,
    change_status,
)
from bot.incidents.errors import IncidentNotFound, InvalidInput
from bot.incidents.notes import add_note, post_update
from bot.incidents.permissions import Actor, NotAllowed
from bot.incidents.rules import Declaration, Severity, Status, clean_note, clean_summary, clean_title
from bot.incidents.service import record_event
from bot.postmortem.draft import build_draft
from bot.postmortem.models import Draft
from bot.postmortem.render import draft_json, draft_markdown
from bot.text import escape_mrkdwn
from storage.errors import is_unique_violation
from storage.session import run_in_session

_STATUS = {
    InvalidInput: 422,
    IncidentNotFound: 404,
    NotAllowed: 403,
    AlreadyChanged: 409,
    IncidentClosed: 409,
}
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_TYPE: {}}, "description": what}
    for status, what in (
        (400, "Bad request"),
        (401, "No valid bearer token"),
        (403, "The token may not do this"),
        (404, "No such incident (or not one this token may see)"),
        (422, "Invalid input"),
        (429, "Too many requests from this token; see Retry-After"),
    )
}
_WRITE_PROBLEMS = _PROBLEMS | {
    409: {"model": Problem, "content": {PROBLEM_TYPE: {}}, "description": "Already so, or closed"}
}
MAX_PAGE = 100


class ApiProblem(Exception):
    """Answer with problem details."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """Problem details (RFC 9457) with their media type."""
    title = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
        413: "Content Too Large",
        422: "Unprocessable Content",
        429: "Too Many Requests",
    }.get(status, "Error")
    body = Problem(title=title, status=status, detail=detail, **extra).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


@dataclass(frozen=True)
class Caller:
    """Whom a request comes from: an API token."""

    token_id: int
    name: str
    write: bool
    private: bool  # may see private incidents

    @property
    def reader(self) -> Reader:
        """What this token may read: every incident, or only the public ones."""
        return EVERYTHING if self.private else PUBLIC


class RateLimit:
    """A token bucket per API token: `per_minute` requests a minute, bursts up to a tenth of it."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60
        self.burst = max(1.0, per_minute / 10)
        self._buckets: dict[int, tuple[float, float]] = {}

    def wait(self, token_id: int) -> float:
        """0 when a request may go now (and take its place), else the seconds until one may."""
        now = time.monotonic()
        level, then = self._buckets.get(token_id, (self.burst, now))
        level = min(self.burst, level + (now - then) * self.rate)
        if level < 1:
            self._buckets[token_id] = (level, now)
            return (1 - level) / self.rate
        self._buckets[token_id] = (level - 1, now)
        return 0.0


def _cursor(value: int | None) -> str | None:
    return None if value is None else str(value)


def _after(cursor: str | None) -> int | None:
    return None if cursor is None else int(cursor)


def create_api(deps: Deps) -> FastAPI:
    """The API app, to mount at `/api/v1`."""
    api = FastAPI(
        title="Warroom API",
        version="1",
        description=__doc__,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    limits = RateLimit(deps.settings.warroom_api_rate_limit)
    bearer = HTTPBearer(auto_error=False, description="A token from `warroom api-tokens create`")

    async def caller(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiProblem(
                401, "Send a token: Authorization: Bearer <token>.", {"WWW-Authenticate": "Bearer"}
            )

        def check(session: Session) -> Caller | None:
            token = find_token(session, credentials.credentials)
            if token is None or token.id is None:
                return None
            touch(session, token, clock.now())
            return Caller(token.id, token.name, token.scope == "write", token.private)

        found = await run_in_session(check)
        if found is None:
            raise ApiProblem(401, "That token is unknown or revoked.", {"WWW-Authenticate": "Bearer"})
        if wait := limits.wait(found.token_id):
            raise ApiProblem(429, "Too many requests from this token.", {"Retry-After": str(int(wait) + 1)})
        return found

    async def writer(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if not who.write:
            raise ApiProblem(
                403, f"The token {who.name} may only read; create a write token to change incidents."
            )
        return who

    Reader = Annotated[Caller, Depends(caller)]
    Writer = Annotated[Caller, Depends(writer)]
    Number = Annotated[int, Path(ge=1, le=10**9, description="The incident's number: 7 for INC-7")]
    Key = Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Unique per write; a retry with the same key gets the first answer back",
        ),
    ]
    Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
    Cursor = Annotated[
        str | None, Query(pattern=r"^[1-9][0-9]{0,8}$", description="`next_cursor` of the previous page")
    ]
    router = APIRouter(responses=_PROBLEMS)

    async def context() -> Context:
        bot = await deps.slack.bot_user_id()
        return Context(actor=Actor(bot), at=clock.now(), admins=[bot], bot_user_id=bot)

    async def once(
        request: Request, who: Caller, key: str, status: int, act: Callable[[Session], BaseModel]
    ) -> JSONResponse:
        """Make the change and keep its answer under `key`, in one transaction; replay a retry."""
        seen = fingerprint(request.method, request.url.path, await request.body())

        def run(session: Session) -> tuple[int, dict[str, Any], bool]:
            if (first := earlier(session, who.token_id, key)) is not None:
                if first.fingerprint != seen:
                    raise ApiProblem(422, "This Idempotency-Key was used for another request; use a new key.")
                return first.status, first.response, True
            answer = act(session).model_dump(mode="json")
            path = request.url.path
            remember(
                session,
                who.token_id,
                key,
                method=request.method,
                path=path,
                fingerprint=seen,
                status=status,
                response=answer,
                at=clock.now(),
            )
            return status, answer, False

        try:
            code, body, replayed = await run_in_session(run)
        except IntegrityError as exc:  # a concurrent request with this key committed first
            if not is_unique_violation(exc):
                raise
            code, body, replayed = await run_in_session(run)
        deps.jobs.wake()
        return JSONResponse(
            body, status_code=code, headers={"Idempotent-Replayed": "true"} if replayed else None
        )

    def through(who: Caller) -> str:
        return f"\n_Through the Warroom API, token *{escape_mrkdwn(who.name)}*._"

    def change(
        session: Session, who: Caller, key: str, number: int, make: Callable[..., Outcome], *args: Any
    ) -> IncidentOut:
        incident = incident_by_number(session, number, reader=who.reader)
        assert incident.id is not None
        outcome = make(session, incident.id, *args)
        outcome = dataclasses.replace(outcome, message=outcome.message + through(who))
        record_outcome(session, outcome, key=f"outcome:api:{who.token_id}:{key}"[:255])
        return IncidentOut.of(outcome.incident)

    @router.get("/incidents", response_model=IncidentPage, summary="List incidents, newest first")
    async def incidents(
        who: Reader,
        status: Annotated[StatusFilter | None, Query()] = None,
        severity: Annotated[int | None, Query(ge=1, le=4)] = None,
        service: Annotated[str | None, Query(pattern=WORDS, max_length=200)] = None,
        q: Annotated[
            str | None, Query(pattern=WORDS, max_length=200, description="Text in the title")
        ] = None,
        drill: Annotated[bool | None, Query()] = None,
        limit: Limit = 25,
        cursor: Cursor = None,
    ) -> IncidentPage:
        where = IncidentFilter(status=status, severity=severity, service=service, text=q, drill=drill)
        page = await run_in_session(
            list_incidents, where, reader=who.reader, limit=limit, before=_after(cursor)
        )
        return IncidentPage(items=[IncidentOut.of(i) for i in page.items], next_cursor=_cursor(page.after))

    @router.get("/incidents/{number}", response_model=IncidentOut, summary="One incident")
    async def incident(who: Reader, number: Number) -> IncidentOut:
        return IncidentOut.of(await run_in_session(incident_by_number, number, reader=who.reader))

    @router.post(
        "/incidents",
        response_model=IncidentOut,
        status_code=201,
        responses=_WRITE_PROBLEMS,
        summary="Declare an incident (its war room opens as from Slack)",
    )
    async def declare_incident(request: Request, who: Writer, key: Key, body: DeclareIn) -> JSONResponse:
        ctx = await context()
        if body.commander is not None:  # they are invited and lead it: a typo must not open a room
            await require_person(deps, body.commander, "lead an incident")
        declaration = Declaration(
            title=clean_title(body.title),
            severity=Severity(body.severity),
            summary=clean_summary(body.summary),
            private=body.private,
        )

        def act(session: Session) -> IncidentOut:
            opened, created = declare(
                session,
                declaration,
                by=body.commander or ctx.actor.user_id,
                at=ctx.at,
                key=f"api:{who.token_id}:{key}"[:255],
            )
            if created:
                record_event(
                    session, opened, "note", at=ctx.at, text=f"Declared through the API by token {who.name}"
                )
            return IncidentOut.of(opened)

        return await once(request, who, key, 201, act)

    @router.post(
        "/incidents/{number}/severity",
        response_model=IncidentOut,
        responses=_WRITE_PROBLEMS,
        summary="Change the severity (raising it is broadcast)",
    )
    async def severity(
        request: Request, who: Writer, key: Key, number: Number, body: SeverityIn
    ) -> JSONResponse:
        ctx = await context()
        to = Severity(body.severity)
        return await once(
            request, who, key, 200, lambda s: change(s, who, key, number, change_severity, to, ctx)
        )

    @router.post(
        "/incidents/{number}/status",
        response_model=IncidentOut,
        responses=_WRITE_PROBLEMS,
        summary="Change the status (broadcast); `resolved` resolves it",
    )
    async def status_(
        request: Request, who: Writer, key: Key, number: Number, body: StatusIn
    ) -> JSONResponse:
        ctx = await context()
        to, summary = Status(body.status), clean_summary(body.summary)
        return await once(
            request, who, key, 200, lambda s: change(s, who, key, number, change_status, to, ctx, summary)
        )

    @router.post(
        "/incidents/{number}/updates",
        response_model=IncidentOut,
        responses=_WRITE_PROBLEMS,
        summary="Post a status update in the war room and the broadcast channel",
    )
    async def update(request: Request, who: Writer, key: Key, number: Number, body: TextIn) -> JSONResponse:
        ctx = await context()
        text = clean_note(body.text)
        return await once(
            request, who, key, 200, lambda s: change(s, who, key, number, post_update, text, ctx)
        )

    @router.post(
        "/incidents/{number}/notes",
        response_model=EventOut,
        status_code=201,
        responses=_WRITE_PROBLEMS,
        summary="Add a note to the timeline",
    )
    async def note(request: Request, who: Writer, key: Key, number: Number, body: TextIn) -> JSONResponse:
        ctx = await context()
        text = clean_note(body.text) + f" (through the API, token {who.name})"

        def act(session: Session) -> EventOut:
            found = incident_by_number(session, number, reader=who.reader)
            assert found.id is not None
            added = add_note(session, found.id, text, ctx, key=f"api:{who.token_id}:{key}"[:255])
            session.flush()
            return EventOut.of(added)

        return await once(request, who, key, 201, act)

    @router.get("/incidents/{number}/timeline", response_model=TimelinePage, summary="An incident's timeline")
    async def timeline(
        who: Reader,
        number: Number,
        kind: Annotated[str | None, Query(pattern=WORDS, max_length=40)] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> TimelinePage:
        def read(session: Session) -> TimelinePage:
            found = incident_by_number(session, number, reader=who.reader)
            assert found.id is not None
            page = timeline_page(session, found.id, kind=kind, limit=limit, after=_after(cursor))
            return TimelinePage(items=[EventOut.of(e) for e in page.items], next_cursor=_cursor(page.after))

        return await run_in_session(read)

    @router.get(
        "/incidents/{number}/postmortem",
        summary="The postmortem draft, as Markdown or JSON",
        response_class=JSONResponse,
        responses={200: {"model": Draft, "content": {"text/markdown": {"schema": {"type": "string"}}}}},
    )
    async def postmortem(
        who: Reader, number: Number, format: Annotated[str, Query(pattern="^(markdown|json)$")] = "markdown"
    ) -> Response:
        def read(session: Session) -> str:
            found = incident_by_number(session, number, reader=who.reader)
            assert found.id is not None
            draft = build_draft(session, found.id, now=clock.now())
            return draft_json(draft) if format == "json" else draft_markdown(draft)

        document = await run_in_session(read)
        kind = "application/json" if format == "json" else "text/markdown; charset=utf-8"
        return Response(document, media_type=kind)

    @router.get(
        "/incidents/{number}/followups", response_model=list[FollowUpOut], summary="An incident's follow-ups"
    )
    async def followups(who: Reader, number: Number) -> list[FollowUpOut]:
        def read(session: Session) -> list[FollowUpOut]:
            found = incident_by_number(session, number, reader=who.reader)
            assert found.id is not None
            return [FollowUpOut.of(f) for f in stored_followups(session, found.id)]

        return await run_in_session(read)

    @router.get("/alerts", response_model=AlertPage, summary="Alerts from every source, newest first")
    async def alerts(
        who: Reader,
        source: Annotated[str | None, Query(pattern=WORDS, max_length=40)] = None,
        status: Annotated[str | None, Query(pattern="^(triggered|acknowledged|resolved)$")] = None,
        triage: Annotated[str | None, Query(pattern="^(high|low|info|ignore)$")] = None,
        limit: Limit = 25,
        cursor: Cursor = None,
    ) -> AlertPage:
        page = await run_in_session(
            list_alerts,
            source=source,
            status=status,
            triage=triage,
            reader=who.reader,
            limit=limit,
            before=_after(cursor),
        )
        return AlertPage(items=[AlertOut.of(a, n) for a, n in page.items], next_cursor=_cursor(page.after))

    api.include_router(router)

    @api.exception_handler(ApiProblem)
    async def _problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.detail, exc.headers)

    @api.exception_handler(WarroomError)
    async def _refused(request: Request, exc: WarroomError) -> JSONResponse:
        status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
        return problem(status, exc.user_message)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "where": ".".join(str(part) for part in error.get("loc", ())),
                "problem": str(error.get("msg", "")),
            }
            for error in exc.errors()
        ]
        return problem(422, "The request is not valid; see errors.", errors=errors)

    @api.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), dict(exc.headers or {}) or None)

    return api
