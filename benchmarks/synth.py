"""Time ``cdk synth`` of the dev stage against a minimal aws-cdk-lib app.

Both apps run through the pinned CDK CLI, so each timing includes the CLI, the Python
start-up and the jsii runtime. The two apps alternate, so that noise from other work on
the machine falls on both. The script writes its results to its own section of
docs/benchmarks.md and exits with status 1 when the package's median synth time is more
than ``MAX_RATIO`` times the minimal app's.

Run it from the repository root with ``.venv/bin/python -m benchmarks.synth``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.report import (
    DOC_PATH,
    REPO_ROOT,
    command_output,
    cpu_model,
    section_head,
    total_memory,
    write_section,
)
from rehearsal.cdk_env import offline_cdk_environment

SECTION_START = "<!-- benchmark:synth:start -->"
SECTION_END = "<!-- benchmark:synth:end -->"

MAX_RATIO = 1.20
DEFAULT_RUNS = 7
EXIT_OVER_TARGET = 1
EXIT_SETUP_FAILED = 2

REGION = "eu-west-1"

CDK_SYNTH = ["npx", "--no-install", "cdk", "synth", "--no-notices", "-q"]
SYNTH_TIMEOUT_S = 300


@dataclass
class App:
    """One app under test and the wall times of its timed runs, in seconds."""

    key: str
    label: str
    synth_arguments: list[str]
    template_name: str
    seconds: list[float] = field(default_factory=list)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_RUNS,
        help=f"timed runs of each app after one warm-up run each (default {DEFAULT_RUNS})",
    )
    arguments = parser.parse_args()
    if arguments.runs < 1:
        parser.error(f"--runs must be at least 1, got {arguments.runs}")
    return arguments


def app_python() -> str:
    """Return the interpreter that cdk.json runs the package's app with.

    The minimal app runs on the same interpreter, so that both pay the same start-up.
    """
    app_command = json.loads((REPO_ROOT / "cdk.json").read_text())["app"]
    return str(shlex.split(app_command)[0])


def run_synth(app: App, environment: dict[str, str], work_dir: Path) -> tuple[float, Any]:
    """Synthesize ``app`` into a new directory and return the wall time and template.

    A fresh output directory per run keeps every run doing the same work.
    """
    out_dir = Path(tempfile.mkdtemp(prefix=f"{app.key}-", dir=work_dir))
    command = [*CDK_SYNTH, *app.synth_arguments, "-o", str(out_dir)]
    start = time.perf_counter()
    try:
        result = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=SYNTH_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"error: {shlex.join(command)} timed out after {SYNTH_TIMEOUT_S} s")
        sys.exit(EXIT_SETUP_FAILED)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        print(f"error: {shlex.join(command)} failed with status {result.returncode}:")
        print(result.stderr, end="")
        sys.exit(EXIT_SETUP_FAILED)
    template = json.loads((out_dir / app.template_name).read_text())
    return elapsed, template


def resource_counts(template: Any) -> Counter[str]:
    return Counter(resource["Type"] for resource in template["Resources"].values())


def check_same_resources(package: Any, minimal: Any) -> None:
    """Exit unless both templates declare the same resource types, counts and outputs.

    The comparison is only fair while the minimal app builds the same template, so a
    change to the package's resources must be copied into benchmarks/minimal_app.py.
    """
    problems = []
    package_counts = resource_counts(package)
    minimal_counts = resource_counts(minimal)
    for resource_type in sorted(package_counts.keys() | minimal_counts.keys()):
        if package_counts[resource_type] != minimal_counts[resource_type]:
            problems.append(
                f"{resource_type}: {package_counts[resource_type]} in the package's template, "
                f"{minimal_counts[resource_type]} in the minimal app's"
            )
    package_outputs = sorted(package.get("Outputs", {}))
    minimal_outputs = sorted(minimal.get("Outputs", {}))
    if package_outputs != minimal_outputs:
        problems.append(f"outputs differ: package {package_outputs}, minimal {minimal_outputs}")
    if problems:
        print("error: the two templates differ, so the timings would not be comparable:")
        for problem in problems:
            print(f"  {problem}")
        print("Update benchmarks/minimal_app.py to declare the package's resources.")
        sys.exit(EXIT_SETUP_FAILED)


def describe_machine(python: str, environment: dict[str, str]) -> list[tuple[str, str]]:
    cdk_lib_version = command_output(
        [python, "-c", "import importlib.metadata as m; print(m.version('aws-cdk-lib'))"],
        environment,
    )
    return [
        ("CPUs (`nproc`)", command_output(["nproc"], environment)),
        ("CPU model", cpu_model()),
        ("Memory (`free -h`, total)", total_memory(environment)),
        ("OS", platform.platform()),
        ("Python", command_output([python, "--version"], environment)),
        ("Node.js", command_output(["node", "--version"], environment)),
        ("CDK CLI", command_output(["npx", "--no-install", "cdk", "--version"], environment)),
        ("aws-cdk-lib", cdk_lib_version),
        ("Commit", command_output(["git", "describe", "--always", "--dirty"], environment)),
    ]


def render_section(
    package: App,
    minimal: App,
    ratio: float,
    machine: list[tuple[str, str]],
    runs: int,
) -> str:
    verdict = "within" if ratio <= MAX_RATIO else "over"
    today = datetime.datetime.now(tz=datetime.UTC).date().isoformat()
    description = (
        "`benchmarks/synth.py` times `cdk synth` of the dev stage"
        " (`npx --no-install cdk synth --no-notices -q -c stage=dev`) against"
        " `benchmarks/minimal_app.py`, a single-file aws-cdk-lib app that declares the same"
        " resources and outputs with hard-coded values and no config loading, validation or"
        " cdk-nag checks. Both apps run through the same CDK CLI and Python interpreter, so"
        " each time includes the CLI, the Python start-up and the jsii runtime. Before timing,"
        " the script checks that both templates have the same resource types, counts and"
        " outputs. It runs each app once to warm caches, then times"
        f" {runs} {'run' if runs == 1 else 'runs'} of each, alternating the two apps."
        " Synth gets fake AWS credentials and a CDK_HOME whose account cache maps the fake"
        " key to an account, so the CLI sends no request to AWS."
    )
    target = (
        f"The target is a median ratio of at most {MAX_RATIO:.2f}: the package may add at"
        f" most {round((MAX_RATIO - 1) * 100)}% to the minimal app's synth time. Other"
        " processes on the machine change both times, and the alternation spreads that noise"
        " over both apps without removing it."
    )
    lines = [
        *section_head(
            SECTION_START,
            "Synth time against a minimal aws-cdk-lib app",
            description,
            target,
            ".venv/bin/python -m benchmarks.synth",
        ),
        "",
        f"Measured on {today}, with these versions on this hardware:",
        "",
        "| Item | Value |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in machine),
        "",
        "Wall time of one `cdk synth`, in seconds:",
        "",
        "| App | Runs | Median | Min | Max |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for app in (package, minimal):
        lines.append(
            f"| {app.label} | {len(app.seconds)} | {statistics.median(app.seconds):.2f}"
            f" | {min(app.seconds):.2f} | {max(app.seconds):.2f} |"
        )
    lines += [
        "",
        f"Median ratio (package / minimal): **{ratio:.2f}**, {verdict} the target of"
        f" {MAX_RATIO:.2f}.",
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    arguments = parse_arguments()
    python = app_python()
    package = App(
        "package",
        "package (app.py, dev stage)",
        ["-c", "stage=dev"],
        "LlmEndpoint-dev.template.json",
    )
    minimal = App(
        "minimal",
        "minimal (benchmarks/minimal_app.py)",
        ["--app", f"{python} benchmarks/minimal_app.py"],
        "SynthBenchmarkMinimal.template.json",
    )

    with tempfile.TemporaryDirectory(prefix="synth-benchmark-") as work:
        work_dir = Path(work)
        environment = offline_cdk_environment(work_dir / "cdk-home", REGION)

        print("Warm-up runs, which also check that the templates match ...")
        _, package_template = run_synth(package, environment, work_dir)
        _, minimal_template = run_synth(minimal, environment, work_dir)
        check_same_resources(package_template, minimal_template)

        for run in range(1, arguments.runs + 1):
            for app in (package, minimal):
                seconds, _ = run_synth(app, environment, work_dir)
                app.seconds.append(seconds)
                print(f"run {run}/{arguments.runs}: {app.label}: {seconds:.2f} s")

        machine = describe_machine(python, environment)

    ratio = statistics.median(package.seconds) / statistics.median(minimal.seconds)
    write_section(
        SECTION_START,
        SECTION_END,
        render_section(package, minimal, ratio, machine, arguments.runs),
    )
    for app in (package, minimal):
        print(
            f"{app.label}: median {statistics.median(app.seconds):.2f} s,"
            f" min {min(app.seconds):.2f} s, max {max(app.seconds):.2f} s"
        )
    print(f"median ratio: {ratio:.2f} (target at most {MAX_RATIO:.2f})")
    print(f"wrote {DOC_PATH.relative_to(REPO_ROOT)}")
    if ratio > MAX_RATIO:
        print(
            f"FAIL: the package's median synth time is {ratio:.2f} times the minimal app's,"
            f" over the target of {MAX_RATIO:.2f}."
        )
        return EXIT_OVER_TARGET
    return 0


if __name__ == "__main__":
    sys.exit(main())
