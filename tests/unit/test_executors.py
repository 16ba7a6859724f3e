"""The remediation executors: which targets they refuse, what they send, and what they report."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.executors import (
    CommandAction,
    ExecutorPolicy,
    RefusedTarget,
    WebhookAction,
    execute,
    preview,
)

ECHO_ARGV = (sys.executable, "-c", "import sys, json; print(json.dumps(sys.argv[1:]))")
PUBLIC = "93.184.216.34"
Handler = Callable[[httpx.Request], Any]


class Endpoint:
    """A MockTransport that records every request and answers with `handler`."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.handler = handler or (lambda request: httpx.Response(200, json={"ok": True}))
        self.transport = httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.handler(request)
        return await answer if asyncio.iscoroutine(answer) else answer


def policy(endpoint: Endpoint | None = None, **overrides: Any) -> ExecutorPolicy:
    settings_: dict[str, Any] = {
        "allowed_hosts": frozenset({"automation.internal", "internal.example", "10.0.0.5"}),
        "transport": endpoint.transport if endpoint else None,
    }
    return ExecutorPolicy(**(settings_ | overrides))


def webhook(url: str = "https://automation.internal/restart", **fields: Any) -> WebhookAction:
    return WebhookAction(method=fields.pop("method", "POST"), url=url, body=fields.pop("body", {}), **fields)


def call(action: Any, params: dict[str, Any], pol: ExecutorPolicy, timeout: float | None = None) -> Any:
    return asyncio.run(execute(action, params, run_id="run-42", policy=pol, timeout=timeout))


def command(script: str, *, timeout: float = 5.0, max_output_chars: int = 2_000) -> Any:
    action = CommandAction((sys.executable, "-c", script))
    return call(action, {}, policy(max_output_chars=max_output_chars), timeout)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Name answers for the resolver; unknown names do not resolve."""
    answers = {"automation.internal": [PUBLIC]}

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        family = {True: socket.AF_INET6, False: socket.AF_INET}
        return [(family[":" in a], socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


# --- which targets are refused -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed", "http_hosts", "refusal"),
    [
        ("https://evil.example/restart", {"automation.internal"}, set(), "not in the remediation allowlist"),
        ("https://automation.internal.evil.example/", {"automation.internal"}, set(), "allowlist"),
        ("http://automation.internal/restart", {"automation.internal"}, set(), "only be called over https"),
        ("https://user:pw@automation.internal/", {"automation.internal"}, set(), "user name or password"),
        ("https://automation.internal:8443/", {"automation.internal:443"}, set(), "not in the remediation"),
        ("https://automation.internal/", {"automation.internal:8443"}, set(), "not in the remediation"),
        ("ftp://automation.internal/", {"automation.internal"}, set(), "must use https"),
        ("file:///etc/passwd", {"automation.internal"}, set(), "must use https"),
        ("https:///restart", {"automation.internal"}, set(), "no host"),
        ("http://10.0.0.5/", {"10.0.0.5"}, set(), "only be called over https"),
        ("https://127.1/", {"127.0.0.1"}, set(), "not in the remediation allowlist"),
        ("https://169.254.169.254/latest/meta-data", {"169.254.169.254"}, set(), "cloud metadata"),
        ("http://[fd00:ec2::254]/", {"fd00:ec2::254"}, {"fd00:ec2::254"}, "cloud metadata"),
        ("https://[::ffff:169.254.169.254]/", {"::ffff:169.254.169.254"}, set(), "cloud metadata"),
    ],
)
def test_targets_outside_the_rules_are_refused_before_anything_is_sent(
    dns: dict[str, list[str]], url: str, allowed: set[str], http_hosts: set[str], refusal: str
) -> None:
    endpoint = Endpoint()
    pol = policy(endpoint, allowed_hosts=frozenset(allowed), allow_http_hosts=frozenset(http_hosts))
    with pytest.raises(RefusedTarget, match=refusal):
        preview(webhook(url), {}, run_id="run-42", policy=pol)
    with pytest.raises(RefusedTarget, match=refusal):
        call(webhook(url), {}, pol)
    assert endpoint.requests == []


@pytest.mark.parametrize(
    ("url", "allowed", "http_hosts"),
    [
        ("https://AUTOMATION.Internal/restart", {"automation.internal"}, set()),
        ("https://automation.internal./restart", {"Automation.Internal"}, set()),
        ("https://automation.internal:8443/restart", {"automation.internal:8443"}, set()),
        ("https://automation.internal:9000/restart", {"automation.internal"}, set()),
        ("https://automation.internal:443/restart", {"automation.internal:443"}, set()),
        ("https://10.0.0.5/restart", {"10.0.0.5"}, set()),
        ("http://127.0.0.1:8080/restart", {"127.0.0.1:8080"}, {"127.0.0.1"}),
        ("https://[::1]:8443/restart", {"[::1]:8443"}, set()),
        ("https://[0:0::1]/restart", {"::1"}, set()),
    ],
)
def test_allowlisted_targets_are_called(
    dns: dict[str, list[str]], url: str, allowed: set[str], http_hosts: set[str]
) -> None:
    endpoint = Endpoint()
    pol = policy(endpoint, allowed_hosts=frozenset(allowed), allow_http_hosts=frozenset(http_hosts))
    assert call(webhook(url), {}, pol).outcome == "succeeded"
    assert len(endpoint.requests) == 1


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (["127.0.0.1"], "loopback"),
        (["::1"], "loopback"),
        (["10.1.2.3"], "private"),
        (["192.168.0.7"], "private"),
        (["fc00::1"], "private"),
        (["169.254.169.254"], "cloud metadata"),
        (["169.254.10.1"], "link-local"),
        (["fe80::1"], "link-local"),
        (["0.0.0.0"], "unspecified"),
        (["224.0.0.1"], "multicast"),
        (["::ffff:127.0.0.1"], "loopback"),
        (["100.64.0.1"], "not a public address"),
        ([PUBLIC, "10.0.0.1"], "private"),
    ],
)
def test_a_named_host_resolving_to_an_internal_address_is_refused(
    dns: dict[str, list[str]], answers: list[str], reason: str
) -> None:
    dns["internal.example"] = answers
    endpoint = Endpoint()
    with pytest.raises(RefusedTarget, match=f"internal.example resolves to .*{reason}"):
        call(webhook("https://internal.example/restart"), {}, policy(endpoint))
    assert endpoint.requests == []


def test_a_name_the_operator_allows_over_http_may_resolve_to_loopback_but_never_to_metadata(
    dns: dict[str, list[str]],
) -> None:
    endpoint = Endpoint()
    pol = policy(
        endpoint, allowed_hosts=frozenset({"demo.local"}), allow_http_hosts=frozenset({"demo.local"})
    )
    dns["demo.local"] = ["127.0.0.1"]
    assert call(webhook("http://demo.local/restart"), {}, pol).outcome == "succeeded"
    dns["demo.local"] = ["169.254.169.254"]
    with pytest.raises(RefusedTarget, match="cloud metadata"):
        call(webhook("http://demo.local/restart"), {}, pol)
    assert len(endpoint.requests) == 1


def test_the_request_goes_to_the_checked_address_with_the_original_host_name(
    dns: dict[str, list[str]],
) -> None:
    endpoint = Endpoint()
    call(webhook("https://automation.internal:8443/restart?now=1"), {}, policy(endpoint))
    [request] = endpoint.requests
    assert request.url == httpx.URL(f"https://{PUBLIC}:8443/restart?now=1")
    assert request.headers["host"] == "automation.internal:8443"
    assert request.extensions["sni_hostname"] == "automation.internal"


def test_a_host_that_does_not_resolve_is_a_failure(dns: dict[str, list[str]]) -> None:
    dns.pop("automation.internal")
    execution = call(webhook(), {}, policy(Endpoint()))
    assert (execution.outcome, execution.detail) == ("failed", "could not resolve automation.internal")


def test_unknown_methods_and_headers_httpx_derives_are_refused(dns: dict[str, list[str]]) -> None:
    with pytest.raises(RefusedTarget, match="method 'TRACE'"):
        call(webhook(method="TRACE"), {}, policy(Endpoint()))
    for headers in ({"Host": "elsewhere"}, {"X-Note": "a\r\nX-Injected: 1"}):
        with pytest.raises(RefusedTarget, match="cannot be sent"):
            call(webhook(headers=headers), {}, policy(Endpoint()))


# --- what a webhook sends and what it reports ------------------------------------------------


def test_a_webhook_sends_parameters_in_the_body_with_the_run_as_idempotency_key(
    dns: dict[str, list[str]],
) -> None:
    endpoint = Endpoint(lambda request: httpx.Response(200, text="restarted"))
    action = webhook(body={"service": "checkout"}, headers={"Idempotency-Key": "theirs", "X-Team": "sre"})
    execution = call(action, {"region": "eu-west-1", "force": True, "replicas": 3}, policy(endpoint))
    [request] = endpoint.requests
    assert request.method == "POST" and request.url.path == "/restart" and not request.url.query
    assert request.headers["idempotency-key"] == "run-42"
    assert request.headers["content-type"] == "application/json" and request.headers["x-team"] == "sre"
    assert json.loads(request.content) == {
        "service": "checkout",
        "parameters": {"region": "eu-west-1", "force": True, "replicas": 3},
    }
    assert (execution.outcome, execution.excerpt) == ("succeeded", "restarted")
    assert execution.detail == "HTTP 200 from automation.internal"


def test_an_error_status_is_a_failure_naming_the_host(dns: dict[str, list[str]]) -> None:
    endpoint = Endpoint(lambda request: httpx.Response(503, text="upstream down"))
    execution = call(webhook(), {}, policy(endpoint))
    assert (execution.outcome, execution.detail) == ("failed", "HTTP 503 from automation.internal")
    assert execution.excerpt == "upstream down"


def test_a_redirect_is_not_followed(dns: dict[str, list[str]]) -> None:
    redirect = httpx.Response(302, headers={"Location": "https://automation.internal/elsewhere"})
    endpoint = Endpoint(lambda request: redirect)
    execution = call(webhook(), {}, policy(endpoint))
    assert [request.url.path for request in endpoint.requests] == ["/restart"]
    assert execution.outcome == "failed" and "redirect" in execution.detail


@pytest.mark.parametrize(
    ("error", "outcome", "detail"),
    [
        (httpx.ConnectTimeout, "timed_out", "could not connect to automation.internal within 3 s"),
        (httpx.ReadTimeout, "timed_out", "no answer from automation.internal within 30 s"),
        (httpx.ConnectError, "failed", "could not connect to automation.internal"),
        (httpx.ReadError, "unknown", "may or may not have run"),
        (httpx.RemoteProtocolError, "unknown", "may or may not have run"),
    ],
)
def test_transport_errors_say_whether_the_action_may_have_run(
    dns: dict[str, list[str]], error: type[httpx.TransportError], outcome: str, detail: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    execution = call(webhook(), {}, policy(Endpoint(fail)))
    assert execution.outcome == outcome and detail in execution.detail


def test_an_endpoint_slower_than_the_timeout_is_timed_out(dns: dict[str, list[str]]) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    execution = call(webhook(), {}, policy(Endpoint(slow)), timeout=0.2)
    assert execution.outcome == "timed_out" and execution.duration_ms < 2_000


def test_a_huge_answer_is_read_only_up_to_the_cap(dns: dict[str, list[str]]) -> None:
    pulled = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10_000):  # 640 MB if it were all read
            pulled.append(1)
            yield b"x" * 65_536

    endpoint = Endpoint(lambda request: httpx.Response(200, content=chunks()))
    execution = call(webhook(), {}, policy(endpoint, max_response_bytes=100_000, max_output_chars=500))
    assert execution.outcome == "succeeded" and execution.excerpt == "x" * 500
    assert len(pulled) <= 3


def test_credentials_never_appear_in_the_preview_or_the_excerpt(dns: dict[str, list[str]]) -> None:
    endpoint = Endpoint(lambda request: httpx.Response(400, text=f"bad: {request.headers['authorization']}"))
    action = webhook(headers={"Authorization": "Bearer s3cr3t-t0ken-value"})
    execution = call(action, {}, policy(endpoint))
    shown = preview(action, {}, run_id="run-42", policy=policy(endpoint)).description
    assert "s3cr3t" not in execution.excerpt and "s3cr3t" not in shown
    assert "Authorization: [redacted]" in shown and execution.excerpt == "bad: [redacted]"


# --- preview ---------------------------------------------------------------------------------


def test_a_webhook_preview_shows_the_exact_request_and_sends_nothing() -> None:
    endpoint = Endpoint(lambda request: pytest.fail("preview sent a request"))
    action = webhook("https://10.0.0.5/restart", body={"service": "checkout"})
    shown = preview(action, {"region": "eu"}, run_id="run-42", policy=policy(endpoint))
    assert shown.kind == "webhook"
    assert shown.description == "\n".join(
        [
            "POST https://10.0.0.5/restart",
            "Idempotency-Key: run-42",
            "Content-Type: application/json",
            "Accept-Encoding: identity",
            '{\n  "parameters": {\n    "region": "eu"\n  },\n  "service": "checkout"\n}',
        ]
    )
    assert endpoint.requests == []


def test_a_command_preview_shows_the_argv_quoted_and_runs_nothing(tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    action = CommandAction((sys.executable, "-c", f"open({str(marker)!r}, 'w')"))
    shown = preview(action, {"why": "$(id); rm -rf /"}, run_id="run-42", policy=policy())
    assert shown.kind == "command"
    assert shlex.split(shown.description) == [*action.argv, "--why", "$(id); rm -rf /"]
    assert not marker.exists()


# --- commands --------------------------------------------------------------------------------


def test_a_command_that_exits_zero_succeeds_with_its_output() -> None:
    execution = call(CommandAction(ECHO_ARGV), {"b": 2, "a": "x"}, policy())
    assert (execution.outcome, execution.detail) == ("succeeded", "exit status 0")
    assert json.loads(execution.excerpt) == ["--a", "x", "--b", "2"]


def test_a_command_that_exits_non_zero_fails_with_stdout_and_stderr() -> None:
    execution = command("import sys; print('out'); sys.stdout.flush(); sys.exit('err')")
    assert (execution.outcome, execution.detail) == ("failed", "exit status 1")
    assert execution.excerpt == "out\nerr\n"
    assert command("raise SystemExit(3)").detail == "exit status 3"


def test_a_command_still_running_at_the_deadline_is_killed_with_what_it_started() -> None:
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
        "print(os.getpid(), child.pid, flush=True)\n"
        "time.sleep(30)\n"
    )
    execution = command(script, timeout=0.5)
    assert execution.outcome == "timed_out" and execution.duration_ms < 3_000
    assert execution.detail == "still running after 0.5 s, so it was killed"
    command_pid, child_pid = map(int, execution.excerpt.split())
    assert not os.path.exists(f"/proc/{command_pid}"), "the command was left a zombie"
    assert stopped(child_pid)


def stopped(pid: int) -> bool:
    """Whether the process is gone or dead (a zombie waits for init, which is not ours to hurry)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rpartition(")")[2].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


def test_huge_output_is_capped_without_blocking_the_command() -> None:
    execution = command("import sys; sys.stdout.write('y' * 20_000_000); print('done')", max_output_chars=100)
    assert (execution.outcome, execution.excerpt) == ("succeeded", "y" * 100)


def test_hostile_parameter_values_stay_single_literal_arguments() -> None:
    hostile = {
        "a": "; rm -rf /",
        "b": "$(id)",
        "c": "two\nlines",
        "d": "`id` && echo",
        "e": "--all",
        "f": "*",
    }
    execution = call(CommandAction(ECHO_ARGV), hostile, policy())
    assert json.loads(execution.excerpt) == [
        part for name in sorted(hostile) for part in (f"--{name}", hostile[name])
    ]


def test_the_command_sees_no_warroom_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "pd-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://warroom:pw@db/warroom")
    execution = command("import json, os; print(json.dumps(dict(os.environ)))")
    environment = json.loads(execution.excerpt)
    assert set(environment) <= {"PATH", "LANG", "LC_CTYPE"}
    assert "secret" not in execution.excerpt and "pw@db" not in execution.excerpt


@pytest.mark.parametrize(
    ("argv", "params", "refusal"),
    [
        (("no-such-program-anywhere",), {}, "command not found: no-such-program-anywhere"),
        (("./relative/tool",), {}, "command not found"),
        ((), {}, "empty"),
        ((sys.executable,), {"value": "a\0b"}, "cannot be passed as a command argument"),
        ((sys.executable,), {"value": "\ud800"}, "cannot be passed as a command argument"),
    ],
)
def test_commands_that_cannot_run_as_written_are_refused(
    argv: tuple[str, ...], params: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(RefusedTarget, match=refusal):
        preview(CommandAction(argv), params, run_id="run-42", policy=policy())
    with pytest.raises(RefusedTarget, match=refusal):
        call(CommandAction(argv), params, policy())


def test_a_program_that_cannot_start_is_a_failure(tmp_path: Any) -> None:
    program = tmp_path / "broken"
    program.write_bytes(b"\x7fELF not really")
    program.chmod(0o755)
    execution = call(CommandAction((str(program),)), {}, policy())
    assert execution.outcome == "failed" and execution.detail.startswith(f"could not start {program}")


# --- properties --------------------------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
argument_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=40)


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(names, argument_text, max_size=4))
def test_every_parameter_value_reaches_the_command_as_exactly_one_argument(params: dict[str, str]) -> None:
    execution = call(CommandAction(ECHO_ARGV), params, policy(max_output_chars=100_000))
    assert execution.outcome == "succeeded"
    assert json.loads(execution.excerpt) == [
        part for name in sorted(params) for part in (f"--{name}", params[name])
    ]


@settings(deadline=None)
@given(
    st.dictionaries(st.text(max_size=20), st.text(max_size=40) | st.integers() | st.booleans(), max_size=5)
)
def test_every_parameter_value_reaches_the_webhook_verbatim_in_the_body(params: dict[str, Any]) -> None:
    endpoint = Endpoint()
    call(webhook("https://10.0.0.5/restart?fixed=1", body={"service": "checkout"}), params, policy(endpoint))
    [request] = endpoint.requests
    assert str(request.url) == "https://10.0.0.5/restart?fixed=1"
    assert json.loads(request.content) == {"service": "checkout", "parameters": params}
