"""The HTTP face of the simulator: Web API, response_url, file upload and Sign in with Slack."""

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import api_chat, api_conversations, api_files, api_items, api_people, api_views, signin
from .api_people import SIGNIN_HANDLERS, Credentials
from .args import Args, decode_json_fields
from .blocks import block_problems
from .calls import Call, Reply
from .kit import MAX_MESSAGE_BLOCKS
from .spec import ApiError, load_specs
from .workspace import Workspace

Handler = Callable[[Workspace, Args], dict[str, Any]]

SPECS = load_specs()
HANDLERS: dict[str, Handler] = {
    **api_conversations.HANDLERS,
    **api_chat.HANDLERS,
    **api_items.HANDLERS,
    **api_people.HANDLERS,
    **api_views.HANDLERS,
    **api_files.HANDLERS,
}


def build_app(ws: Workspace) -> Starlette:
    """The Starlette app serving one workspace."""
    app = Starlette(
        routes=[
            Route("/api/{method}", web_api, methods=["GET", "POST"]),
            Route("/response/{key:path}", response_url, methods=["POST"]),
            Route("/upload/{file_id}", upload, methods=["POST"]),
            Route("/.well-known/openid-configuration", signin.discovery, methods=["GET"]),
            Route(signin.AUTHORIZE_PATH, signin.authorize, methods=["GET", "POST"]),
            Route(signin.KEYS_PATH, signin.keys, methods=["GET"]),
        ]
    )
    app.state.workspace = ws
    return app


async def web_api(request: Request) -> Response:
    """Answer one Web API call the way Slack would, and record it."""
    ws: Workspace = request.app.state.workspace
    method = request.path_params["method"]
    with ws.lock:
        slot, latency = ws.begin_call()
    arrived = time.monotonic()
    if latency > 0:
        # asyncio.sleep, not time.sleep: other calls must keep flowing meanwhile.
        await asyncio.sleep(latency)
    spec = SPECS.get(method)
    sent = Sent({}, None, "query")
    try:
        sent = await read_arguments(request, reads_json=spec is None or spec.reads_json)
        reply = answer(ws, method, sent)
    except ApiError as error:
        reply = Reply(error.body())
    except ClientDisconnect:  # the caller died mid-request (a replica killed): Slack never saw it
        return Response(status_code=499)
    body = reply.body
    call = Call(method, sent.args, body["ok"], body.get("error"), body, arrived, sent.encoding)
    with ws.lock:
        slot.append(call)
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


@dataclass(frozen=True)
class Sent:
    """What a call carried: its arguments, the token presented, how it was encoded, and any
    HTTP Basic credentials (client id and secret, for openid.connect.token)."""

    args: Args
    token: str | None
    encoding: str
    basic: tuple[str, str] | None = None


def answer(ws: Workspace, method: str, sent: Sent) -> Reply:
    """Check the token, injected faults and arguments, then run the method."""
    spec = SPECS.get(method)
    with ws.lock:
        check_token(ws, spec.token if spec else "bot", sent.token)
        if spec is None or (method not in HANDLERS and method not in SIGNIN_HANDLERS):
            raise ApiError("unknown_method", f"[ERROR] the simulator has no method '{method}'")
        fault = ws.faults.take(method)
        if fault is not None:
            return fault
        spec.check(sent.args)
        if method in SIGNIN_HANDLERS:
            credentials = Credentials(token=sent.token, basic=sent.basic)
            return Reply(SIGNIN_HANDLERS[method](ws, sent.args, credentials))
        return Reply(HANDLERS[method](ws, sent.args))


def check_token(ws: Workspace, wanted: str, token: str | None) -> None:
    """Refuse a call without the kind of token the method wants ("bot", "user" or "none")."""
    if wanted == "none":
        return  # the app authenticates with its client id and secret; a Bearer token is ignored
    if not token:
        raise ApiError("not_authed", "[ERROR] send the token as 'Authorization: Bearer …' or a form field")
    if wanted == "user":
        if token == ws.token:
            raise ApiError("not_allowed_token_type", "[ERROR] this method wants a user token, not the bot's")
        if token not in ws.user_tokens:
            raise ApiError("invalid_auth")
    elif token in ws.user_tokens:
        # A Sign in with Slack token carries only openid, profile and email.
        raise ApiError("missing_scope", "[ERROR] a Sign in with Slack token cannot call this method")
    elif token != ws.token:
        raise ApiError("invalid_auth")


async def read_arguments(request: Request, *, reads_json: bool) -> Sent:
    """Arguments from the query string and body, as Slack reads them for this method.

    A JSON body is read only by methods that accept JSON; on the others (users.info,
    conversations.history …) Slack ignores it, so its arguments count as missing.
    """
    args: Args = dict(request.query_params)
    header = request.headers.get("authorization", "")
    token = header[len("Bearer ") :].strip() if header.lower().startswith("bearer ") else None
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    encoding = "query"
    if kind == "application/json":
        encoding = "json"
        # Slack ignores a token inside a JSON body: JSON callers must use the header.
        parsed = _json_object(body)
        if reads_json:
            args.update(parsed)
    elif kind == "multipart/form-data":
        raise ApiError("invalid_form_data", "[ERROR] the simulator does not read multipart")
    elif body:
        encoding = "form"
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        token = token or form.get("token")
        args.update(form)
    # Tokens in the query string are refused for current Slack apps.
    args.pop("token", None)
    return Sent(decode_json_fields(args), token, encoding, _basic_credentials(header))


def _basic_credentials(header: str) -> tuple[str, str] | None:
    # RFC 6749 2.3.1: id and secret are form-encoded, joined by a colon, then base64.
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[len("Basic ") :].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if colon else None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        raise ApiError("invalid_json", "[ERROR] the body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ApiError("invalid_json", "[ERROR] the JSON body must be an object")
    return parsed


async def response_url(request: Request) -> Response:
    """Record a post to a response_url, checked like a message."""
    ws: Workspace = request.app.state.workspace
    key = request.path_params["key"]
    arrived = time.monotonic()
    try:
        payload = json.loads(await request.body())
    except ValueError:
        payload = None
    error = _response_problem(payload)
    args = (payload if isinstance(payload, dict) else {}) | {"_key": key}
    body: dict[str, Any] = {"ok": error is None} | ({"error": error} if error else {})
    with ws.lock:
        ws.calls.append([Call("response_url", args, error is None, error, body, arrived)])
    if error:
        return PlainTextResponse(error, status_code=400)
    return PlainTextResponse("ok")


def _response_problem(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "invalid_payload"
    if payload.get("delete_original"):
        return None
    if not any(payload.get(key) for key in ("text", "blocks", "attachments")):
        return "no_text"
    if "blocks" in payload and block_problems(payload["blocks"], limit=MAX_MESSAGE_BLOCKS):
        return "invalid_blocks"
    return None


async def upload(request: Request) -> Response:
    """Receive the bytes of a file announced by files.getUploadURLExternal."""
    ws: Workspace = request.app.state.workspace
    content = await request.body()
    with ws.lock:
        known = api_files.store_upload(ws, request.path_params["file_id"], content)
    if not known:
        return PlainTextResponse("not found", status_code=404)
    return PlainTextResponse(f"OK - {len(content)}")
