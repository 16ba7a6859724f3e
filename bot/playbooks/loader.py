"""Reading `playbooks/*.md`: front matter with `yaml.safe_load`, checked whole or not at all."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.playbooks.models import FrontMatter, Playbook

log = logging.getLogger(__name__)
FENCE = "---"


@dataclass(frozen=True)
class Problem:
    """Why one file (and which field of it) could not be loaded."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


def read_playbook(path: Path) -> tuple[Playbook | None, list[Problem]]:
    """One runbook, or the problems that keep it out."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), "(file)", f"cannot be read: {exc}")]
    lines = text.splitlines()
    if not lines or lines[0].strip() != FENCE or FENCE not in (line.strip() for line in lines[1:]):
        return None, [
            Problem(str(path), "(front matter)", "the file must start with YAML between two --- lines")
        ]
    end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == FENCE)
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        return None, [Problem(str(path), "(front matter)", f"is not valid YAML: {exc}".replace("\n", " "))]
    if not isinstance(data, dict):
        return None, [Problem(str(path), "(front matter)", "must be a mapping of fields")]
    try:
        meta = FrontMatter.model_validate(data)
    except ValidationError as exc:
        return None, [_problem(path, error) for error in exc.errors()]
    return Playbook(meta=meta, steps="\n".join(lines[end + 1 :]).strip(), path=str(path)), []


def _problem(path: Path, error: object) -> Problem:
    details = error if isinstance(error, dict) else {}
    field = ".".join(str(part) for part in details.get("loc", ())) or "(front matter)"
    return Problem(str(path), field, str(details.get("msg", "is invalid")))


def load_playbooks(directory: Path) -> tuple[list[Playbook], list[Problem]]:
    """Every valid runbook in `directory`, and the problems of the others (ids must be unique)."""
    playbooks: list[Playbook] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.md")):
        playbook, found = read_playbook(path)
        if playbook is not None and playbook.id in seen:
            found = [Problem(str(path), "id", f"{playbook.id!r} is already used by {seen[playbook.id]}")]
        if found:
            problems.extend(found)
            continue
        assert playbook is not None
        seen[playbook.id] = str(path)
        playbooks.append(playbook)
    if not directory.is_dir():
        problems.append(Problem(str(directory), "(directory)", "does not exist"))
    return playbooks, problems


def load_for_app(directory: Path) -> list[Playbook]:
    """The valid runbooks; each bad file is logged with its reasons and skipped."""
    playbooks, problems = load_playbooks(directory)
    for problem in problems:
        log.error("runbook skipped: %s", problem)
    return playbooks
