"""The GitHub workflows: pinned actions, permissions, concurrency and the Make targets they run."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = PROJECT_DIR / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS_DIR.glob("*.yml"))
DEPLOY_JOBS = [("release.yml", "deploy-dev"), ("release.yml", "deploy-prod")]
TEARDOWN_JOB = ("teardown.yml", "teardown")
# `uses: owner/repo@<40 hex> # v1.2.3`, the version comment right after the SHA.
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s*v\d+(\.\d+)*\b")
MAKE_TARGET_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*):(?!=)", re.MULTILINE)


def load_workflow(path: Path) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return workflow


def jobs_of(path: Path) -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = load_workflow(path)["jobs"]
    return jobs


def all_steps() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, job_id, step)
        for path in WORKFLOW_FILES
        for job_id, job in jobs_of(path).items()
        for step in job.get("steps", [])
    ]


def run_steps() -> list[tuple[str, str, str]]:
    return [
        (workflow, job_id, step["run"]) for workflow, job_id, step in all_steps() if "run" in step
    ]


def checkout_steps() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (workflow, job_id, step)
        for workflow, job_id, step in all_steps()
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]


def make_targets() -> set[str]:
    text = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8")
    return set(MAKE_TARGET_LINE.findall(text))


def make_invocations(script: str) -> list[list[str]]:
    """Return the arguments after `make` of each command line of a `run:` script."""
    invocations = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            invocations.append(words)
    return invocations


def test_workflows_exist() -> None:
    assert [path.name for path in WORKFLOW_FILES] == ["ci.yml", "release.yml", "teardown.yml"]


@pytest.mark.parametrize(("workflow", "job_id", "script"), run_steps())
def test_run_step_calls_only_make(workflow: str, job_id: str, script: str) -> None:
    for words in make_invocations(script):
        assert words[0] == "make", f"{workflow} {job_id}: run {words!r} is not a make call"


@pytest.mark.parametrize(("workflow", "job_id", "script"), run_steps())
def test_run_step_targets_exist_and_documented(workflow: str, job_id: str, script: str) -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    targets = make_targets()

    for words in make_invocations(script):
        named = [word for word in words[1:] if not word.startswith("-") and "=" not in word]
        assert named, f"{workflow} {job_id}: {words!r} names no target"
        for target in named:
            assert target in targets, f"{workflow} {job_id}: no Make target {target!r}"
            assert f"make {target}" in readme, f"README.md does not mention `make {target}`"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_uses_pinned_with_version_comment(path: Path) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if "uses:" in line]

    assert lines, f"{path.name} uses no action"
    unpinned = [line.strip() for line in lines if not PINNED_USES.match(line)]
    assert unpinned == []


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_every_uses_line_is_seen(path: Path) -> None:
    """Every `uses:` of the parsed workflow is on a line the pin check reads."""
    parsed = [
        step["uses"]
        for job in jobs_of(path).values()
        for step in job.get("steps", [])
        if "uses" in step
    ]
    text = path.read_text(encoding="utf-8")

    assert len(parsed) == text.count("uses:")


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_workflow_grants_no_default_permissions(path: Path) -> None:
    assert load_workflow(path)["permissions"] == {}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_every_job_has_minimal_permissions(path: Path) -> None:
    for job_id, job in jobs_of(path).items():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{path.name} {job_id} has no permissions map"
        assert permissions.get("contents") == "read", f"{path.name} {job_id}"
        assert set(permissions) <= {"contents", "id-token"}, f"{path.name} {job_id}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_id_token_only_with_aws_credentials(path: Path) -> None:
    for job_id, job in jobs_of(path).items():
        assumes_role = any(
            str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
            for step in job.get("steps", [])
        )
        has_id_token = job["permissions"].get("id-token") == "write"
        assert has_id_token == assumes_role, f"{path.name} {job_id}"


@pytest.mark.parametrize(("workflow", "job_id", "step"), checkout_steps())
def test_checkout_keeps_no_credentials(workflow: str, job_id: str, step: dict[str, Any]) -> None:
    assert step.get("with", {}).get("persist-credentials") is False


@pytest.mark.parametrize(("workflow", "job_id"), [*DEPLOY_JOBS, TEARDOWN_JOB])
def test_stage_jobs_never_cancelled(workflow: str, job_id: str) -> None:
    concurrency = jobs_of(WORKFLOWS_DIR / workflow)[job_id]["concurrency"]

    assert concurrency["cancel-in-progress"] is False
    assert concurrency["group"].startswith("stage-")


def test_deploy_and_teardown_share_stage_groups() -> None:
    release = jobs_of(WORKFLOWS_DIR / "release.yml")
    teardown = jobs_of(WORKFLOWS_DIR / "teardown.yml")["teardown"]

    assert release["deploy-dev"]["concurrency"]["group"] == "stage-dev"
    assert release["deploy-prod"]["concurrency"]["group"] == "stage-prod"
    assert teardown["concurrency"]["group"] == "stage-${{ inputs.stage }}"


def test_prod_deploy_behind_prod_environment() -> None:
    release = jobs_of(WORKFLOWS_DIR / "release.yml")

    assert release["deploy-prod"]["environment"] == "prod"
    assert release["deploy-prod"]["needs"] == ["deploy-dev", "evaluate-dev"]
    assert release["deploy-dev"]["environment"] == "dev"


def test_evaluation_gate_between_deploys() -> None:
    release = jobs_of(WORKFLOWS_DIR / "release.yml")
    gate = release["evaluate-dev"]

    assert gate["needs"] == "deploy-dev"
    assert gate["environment"] == "dev"
    assert gate["concurrency"] == {"group": "stage-dev", "cancel-in-progress": False}
    assert {"run": "make evaluate STAGE=dev"} in gate["steps"]


def test_release_triggers() -> None:
    # PyYAML follows YAML 1.1, which reads the key `on` as the boolean True.
    workflow: dict[Any, Any] = load_workflow(WORKFLOWS_DIR / "release.yml")
    triggers = workflow[True]

    assert triggers["release"]["types"] == ["published"]
    assert triggers["workflow_dispatch"]["inputs"]["stage"]["options"] == ["dev", "prod"]


@pytest.mark.parametrize(("workflow", "job_id"), [*DEPLOY_JOBS, TEARDOWN_JOB])
def test_role_and_region_from_variables(workflow: str, job_id: str) -> None:
    steps = jobs_of(WORKFLOWS_DIR / workflow)[job_id]["steps"]
    credentials = [
        step
        for step in steps
        if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
    ]

    assert len(credentials) == 1
    assert credentials[0]["with"] == {
        "role-to-assume": "${{ vars.AWS_DEPLOY_ROLE_ARN }}",
        "aws-region": "${{ vars.AWS_REGION }}",
    }


def test_no_secret_or_input_in_run_scripts() -> None:
    for workflow, job_id, step in all_steps():
        script = step.get("run", "")
        assert "${{" not in script, f"{workflow} {job_id}: expression in run script {script!r}"


def test_teardown_confirms_before_credentials() -> None:
    steps = jobs_of(WORKFLOWS_DIR / "teardown.yml")["teardown"]["steps"]
    runs = [step.get("run", "") for step in steps]
    uses = [str(step.get("uses", "")) for step in steps]

    confirm_index = runs.index("make teardown-confirm")
    credentials_index = next(
        index
        for index, action in enumerate(uses)
        if action.startswith("aws-actions/configure-aws-credentials@")
    )
    assert confirm_index < credentials_index
    assert runs[-1] == "make teardown"


def test_teardown_passes_inputs_as_environment() -> None:
    job = jobs_of(WORKFLOWS_DIR / "teardown.yml")["teardown"]

    assert job["env"] == {"STAGE": "${{ inputs.stage }}", "CONFIRM": "${{ inputs.confirm }}"}


def run_teardown_confirm(stage: str, confirm: str) -> subprocess.CompletedProcess[str]:
    """Run the confirmation as the teardown workflow does, with the inputs in the environment."""
    return subprocess.run(
        ["make", "--no-print-directory", "teardown-confirm"],
        cwd=PROJECT_DIR,
        env={"PATH": "/usr/bin:/bin", "STAGE": stage, "CONFIRM": confirm},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_teardown_confirm_accepts_stage_name(stage: str) -> None:
    result = run_teardown_confirm(stage, stage)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("stage", "confirm"),
    [
        ("dev", "prod"),
        ("prod", "dev"),
        ("prod", ""),
        ("prod", "PROD"),
        ("prod", "prod "),
        ("dev", "dev; touch injected"),
        ("", ""),
        ("staging", "staging"),
        ("dev prod", "dev prod"),
    ],
)
def test_teardown_confirm_rejects_mismatch(stage: str, confirm: str) -> None:
    result = run_teardown_confirm(stage, confirm)

    assert result.returncode == 2
    assert "error:" in result.stderr
    assert not (PROJECT_DIR / "injected").exists()


def test_teardown_runs_confirm_first() -> None:
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "teardown", "STAGE=dev", "CONFIRM=prod"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    makefile = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8")

    assert re.search(r"^teardown: teardown-confirm\b", makefile, re.MULTILINE)
    assert dry_run.stdout.index("TEARDOWN_CONFIRM") < dry_run.stdout.index("destroy -c stage=dev")
