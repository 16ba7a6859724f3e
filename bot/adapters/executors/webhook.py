"""Calling a remediation webhook: one request, no redirects, a capped answer, an honest outcome."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bot.adapters.executors.model import (
    Execution,
    ExecutorPolicy,
    Outcome,
    Params,
    Preview,
    RefusedTarget,
    WebhookAction,
    elapsed_ms,
)
from bot.adapters.executors.targets import IPAddress, Target, check_url, resolve

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# httpx derives these from the request itself; a runbook copy would contradict it.
DERIVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})
SECRET_WORDS = ("auth", "cookie", "token", "secret", "password", "signature", "key")
REDACTED = "[redacted]"


@dataclass(frozen=True)
class WebhookRequest:
    """The one request an action becomes, checked but not yet sent."""

    method: str
    target: Target
    headers: dict[str, str]
    body: dict[str, Any]
    content: bytes  # the body as sent


class _Stopped(Exception):
    """The call ended without an HTTP status; carries what to report instead."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome, self.detail = outcome, detail


def prepare(action: WebhookAction, params: Params, *, run_id: str, policy: ExecutorPolicy) -> WebhookRequest:
    """The request `action` becomes; raise `RefusedTarget` if it may not be sent."""
    method = action.method.upper()
    if method not in METHODS:
        raise RefusedTarget(f"HTTP method {action.method!r} is not allowed for remediation.")
    target = check_url(action.url, policy)
    # "parameters" belongs to the executor, so the endpoint gets exactly what the approver saw.
    body = {**action.body, "parameters": dict(params)}
    return WebhookRequest(method, target, _headers(action.headers, run_id), body, json.dumps(body).encode())


def preview_webhook(action: WebhookAction, params: Params, *, run_id: str, policy: ExecutorPolicy) -> Preview:
    """The method, URL, headers (secrets hidden) and JSON body execute would send."""
    request = prepare(action, params, run_id=run_id, policy=policy)
    headers = [f"{name}: {REDACTED if _secret(name) else value}" for name, value in request.headers.items()]
    body = json.dumps(request.body, indent=2, sort_keys=True, ensure_ascii=False)
    return Preview(
        kind="webhook", description="\n".join([f"{request.method} {request.target.url}", *headers, body])
    )


async def execute_webhook(
    action: WebhookAction, params: Params, *, run_id: str, policy: ExecutorPolicy, total: float
) -> Execution:
    """Send the request once and report what the endpoint answered."""
    request = prepare(action, params, run_id=run_id, policy=policy)
    started = time.monotonic()
    try:
        status, body = await _exchange(request, policy, total)
    except _Stopped as stop:
        return Execution(stop.outcome, elapsed_ms(started), "", stop.detail)
    outcome, detail = _judge(status, request.target.host)
    # Redact before cutting, so a secret straddling the cut cannot leak in part.
    excerpt = _redact(body.decode("utf-8", "replace"), request.headers)[: policy.max_output_chars]
    return Execution(outcome, elapsed_ms(started), excerpt, detail)


async def post_signed(
    url: str,
    content: bytes,
    headers: dict[str, str],
    *,
    policy: ExecutorPolicy,
    total: float,
    client: httpx.AsyncClient | None = None,
) -> tuple[int | None, str, int]:
    """POST `content` exactly as signed (an outgoing webhook) under the same rules as a
    remediation call, on `client`'s kept-alive connections if given (see `client_for`); the
    status (None: no answer), a sentence saying what happened, and the milliseconds it took.
    Raise `RefusedTarget` when the URL may not be called."""
    request = WebhookRequest(
        "POST",
        check_url(url, policy),
        {"Content-Type": "application/json", "Accept-Encoding": "identity", **headers},
        {},
        content,
    )
    started = time.monotonic()
    try:
        status, _ = await _exchange(request, policy, total, client)
    except _Stopped as stop:
        return None, stop.detail, elapsed_ms(started)
    return status, _judge(status, request.target.host)[1], elapsed_ms(started)


def client_for(policy: ExecutorPolicy, total: float) -> httpx.AsyncClient:
    """A client for these calls: no redirects, no proxy from the environment, timeouts."""
    timeouts = httpx.Timeout(total, connect=policy.connect_timeout)
    return httpx.AsyncClient(
        transport=policy.transport, timeout=timeouts, follow_redirects=False, trust_env=False, verify=_tls()
    )


async def _exchange(
    request: WebhookRequest, policy: ExecutorPolicy, total: float, shared: httpx.AsyncClient | None = None
) -> tuple[int, bytes]:
    """The status and the first bytes of the body; raise `_Stopped` when there is no status."""
    deadline = asyncio.get_running_loop().time() + total
    address = await _resolve(request.target, deadline, total)
    async with contextlib.AsyncExitStack() as stack:
        client = shared if shared is not None else await stack.enter_async_context(client_for(policy, total))
        try:
            async with asyncio.timeout_at(deadline):
                response = await client.send(_pinned(client, request, address), stream=True)
        except (httpx.TransportError, TimeoutError) as exc:
            raise _broken(exc, request.target.host, total, policy.connect_timeout) from exc
        try:
            return response.status_code, await _read_capped(response, policy.max_response_bytes, deadline)
        finally:
            await response.aclose()


async def _resolve(target: Target, deadline: float, total: float) -> IPAddress:
    """The checked address to connect to; raise `_Stopped` when the name does not resolve."""
    try:
        async with asyncio.timeout_at(deadline):
            return (await resolve(target))[0]
    except TimeoutError:  # before OSError: it is a subclass
        raise _Stopped("timed_out", f"{target.host} could not be resolved within {total:g} s") from None
    except (OSError, UnicodeError, IndexError):
        raise _Stopped("failed", f"could not resolve {target.host}") from None


@functools.cache
def _tls() -> ssl.SSLContext:
    """The certificate checks every call makes, built once (building them costs tens of ms)."""
    return ssl.create_default_context()


def _pinned(client: httpx.AsyncClient, request: WebhookRequest, address: IPAddress) -> httpx.Request:
    """The request sent to the address that was checked, so a second DNS answer cannot move it.

    Host and the TLS server name stay the original host, so virtual hosts and certificates work.
    """
    url, headers, extensions = request.target.url, dict(request.headers), {}
    if str(address) != request.target.host:
        headers["Host"] = url.netloc.decode("ascii")
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
        url = url.copy_with(host=str(address))
    return client.build_request(
        request.method, url, headers=headers, content=request.content, extensions=extensions
    )


async def _read_capped(response: httpx.Response, cap: int, deadline: float) -> bytes:
    """Up to `cap` bytes of the body, reading no further; what arrived if it stalls or breaks."""
    if response.is_stream_consumed:  # an answer built in memory (a test transport) is already read
        return response.content[:cap]
    chunks, size = [], 0
    try:
        async with asyncio.timeout_at(deadline):
            async for chunk in response.aiter_raw():
                chunks.append(chunk[: cap - size])
                size += len(chunks[-1])
                if size >= cap:
                    break
    except (httpx.HTTPError, TimeoutError):
        pass  # the status already says whether it ran; the excerpt is only shorter
    return b"".join(chunks)


def _judge(status: int, host: str) -> tuple[Outcome, str]:
    """The outcome an HTTP status means, and the sentence that says so."""
    if 200 <= status < 300:
        return "succeeded", f"HTTP {status} from {host}"
    if 300 <= status < 400:
        return "failed", f"HTTP {status} from {host}: a redirect, which remediation never follows"
    if status >= 400:
        return "failed", f"HTTP {status} from {host}"
    return "unknown", f"HTTP {status} from {host}, which says neither success nor failure"


def _broken(exc: Exception, host: str, total: float, connect: float) -> _Stopped:
    """What a transport failure means for whether the action ran."""
    if isinstance(exc, httpx.ConnectTimeout):
        return _Stopped("timed_out", f"could not connect to {host} within {connect:g} s")
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return _Stopped("timed_out", f"no answer from {host} within {total:g} s")
    if isinstance(exc, httpx.ConnectError):
        return _Stopped("failed", f"could not connect to {host}")
    # The request may have reached the endpoint before the connection broke.
    return _Stopped("unknown", f"the connection to {host} broke after sending; it may or may not have run")


def _headers(static: dict[str, str], run_id: str) -> dict[str, str]:
    """The runbook's headers, with the executor's own taking precedence."""
    # identity: one compressed chunk could inflate far past the response cap in memory.
    ours = {"Idempotency-Key": run_id, "Content-Type": "application/json", "Accept-Encoding": "identity"}
    kept = {name: value for name, value in static.items() if name.lower() not in {n.lower() for n in ours}}
    headers = {**ours, **kept}
    for name, value in headers.items():
        text = name + value
        if name.lower() in DERIVED_HEADERS or not text.isascii() or any(c in text for c in "\r\n\0"):
            raise RefusedTarget(f"The header {name!r} cannot be sent with a remediation request.")
    return headers


def _secret(name: str) -> bool:
    """Whether a header's value is a credential (the idempotency key is not)."""
    lowered = name.lower()
    return lowered != "idempotency-key" and any(word in lowered for word in SECRET_WORDS)


def _redact(text: str, headers: dict[str, str]) -> str:
    """`text` with every credential header value, and each long word of one, replaced."""
    secrets = {
        secret
        for name, value in headers.items()
        if _secret(name)
        for secret in (value, *(word for word in value.split() if len(word) >= 8))
        if secret
    }
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
