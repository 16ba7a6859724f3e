"""Running a remediation command: no shell, a minimal environment, capped output, a hard deadline."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import time

from bot.adapters.executors.model import (
    CommandAction,
    Execution,
    ExecutorPolicy,
    Params,
    Preview,
    RefusedTarget,
    elapsed_ms,
)

CHUNK_BYTES = 65_536


def command_argv(action: CommandAction, params: Params) -> list[str]:
    """The argv execute runs: the runbook's, then `--name` and the value for each parameter by name."""
    if not action.argv:
        raise RefusedTarget("The remediation command is empty.")
    argv = [_program(action.argv[0]), *action.argv[1:]]
    for name in sorted(params):
        argv += [f"--{name}", str(params[name])]
    for argument in argv:
        _check_argument(argument)
    return argv


def preview_command(action: CommandAction, params: Params) -> Preview:
    """The command line execute would run, shell-quoted for reading (it never goes to a shell)."""
    return Preview(kind="command", description=shlex.join(command_argv(action, params)))


async def execute_command(
    action: CommandAction, params: Params, *, policy: ExecutorPolicy, total: float
) -> Execution:
    """Run the command once and report its exit status and the start of its output."""
    argv = command_argv(action, params)
    started = time.monotonic()
    output = CappedOutput(policy.max_output_chars)
    try:
        status = await _run(argv, total, output)
    except OSError as exc:  # the program exists but could not be started
        return Execution(
            "failed", elapsed_ms(started), "", f"could not start {argv[0]}: {exc.strerror or exc}"
        )
    if status is None:
        detail = f"still running after {total:g} s, so it was killed"
        return Execution("timed_out", elapsed_ms(started), output.text(), detail)
    detail = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
    return Execution("succeeded" if status == 0 else "failed", elapsed_ms(started), output.text(), detail)


def child_environment() -> dict[str, str]:
    """PATH and LANG only: the bot's tokens and database URL never reach a runbook command."""
    return {"PATH": os.environ.get("PATH", os.defpath), "LANG": os.environ.get("LANG", "C.UTF-8")}


class CappedOutput:
    """Combined stdout and stderr, keeping the first characters and discarding the rest."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.max_bytes = max_chars * 4  # the most UTF-8 bytes that many characters take
        self.data = bytearray()

    async def drain(self, stream: asyncio.StreamReader) -> None:
        """Read to the end, so the command never blocks on a full pipe, keeping only the start."""
        while chunk := await stream.read(CHUNK_BYTES):
            self.data += chunk[: self.max_bytes - len(self.data)]

    def text(self) -> str:
        """The kept output as text."""
        return self.data.decode("utf-8", "replace")[: self.max_chars]


async def _run(argv: list[str], total: float, output: CappedOutput) -> int | None:
    """The exit status, or None if the command was still running at the deadline and was killed."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=child_environment(),
        start_new_session=True,  # its own process group, so a kill reaches what it started too
    )
    assert process.stdout is not None  # PIPE was asked for
    finished = False
    try:
        async with asyncio.timeout(total):
            await output.drain(process.stdout)
            status = await process.wait()
        finished = True
        return status
    except TimeoutError:
        return None
    finally:
        if not finished:  # timed out, or the caller gave up: nothing may keep running
            await _kill(process, process.stdout)


async def _kill(process: asyncio.subprocess.Process, stdout: asyncio.StreamReader) -> None:
    """Kill the command's process group, then reap it and close its pipe so nothing lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1):  # a child that left the group could hold the pipe open
            await CappedOutput(0).drain(stdout)


def _program(name: str) -> str:
    """The absolute path of the program; raise `RefusedTarget` if there is none."""
    relative = os.sep in name and not os.path.isabs(name)
    found = None if relative else shutil.which(name, path=child_environment()["PATH"])
    if found is None:
        raise RefusedTarget(f"command not found: {name}")
    return os.path.abspath(found)


def _check_argument(argument: str) -> None:
    """Raise `RefusedTarget` for text the operating system cannot pass as one argument."""
    try:
        encoded = os.fsencode(argument)
    except UnicodeEncodeError:  # an unpaired surrogate
        encoded = b"\0"
    if b"\0" in encoded:
        raise RefusedTarget(f"{argument[:40]!r} cannot be passed as a command argument.")
