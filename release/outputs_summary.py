"""Print the stack outputs that ``cdk deploy --outputs-file`` wrote as a Markdown table.

``make release-deploy`` appends the table to ``$GITHUB_STEP_SUMMARY``, so each release run
shows the endpoint name and ARN of the stage it deployed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

EXIT_INVALID = 2


def markdown_table(outputs: Mapping[str, Mapping[str, str]]) -> str:
    """Return one table row per stack and output, with ``|`` in values escaped."""
    lines = ["| stack | output | value |", "|---|---|---|"]
    for stack, stack_outputs in sorted(outputs.items()):
        for name, value in sorted(stack_outputs.items()):
            cell = str(value).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {stack} | {name} | `{cell}` |")
    return "\n".join(lines) + "\n"


def main(arguments: Sequence[str] | None = None) -> int:
    paths = list(sys.argv[1:] if arguments is None else arguments)
    if len(paths) != 1:
        print("usage: python -m release.outputs_summary OUTPUTS_FILE", file=sys.stderr)
        return EXIT_INVALID
    path = Path(paths[0])
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"error: outputs file {path} not found; did cdk deploy run?", file=sys.stderr)
        return EXIT_INVALID
    except json.JSONDecodeError as error:
        print(f"error: outputs file {path} is not valid JSON: {error}", file=sys.stderr)
        return EXIT_INVALID
    print(f"### Stack outputs\n\n{markdown_table(outputs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
