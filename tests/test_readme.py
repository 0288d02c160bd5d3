"""The README's address table and commands stay true to the code."""

import re
from pathlib import Path

from engine.params.docs import address_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_address_table_matches_registry():
    match = re.search(r"<!-- params:start -->\n(.*?)\n<!-- params:end -->", README, re.S)
    assert match, "README.md lost its params markers"
    assert match.group(1).strip() == address_table().strip(), (
        "README address table is stale: paste `python run_engine.py params --markdown` between the markers")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci
    command = README.split("<!-- test-command -->", 1)[1].split("```bash\n", 1)[1].split("\n", 1)[0]
    assert "pytest" in command and "torch==2.13.0" in command
    assert command.index("torch==2.13.0") < command.index("pip install -e")
