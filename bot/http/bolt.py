"""Bolt dispatches the body `slack_body` read, never its own parse of the raw text.

Bolt's parser takes any form whose text contains the letters `payload` for an interactive
payload, so `/incident note payload queue stuck` reached no listener and was answered 404, and it
raises on the shapes `slack_body` refuses (`parse_body` in slack_bolt/request/internals.py).
"""

from __future__ import annotations

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from starlette.requests import Request
from starlette.responses import Response

from bot.http.slack_body import SlackRequest


async def dispatch(app: AsyncApp, request: Request, slack_request: SlackRequest) -> Response:
    """Run the Bolt app on a request already read and checked; its answer for Starlette."""
    bolt = AsyncBoltRequest(body="", query=request.url.query, headers=dict(request.headers))
    bolt.raw_body = (await request.body()).decode()  # what Bolt's own signature check hashes
    bolt.body = slack_request.body
    bolt.context = build_async_context(AsyncBoltContext(), slack_request.body)
    return to_starlette_response(await app.async_dispatch(bolt))
