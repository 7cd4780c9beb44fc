"""docs/benchmarks.md: where each benchmark writes its section, and the machine it ran on."""

from __future__ import annotations

import platform
import subprocess
import textwrap
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = REPO_ROOT / "docs" / "benchmarks.md"
DOC_LINE_WIDTH = 92
DOC_HEADER = """# Benchmarks

Each section below is written by the script that it names. Rerun the script to update its
section, and keep the other sections as they are.
"""


def write_section(section_start: str, section_end: str, section: str) -> None:
    """Replace the section between the two markers in the doc, or append it."""
    text = DOC_PATH.read_text() if DOC_PATH.exists() else DOC_HEADER
    start = text.find(section_start)
    end = text.find(section_end)
    if start != -1 and end > start:
        text = text[:start] + section + text[end + len(section_end) :].removeprefix("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOC_PATH.write_text(text)


def command_output(command: list[str], environment: Mapping[str, str]) -> str:
    """Return a command's standard output, or "unknown" when it fails."""
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=dict(environment),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return "unknown"
    return result.stdout.strip()


def cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def total_memory(environment: Mapping[str, str]) -> str:
    """Return the total column of the ``Mem:`` line of ``free -h``."""
    for line in command_output(["free", "-h"], environment).splitlines():
        if line.startswith("Mem:"):
            return line.split()[1]
    return "unknown"


def section_head(
    section_start: str, title: str, description: str, target: str, command: str
) -> list[str]:
    """Return a section's first lines: the marker, the title, two paragraphs, the command."""
    return [
        section_start,
        f"## {title}",
        "",
        textwrap.fill(description, width=DOC_LINE_WIDTH, break_on_hyphens=False),
        "",
        textwrap.fill(target, width=DOC_LINE_WIDTH, break_on_hyphens=False),
        "",
        "Command, run from the repository root:",
        "",
        "```sh",
        command,
        "```",
    ]
