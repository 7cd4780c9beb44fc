"""The Markdown table of stack outputs that the release workflow adds to its job summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from release.outputs_summary import EXIT_INVALID, main, markdown_table


def test_table_has_row_per_output() -> None:
    table = markdown_table(
        {
            "LlmEndpoint-dev": {
                "EndpointName": "llm-endpoint-dev",
                "Region": "eu-west-1",
            }
        }
    )

    assert table.splitlines() == [
        "| stack | output | value |",
        "|---|---|---|",
        "| LlmEndpoint-dev | EndpointName | `llm-endpoint-dev` |",
        "| LlmEndpoint-dev | Region | `eu-west-1` |",
    ]


def test_table_escapes_pipe_and_newline() -> None:
    table = markdown_table({"Stack": {"Odd": "a|b\nc"}})

    assert "| Stack | Odd | `a\\|b c` |" in table.splitlines()


def test_main_prints_heading_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"LlmEndpoint-prod": {"EndpointName": "llm-endpoint-prod"}}))

    assert main([str(outputs)]) == 0

    printed = capsys.readouterr().out
    assert printed.startswith("### Stack outputs\n")
    assert "| LlmEndpoint-prod | EndpointName | `llm-endpoint-prod` |" in printed


def test_main_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing.json")]) == EXIT_INVALID
    assert "not found" in capsys.readouterr().err


def test_main_needs_one_argument() -> None:
    assert main([]) == EXIT_INVALID
