"""`make help` lists every target of the Makefile with its one-line description.

The descriptions follow the convention stated at the top of the Makefile
(`target: prerequisites ## what it does`), so a target added later is listed
without touching the help target, and a target without a description fails here.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

# a rule line: a plain target name, then `:` that is not part of `:=` or `::`
RULE = re.compile(r"^([A-Za-z][\w.-]*)\s*:(?![:=])", flags=re.M)

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def listed(makefile: Path) -> dict[str, str]:
    """The targets `make help` prints, with their descriptions."""
    result = subprocess.run(["make", "--no-print-directory", "-f", str(makefile), "help"], cwd=makefile.parent,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 1) for line in result.stdout.splitlines() if line.strip()]
    assert all(len(row) == 2 for row in rows), f"a target without a description:\n{result.stdout}"
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), f"a target listed twice:\n{result.stdout}"
    return dict(rows)


def test_help_lists_every_target_with_one_line():
    text = (ROOT / "Makefile").read_text()
    targets = set(RULE.findall(text))
    phony = set(" ".join(re.findall(r"^\.PHONY:((?:.*\\\n)*.*)", text, flags=re.M)).replace("\\", " ").split())
    assert {"run", "test", "help"} <= targets
    assert phony <= targets, f".PHONY names targets without a rule: {sorted(phony - targets)}"
    help_lines = listed(ROOT / "Makefile")
    missing = targets - help_lines.keys()
    assert not missing, (f"targets without a `## description` on their rule line: {sorted(missing)} "
                         "(see the convention at the top of the Makefile)")
    assert help_lines.keys() <= targets
    assert all(len(description) > 10 for description in help_lines.values()), help_lines


def test_help_is_the_default_goal():
    result = subprocess.run(["make", "--no-print-directory", "-n"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "awk" in result.stdout, result.stdout + result.stderr


def test_a_new_target_following_the_convention_is_listed(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text((ROOT / "Makefile").read_text() + "\nnew-thing: run ## does a new thing\n\t@true\n"
                        "undocumented:\n\t@true\n")
    help_lines = listed(makefile)
    assert help_lines["new-thing"] == "does a new thing"
    assert "undocumented" not in help_lines and "run" in help_lines
