"""Every shipped stage through the real CDK CLI: cfn-lint, cdk-nag and the token leak check."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

import infra.stack
from deploy_config import load_config, plan_deployment, shipped_stages
from rehearsal.cdk_env import offline_cdk_environment

PROJECT_DIR = Path(__file__).resolve().parents[2]
FAKE_TOKEN = "hf_" + "LeakCheck" * 4
CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")


def cdk_synth(out_dir: Path, *arguments: str, extra_env: Mapping[str, str] | None = None) -> None:
    environment = offline_cdk_environment(out_dir.parent / "cdk-home")
    environment.update(extra_env or {})
    result = subprocess.run(
        [
            "npx",
            "--no-install",
            "cdk",
            "synth",
            "--no-notices",
            "-q",
            "-o",
            str(out_dir),
            *arguments,
        ],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def stage_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Synthesize each shipped stage with the CLI, cdk-nag included, and return its template."""
    templates = {}
    for stage in shipped_stages():
        out_dir = tmp_path_factory.mktemp(f"cdk-{stage}")
        cdk_synth(out_dir, "-c", f"stage={stage}")
        templates[stage] = out_dir / f"LlmEndpoint-{stage}.template.json"
    return templates


@pytest.mark.parametrize("stage", shipped_stages())
def test_cfn_lint_clean(stage_templates: dict[str, Path], stage: str) -> None:
    result = subprocess.run(
        [CFN_LINT, "--format", "parseable", str(stage_templates[stage])],
        capture_output=True,
        text=True,
        check=False,
    )

    # cfn-lint exits 0 only when it finds no error, warning or informational finding.
    assert result.stdout == ""
    assert result.returncode == 0


@pytest.mark.parametrize("stage", shipped_stages())
def test_cdk_nag_report_has_no_violation(stage_templates: dict[str, Path], stage: str) -> None:
    report = json.loads((stage_templates[stage].parent / "validation-report.json").read_text())

    violations = [
        violation
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
    ]
    assert violations == []


def test_cdk_nag_rejects_unacknowledged_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the package's acknowledgements, AwsSolutions-IAM5 stops synthesis."""
    monkeypatch.setattr(infra.stack, "acknowledge_endpoint_findings", lambda endpoint: None)
    deployment = plan_deployment(load_config(stage="dev"))
    app = cdk.App()
    infra.stack.LlmEndpointStack(
        app,
        deployment.stack_name,
        deployment=deployment,
        env=cdk.Environment(account="123456789012", region="eu-west-1"),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))

    with pytest.raises(RuntimeError, match=r"AwsSolutions-IAM5\[Resource::\*\]"):
        app.synth()


def test_token_never_reaches_cloud_assembly(tmp_path: Path) -> None:
    """A token in the shell's environment, where TGI users often keep it, stays out of cdk.out."""
    out_dir = tmp_path / "cdk.out"

    cdk_synth(
        out_dir,
        "-c",
        "stage=dev",
        extra_env={"HF_TOKEN": FAKE_TOKEN, "HUGGING_FACE_HUB_TOKEN": FAKE_TOKEN},
    )

    files = [path for path in out_dir.rglob("*") if path.is_file()]
    assert files, "synth wrote no files"
    leaking = [str(path) for path in files if FAKE_TOKEN in path.read_text(errors="replace")]
    assert leaking == []
