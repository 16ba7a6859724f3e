"""The web console, served by `warroom serve` at `/`: incidents, their live timelines and
postmortems, reports with charts and the runbooks, for people signed in with Slack."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.deps import Deps
from bot.http.console.auth import CALLBACK_PATH, Access, csrf_ok, local_path, session_key
from bot.http.console.live import live
from bot.http.console.pages import Pages

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "warroom_console"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Every console response says: no framing, no inline script or style, no referrer to other
    sites; pages about people and incidents are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = dict(SECURITY_HEADERS)
                if not static:
                    extra["cache-control"] = "no-store"
                headers += [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
                message["headers"] = headers
            await send(message)

        await self._app(scope, receive, with_headers)


def console_routes(deps: Deps) -> list[BaseRoute]:
    """The console's routes, each behind its security headers and session; without Sign in with
    Slack configured, every page says how to set it up and the rest of Warroom works as before."""
    access = Access(deps)
    pages = Pages(deps, access)
    settings = deps.settings

    async def home(request: Request) -> Response:
        viewer = access.viewer(request)
        if viewer is not None:
            return RedirectResponse(local_path(request.query_params.get("next")), status_code=303)
        if access.client is None:
            return pages.page(request, "setup.html", None, title="Set up the console")
        return pages.page(
            request,
            "signin.html",
            None,
            title="Sign in",
            next=local_path(request.query_params.get("next")),
            notice=request.query_params.get("notice") == "signed-out",
        )

    async def sign_in(request: Request) -> Response:
        if access.client is None:
            return pages.page(request, "setup.html", None, status=503, title="Set up the console")
        return access.start(request)

    async def callback(request: Request) -> Response:
        if access.client is None:
            return pages.page(request, "setup.html", None, status=503, title="Set up the console")
        problem, then = await access.finish(request)
        if problem:
            return pages.page(
                request, "signin.html", None, status=403, title="Sign in", problem=problem, next="/"
            )
        return RedirectResponse(then, status_code=303)

    async def sign_out(request: Request) -> Response:
        if access.client is None:
            return RedirectResponse("/", status_code=303)
        if not await csrf_ok(request):
            return pages.page(
                request,
                "error.html",
                access.viewer(request),
                status=403,
                title="Refused",
                message="This form has expired. Go back, reload the page and try again.",
            )
        request.session.clear()
        return RedirectResponse("/?notice=signed-out", status_code=303)

    middleware = [Middleware(SecurityHeaders)]
    if settings.console_sign_in:
        assert settings.slack_client_secret is not None and settings.warroom_base_url
        middleware.append(
            Middleware(
                SessionMiddleware,
                secret_key=session_key(settings.slack_client_secret.get_secret_value()),
                session_cookie=SESSION_COOKIE,
                max_age=int(settings.warroom_console_session_hours * 3600),
                same_site="lax",
                https_only=settings.warroom_base_url.startswith("https://"),
            )
        )
    routes = [
        Route("/", home, methods=["GET"], middleware=middleware),
        Route("/signin", sign_in, methods=["GET"], middleware=middleware),
        Route(CALLBACK_PATH, callback, methods=["GET"], middleware=middleware),
        Route("/signout", sign_out, methods=["POST"], middleware=middleware),
        Route("/incidents", pages.signed_in(pages.incidents), methods=["GET"], middleware=middleware),
        Route("/incidents/{ref}", pages.signed_in(pages.incident), methods=["GET"], middleware=middleware),
        Route(
            "/incidents/{ref}/postmortem.{fmt}",
            pages.signed_in(pages.postmortem),
            methods=["GET"],
            middleware=middleware,
        ),
        Route(
            "/incidents/{ref}/live",
            pages.signed_in(lambda request, viewer: live(pages, request, viewer)),
            methods=["GET"],
            middleware=middleware,
        ),
        Route("/reports", pages.signed_in(pages.reports), methods=["GET"], middleware=middleware),
        Route("/runbooks", pages.signed_in(pages.runbooks), methods=["GET"], middleware=middleware),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static", middleware=middleware),
    ]
    return routes
