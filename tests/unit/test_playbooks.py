from pathlib import Path

import pytest

from bot.playbooks.loader import load_playbooks, read_playbook
from bot.playbooks.matching import Catalog, Facts
from bot.playbooks.models import Playbook
from bot.simulator.harness import SAMPLE_PLAYBOOKS

GOOD = """---
id: {id}
title: {title}
match:
  services: [{service}]
  alerts: ["{alert}"]
  keywords: [{keyword}]
  severities: [sev1, 2]
actions:
  - id: restart
    label: Restart it
    kind: webhook
    url: https://automation.internal/restart
    target: the service
    risk: low
---
## Steps
1. Look.
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def good(directory: Path, id: str = "api-down", **fields: str) -> Path:
    values = {"id": id, "title": "API down", "service": "api", "alert": "ApiDown*", "keyword": "api"} | fields
    return write(directory, f"{id}.md", GOOD.format(**values))


def test_the_sample_runbooks_are_valid_and_each_offers_an_action():
    playbooks, problems = load_playbooks(SAMPLE_PLAYBOOKS)
    assert problems == []
    assert len(playbooks) >= 4 and all(p.meta.actions and p.steps for p in playbooks)


def test_a_good_file_loads_with_its_steps(tmp_path):
    playbook, problems = read_playbook(good(tmp_path))
    assert problems == [] and isinstance(playbook, Playbook)
    assert playbook.meta.match.severities == (1, 2) and playbook.steps.startswith("## Steps")


@pytest.mark.parametrize(
    ("replace", "by", "field", "reason"),
    [
        ("id: api-down", "id: API Down", "id", "pattern"),
        ("kind: webhook", "kind: shell", "actions.0.kind", "webhook"),
        ("    url: https://automation.internal/restart", "    body: {}", "actions.0", "needs an http(s) url"),
        ("    target: the service", "    target: all", "actions.0.target", "not everything"),
        (
            "    risk: low",
            "    risk: high\n    mode: auto",
            "actions.0",
            "only a low-risk action may run in auto",
        ),
        ("    risk: low", "    risk: medium\n    min_approvals: 0", "actions.0", "at least one approval"),
        ("  severities: [sev1, 2]", "  severities: [sev9]", "match.severities", "1 to 4"),
        ("title: API down", "title: API down\nowner: me", "owner", "Extra inputs"),
        (
            "    label: Restart it",
            "    label: Restart it\n    approvers: [boss]",
            "actions.0.approvers",
            "role",
        ),
    ],
)
def test_each_mistake_is_reported_with_its_field_and_reason(tmp_path, replace, by, field, reason):
    text = GOOD.format(id="api-down", title="API down", service="api", alert="ApiDown*", keyword="api")
    assert replace in text
    playbook, problems = read_playbook(write(tmp_path, "bad.md", text.replace(replace, by)))
    assert playbook is None
    assert any(p.field == field and reason in p.reason for p in problems), problems


def test_an_argv_given_as_a_shell_string_is_refused(tmp_path):
    text = GOOD.format(id="a", title="A", service="a", alert="A", keyword="a").replace(
        "    kind: webhook\n    url: https://automation.internal/restart",
        "    kind: command\n    argv: rm -rf /tmp",
    )
    _, problems = read_playbook(write(tmp_path, "shell.md", text))
    assert [p.reason for p in problems] == [
        "Value error, argv must be a list of strings, never a shell command line"
    ]


def test_files_without_front_matter_or_with_bad_yaml_or_duplicate_ids_are_skipped_whole(tmp_path):
    good(tmp_path, "api-down")
    write(tmp_path, "plain.md", "# Just notes\n")
    write(tmp_path, "yaml.md", "---\nid: [broken\n---\n")
    write(tmp_path, "zz-copy.md", (tmp_path / "api-down.md").read_text(encoding="utf-8"))
    playbooks, problems = load_playbooks(tmp_path)
    assert [p.id for p in playbooks] == ["api-down"]
    assert {Path(p.file).name for p in problems} == {"plain.md", "yaml.md", "zz-copy.md"}


def test_matching_says_why_and_ranks_service_and_alert_over_keywords(tmp_path):
    good(tmp_path, "api-down", keyword="checkout")
    good(tmp_path, "checkout", service="checkout", alert="HighErrorRate*", keyword="checkout")
    catalog = Catalog(load_playbooks(tmp_path)[0])
    fits = catalog.match(Facts("Checkout slow", 1, service="checkout", alert="HighErrorRate checkout"))
    assert [(f.playbook.id, f.why) for f in fits] == [
        ("checkout", "service checkout, alert HighErrorRate*, keyword checkout"),
        ("api-down", "keyword checkout"),
    ]


def test_severity_filters_and_nothing_matches_nothing(tmp_path):
    good(tmp_path)
    catalog = Catalog(load_playbooks(tmp_path)[0])
    assert catalog.match(Facts("api down", 3)) == []
    assert catalog.match(Facts("database down", 1)) == []
    assert len(catalog.match(Facts("API down", 2))) == 1


def test_at_most_three_runbooks_are_offered(tmp_path):
    for n in range(6):
        good(tmp_path, f"api-{n}")
    assert len(Catalog(load_playbooks(tmp_path)[0]).match(Facts("api", 1))) == 3
