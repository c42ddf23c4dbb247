"""Every command the documentation shows works as typed.

The commands come from the documentation itself, so a new one is tested
without anyone adding it here:

- fenced code blocks of README.md and docs/**/*.md: ```sh, ```bash, ```shell
  (every line is a command; `#` starts a comment, `\\` continues a line),
  ```console (the lines after a `$ ` prompt) and bare ``` blocks (lines with a
  `$ ` prompt or starting with a command this file knows, so a command put in
  a bare block is not missed; diagrams and example output are not commands);
- inline code spans of those files that start with `snakemake`,
  `.venv/bin/snakemake` or `make` (prose, often with placeholders such as
  `my.yaml`: argument parsing only);
- the comment header of config/*.yaml and profiles/*/config.yaml
  (`#   snakemake ...`, `#   make ...`; consecutive lines are one block);
  `[--option value]` in brackets is optional and both variants are checked.

A fenced block right after `<!-- docs-test: parse-only -->` (blank lines may
sit between them), or header command lines right after a comment line with
`docs-test: parse-only`, are for a cluster, the network or root: their
snakemake commands are only parsed, their scripts only checked to exist.

How each command is checked, in a scratch copy of the repository (its
results/ start empty, as in a fresh clone):

- snakemake: parsed by snakemake's own argument parser, which must accept it
  and must not swallow a target into a list option (`--configfile a.yaml
  download_all` reads `download_all` as a second config file); then, outside
  parse-only blocks, run as a dry run (`-n`; report options dropped,
  dry_run_args says why), which must succeed;
- make TARGET: `make -n TARGET` (the target exists, its recipe expands);
  `make clean` and `make slurm-profile` run for real (CHEAP_MAKE_TARGETS);
- python SCRIPT: the script exists and compiles; `--help` exits 0 when it
  uses argparse and is cheap to start (no torch import at module level);
- pytest: the paths exist and every marker of `-m` is registered;
- export, cp, mkdir: applied in the scratch copy, for the commands after them;
- repository scripts (tests/slurm/slurm_up.sh): exist and are executable;
- cluster and desktop tools (sinfo, squeue, sacct, xdg-open, ...): only in
  parse-only blocks, not run.

Any other command fails, naming the file and line: add a check here or mark
the block.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from conftest import ROOT, SNAKEMAKE

PYTHON = Path(sys.executable)
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
HEADER_FILES = [*sorted((ROOT / "config").glob("*.yaml")), *sorted((ROOT / "profiles").glob("*/config.yaml"))]
# what the scratch copy holds: the workflow and everything its commands name
COPY = ["Snakefile", "rules", "scripts", "src", "config", "profiles", "report", "envs", "Makefile",
        "pyproject.toml", "bench", "tests"]
PARSE_ONLY = "docs-test: parse-only"
SNAKEMAKE_WORDS = {"snakemake", ".venv/bin/snakemake"}
PYTHON_WORDS = {"python", "python3", ".venv/bin/python", ".venv/bin/python3"}
PYTEST_WORDS = {"pytest", ".venv/bin/pytest"}
COMMAND_WORDS = SNAKEMAKE_WORDS | PYTHON_WORDS | PYTEST_WORDS | {"make"}
# need a cluster, root or a desktop: accepted, not run, in parse-only blocks only
EXTERNAL = {"sinfo", "squeue", "sacct", "sbatch", "scancel", "srun", "scontrol", "apt-get", "curl", "wget",
            "xdg-open", "tmux", "screen", "sudo"}
# a script importing these at module level is compiled, not started with --help (slow)
HEAVY_IMPORTS = {"torch", "torchvision", "roiroa"}
# make targets cheap and harmless enough to run for real in the scratch copy:
# clean deletes results/ and .snakemake/; slurm-profile links profiles/slurm
# into $XDG_CONFIG_HOME/snakemake, which is the scratch copy's .xdg/ here, so
# that `--profile slurm` after it is dry-run too
CHEAP_MAKE_TARGETS = {"clean", "slurm-profile"}
# snakemake options whose values are key=value pairs the parser keeps as text (a bare
# word there is a swallowed target); --resources, --set-resources etc. are parsed
# into mappings, and the parser itself rejects a bare word
KEY_VALUE_OPTIONS = {"config"}
PLACEHOLDERS = {"…", "..."}
BUILTIN_MARKERS = {"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings"}
PROBLEMS: list[str] = []  # misplaced markers, found while extracting


class Broken(Exception):
    """A documented command that does not work as typed."""


def require(ok, message: str) -> None:
    if not ok:
        raise Broken(message)


@dataclass
class Block:
    """Commands that run one after the other in the scratch copy (a fenced block,
    the consecutive command lines of a header, one inline span)."""

    where: str  # file:line
    lines: list[tuple[int, str]]  # (line number, command text)
    parse_only: bool = False
    inline: bool = False
    env: dict = field(default_factory=dict)

    def __str__(self):
        return self.where


# ---- extraction -------------------------------------------------------------------


def logical_lines(numbered: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join `\\`-continued lines; keep the number of the first."""
    out, pending, start = [], "", 0
    for number, line in numbered:
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def first_word(line: str) -> str:
    words = line.split()
    return words[0] if words else ""


def fenced_commands(lang: str, body: list[tuple[int, str]]) -> list[tuple[int, str]]:
    commands = []
    for number, line in logical_lines(body):
        text = line.strip()
        if text.startswith("$ "):
            commands.append((number, text[2:]))
        elif lang in ("sh", "bash", "shell", "zsh"):
            if text and not text.startswith("#"):
                commands.append((number, text))
        elif lang == "" and first_word(text) in COMMAND_WORDS:
            commands.append((number, text))
    return commands


def markdown_blocks(path: Path) -> list[Block]:
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    lines = path.read_text().splitlines()
    blocks, i, last_text = [], 0, ""
    while i < len(lines):
        stripped = lines[i].strip()
        fence = re.match(r"^(```+)\s*([\w+-]*)", stripped)
        if fence:
            lang, start = fence.group(2).lower(), i
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence.group(1)):
                body.append((i + 1, lines[i]))
                i += 1
            parse_only = PARSE_ONLY in last_text
            commands = fenced_commands(lang, body) if lang in ("sh", "bash", "shell", "zsh", "console", "") else []
            if commands:
                blocks.append(Block(f"{rel}:{start + 1}", commands, parse_only=parse_only))
            elif parse_only:
                PROBLEMS.append(f"{rel}:{start + 1}: a parse-only marker before a block without commands")
            last_text = ""
        elif stripped:
            if PARSE_ONLY in last_text:
                PROBLEMS.append(f"{rel}:{i}: the parse-only marker is not right before a fenced block")
            last_text = stripped
            for span in re.findall(r"`([^`]+)`", stripped):
                if first_word(span) in SNAKEMAKE_WORDS | {"make"} and len(span.split()) > 1:
                    blocks.append(Block(f"{rel}:{i + 1}", [(i + 1, span)], parse_only=True, inline=True))
        i += 1
    return blocks


def optional_variants(line: str) -> list[str]:
    """`cmd [--opt v]` → `cmd`, `cmd --opt v` (brackets around options mark them optional)."""
    match = re.search(r"\[(-[^\]]*)\]", line)
    if not match:
        return [line]
    head, tail = line[:match.start()], line[match.end():]
    return [v for rest in optional_variants(tail) for v in (head + rest, head + match.group(1) + rest)]


def header_blocks(path: Path) -> list[Block]:
    """Consecutive command lines of the header are one block (run in order, like
    a fenced block); `# docs-test: parse-only` on the line before marks it."""
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    blocks, current, parse_only = [], None, False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.startswith("#"):
            break  # the header ends at the first line that is not a comment
        text = line[1:]
        word = first_word(text)
        # `make` only when indented like code: "# make sure ..." is prose
        if word in SNAKEMAKE_WORDS | PYTHON_WORDS | PYTEST_WORDS or (word == "make" and text.startswith("  ")):
            if current is None:
                current = Block(f"{rel}:{number}", [], parse_only=parse_only)
                blocks.append(current)
            current.lines += [(number, variant) for variant in optional_variants(text.strip())]
            continue
        current, parse_only = None, PARSE_ONLY in text
    return blocks


def all_blocks() -> list[Block]:
    return [b for path in DOC_FILES for b in markdown_blocks(path)] + [
        b for path in HEADER_FILES for b in header_blocks(path)]


def split_commands(line: str) -> list[list[str]]:
    """A shell line as commands (split at ; && || |), comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands, current = [], []
    for token in lexer:
        if token in (";", "&&", "||", "|", "&"):
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    return [c for c in commands if c]


# ---- checks -----------------------------------------------------------------------


@cache
def snakemake_parser():
    from snakemake.cli import get_argument_parser

    return get_argument_parser()


def without_placeholders(args: list[str]) -> list[str]:
    """Prose writes `--set-resources …` for values the reader fills in: the
    placeholder and the option before it are left out of the parse."""
    out = []
    for arg in args:
        if arg in PLACEHOLDERS:
            if out and out[-1].startswith("-"):
                out.pop()
            continue
        out.append(arg)
    return out


def parse_snakemake(args: list[str]) -> None:
    """Snakemake's parser accepts `args`, and no target lands in a list option."""
    parser = snakemake_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            ns = parser.parse_args(without_placeholders(args))
    except SystemExit:
        raise Broken(f"snakemake's argument parser rejects it:\n{stderr.getvalue()}") from None
    except Exception as error:  # an option's type function (e.g. --set-resources) raises its own errors
        raise Broken(f"snakemake's argument parser rejects it: {error!r}") from None
    swallowed = [str(f) for f in ns.configfile or [] if Path(f).suffix not in (".yaml", ".yml", ".json")]
    require(not swallowed,
            f"--configfile takes several values and read {swallowed} as config files, not targets: "
            "put targets before --configfile or write --configfile=FILE")
    require(not ns.report or Path(str(ns.report)).suffix in (".html", ".zip"),
            f"--report read {ns.report!r} as the report file, not a target")
    for action in parser._actions:
        values = getattr(ns, action.dest, None)
        if action.nargs not in ("+", "*") or action.dest in ("targets", "configfile") or not values:
            continue
        if isinstance(values, dict):  # parsed from KEY=VALUE pairs: checked by the parser
            continue
        values = [str(v) for v in values]
        if action.dest in KEY_VALUE_OPTIONS:
            bare = [v for v in values if "=" not in v]
            require(not bare, f"{action.option_strings[0]} read {bare} as key=value pairs: a target after it?")
        else:
            # no way to tell a rule name meant for the option from a target: one value only
            require(action.choices is not None or len(values) == 1,
                    f"{action.option_strings[0]} read several values {values}: targets go before it")


def dry_run_args(args: list[str]) -> list[str]:
    """The command as a dry run. Each rewrite and why:
    - `-n` is added: the real command runs for minutes to hours; the dry run
      builds the whole DAG from the config and plans every job, which is what
      fails when a command is wrong;
    - `--report [FILE]`, `--report-after-run`, `--report-stylesheet FILE` are
      dropped: the report is built from the finished outputs, and a dry run
      with them stops with "marked for report but does not exist" (their
      parsing is checked by parse_snakemake on the command as typed)."""
    out, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg in ("--report", "--report-stylesheet"):
            i += 2 if i + 1 < len(args) and not args[i + 1].startswith("-") else 1
            continue
        if arg == "--report-after-run" or arg.startswith(("--report=", "--report-stylesheet=")):
            i += 1
            continue
        out.append(arg)
        i += 1
    if not {"-n", "--dry-run", "--dryrun"} & set(out):
        out.append("-n")
    return out


def without_cores(args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--cores", "-c", "--jobs", "-j"):
            skip = True
        elif not arg.startswith(("--cores=", "--jobs=")):
            out.append(arg)
    return out


def run(cmd: list[str], cwd: Path, env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def failed(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"


# identical commands in several files run once
_ran: dict[tuple, bool] = {}


def run_once(key: tuple, cmd: list[str], cwd: Path, env: dict) -> str | None:
    """None when `cmd` succeeds, else its output; a success is remembered (a
    failure is retried: an earlier command of a block may fix it, e.g. make
    slurm-profile for --profile slurm)."""
    if key in _ran:
        return None
    result = run(cmd, cwd, env)
    if result.returncode == 0:
        _ran[key] = True
        return None
    return failed(result)


def check_snakemake(args: list[str], block: Block, scratch: Path, env: dict) -> None:
    parse_snakemake(args)
    if block.parse_only:
        return
    dry = dry_run_args(args)
    # `--cores N` sets how many jobs run at once, not which: commands that differ
    # only there plan the same jobs, so they share one dry run (the parser has
    # checked each value)
    key = ("snakemake", *without_cores(dry), *sorted(block.env.items()))
    error = run_once(key, [str(SNAKEMAKE), *dry], scratch, env)
    require(error is None, f"the dry run `snakemake {shlex.join(dry)}` fails: {error}")


def check_make(args: list[str], scratch: Path, env: dict) -> None:
    targets = [a for a in args if not a.startswith("-") and "=" not in a]
    require(targets, "make without a target: name it in the docs")
    for target in targets:
        real = target in CHEAP_MAKE_TARGETS
        cmd = ["make", "--no-print-directory", *([] if real else ["-n"]), *args]
        # a real run never sees the user's home
        run_env = {**env, "HOME": str(scratch / ".home")} if real else env
        error = run_once(("make", real, *args), cmd, scratch, run_env)
        require(error is None, f"`{shlex.join(cmd)}` fails (is `{target}` a Makefile target?): {error}")


def check_python(args: list[str], block: Block, env: dict) -> None:
    if args[:1] == ["-m"]:
        import importlib.util

        require(importlib.util.find_spec(args[1]) is not None, f"no module {args[1]}")
        return
    script = ROOT / args[0]
    require(script.is_file(), f"{args[0]} does not exist")
    source = script.read_text()
    try:
        tree = ast.parse(source, str(script))
    except SyntaxError as error:
        raise Broken(f"{args[0]} is not valid Python: {error}") from None
    # `--help` only where it is cheap: importing torch takes 6 s or more here
    heavy = any(
        (isinstance(node, ast.Import) and any(a.name.split(".")[0] in HEAVY_IMPORTS for a in node.names))
        or (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in HEAVY_IMPORTS)
        for node in tree.body)
    if "argparse" in source and not heavy and not block.parse_only:
        error = run_once(("python", args[0]), [str(PYTHON), str(script), "--help"], ROOT, env)
        require(error is None, f"`{args[0]} --help` fails: {error}")


@cache
def registered_markers() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    return {m.split(":")[0].strip() for m in config.get("markers", [])} | BUILTIN_MARKERS


def check_pytest(args: list[str]) -> None:
    i = 0
    while i < len(args):
        if args[i] == "-m":
            names = set(re.findall(r"\w+", args[i + 1])) - {"and", "or", "not"}
            require(names <= registered_markers(), f"unknown markers {names - registered_markers()} in -m")
            i += 2
            continue
        if args[i] == "-k":
            i += 2
            continue
        if not args[i].startswith("-"):
            path = args[i].split("::")[0]
            require((ROOT / path).exists(), f"{path} does not exist")
        i += 1


def check(words: list[str], block: Block, scratch: Path) -> None:
    """Check one command; `block.env` carries exports to the commands after it."""
    while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):  # VAR=value cmd
        name, value = words.pop(0).split("=", 1)
        block.env[name] = value
    if not words:
        return
    word, args = words[0], words[1:]
    env = {**os.environ, **block.env, "OMP_NUM_THREADS": "1"}
    # profiles in the user's home (and a default profile) would change every run
    env.pop("SNAKEMAKE_PROFILE", None)
    env["XDG_CONFIG_HOME"] = str(scratch / ".xdg")
    if word in SNAKEMAKE_WORDS:
        check_snakemake(args, block, scratch, env)
    elif word == "make":
        check_make(args, scratch, env)
    elif word in PYTHON_WORDS:
        check_python(args, block, env)
    elif word in PYTEST_WORDS:
        check_pytest(args)
    elif word == "export":
        for assignment in args:
            name, _, value = assignment.partition("=")
            require(re.fullmatch(r"[A-Za-z_]\w*", name), f"not a variable: export {assignment}")
            block.env[name] = value
    elif word == "mkdir":  # a folder of your own images (docs/own_data.md)
        require(all(not Path(p).is_absolute() and ".." not in Path(p).parts for p in args if not p.startswith("-")),
                "mkdir outside the repository: not run here, mark the block")
        result = run(["mkdir", *args], scratch, env)
        require(result.returncode == 0, failed(result))
    elif word == "cp":
        paths = [a for a in args if not a.startswith("-")]
        require(all(not Path(p).is_absolute() and ".." not in Path(p).parts for p in paths),
                "cp outside the repository: not run here, mark the block")
        result = run(["cp", *args], scratch, env)
        require(result.returncode == 0, failed(result))
    elif "/" in word and (ROOT / word).is_file():
        require(os.access(ROOT / word, os.X_OK), f"{word} is not executable")
        if word.endswith(".sh"):
            result = run(["bash", "-n", str(ROOT / word)], ROOT, env)
            require(result.returncode == 0, f"{word} has a syntax error: {failed(result)}")
    elif word in EXTERNAL:
        require(block.parse_only,
                f"{word} needs a cluster, root or a desktop: put `<!-- {PARSE_ONLY} -->` before the block")
    else:
        raise Broken(f"no check for `{word}`: add one to tests/test_docs_commands.py, "
                             f"or mark the block `<!-- {PARSE_ONLY} -->` if it cannot run here")


BLOCKS = all_blocks()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A copy of the repository without results/, data/ or .snakemake/."""
    root = tmp_path_factory.mktemp("docs_commands")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake", "results")
    for name in COPY:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=ignore, symlinks=True)
        elif source.exists():
            shutil.copy2(source, root / name)
    (root / ".xdg").mkdir()
    (root / ".home").mkdir()
    return root


def test_the_docs_have_commands():
    """The extraction finds the commands every reader starts with (a broken
    extractor would otherwise pass by testing nothing)."""
    fenced = [b for b in BLOCKS if not b.inline]
    commands = {shlex.join(words) for b in fenced for _, line in b.lines for words in split_commands(line)}
    assert {"make run", "make test"} <= commands  # README's "Two commands"
    assert any("download_all" in c for c in commands)
    assert sum(len(b.lines) for b in fenced) >= 15
    assert any(b.where.startswith("config/paper.yaml") for b in BLOCKS)
    # the reference pages under docs/ are read too, the generated performance page included
    pages = {b.where.rsplit(":", 1)[0] for b in fenced}
    assert {"README.md", "docs/pipeline.md", "docs/performance.md", "docs/hpc.md"} <= pages, pages


def test_extraction_of_each_kind_of_block(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("\n".join([
        "Run `snakemake --cores 1 all` or `make run` (inline).", "",
        "```sh", "# a comment", "make run  # trailing comment", "snakemake --cores 1 \\", "  all", "```", "",
        "<!-- docs-test: parse-only -->", "", "```console", "$ sinfo", "PARTITION AVAIL", "```", "",
        "```", "results/{dataset}/scores.json", ".venv/bin/snakemake -n", "```", "",
        "```yaml", "snakemake: not a command", "```",
    ]))
    blocks = markdown_blocks(doc)
    assert [(b.where, b.lines, b.parse_only, b.inline) for b in blocks] == [
        ("doc.md:1", [(1, "snakemake --cores 1 all")], True, True),
        ("doc.md:1", [(1, "make run")], True, True),
        ("doc.md:3", [(5, "make run  # trailing comment"), (6, "snakemake --cores 1    all")], False, False),
        ("doc.md:12", [(13, "sinfo")], True, False),
        ("doc.md:17", [(19, ".venv/bin/snakemake -n")], False, False),
    ]
    header = tmp_path / "config.yaml"
    header.write_text("\n".join([
        "# a config", "#   make slurm-profile", "#   snakemake --profile slurm [--configfile c.yaml]  # submit",
        "# make sure this prose is not a command", "# docs-test: parse-only", "#   snakemake --cores 1",
        "key: 1", "#   snakemake --not-in-the-header",
    ]))
    assert [(b.lines, b.parse_only) for b in header_blocks(header)] == [
        ([(2, "make slurm-profile"), (3, "snakemake --profile slurm   # submit"),
          (3, "snakemake --profile slurm --configfile c.yaml  # submit")], False),
        ([(6, "snakemake --cores 1")], True),
    ]
    assert split_commands("sinfo; make run && make test  # all") == [["sinfo"], ["make", "run"], ["make", "test"]]


@pytest.mark.parametrize("args, problem", [
    ("--cores 1 --configfile config/paper.yaml download_all", "read ['download_all'] as config files"),
    ("--cores 1 --config a=1 all", "read ['all'] as key=value pairs"),
    ("--forcerun train all", "read several values"),
    ("--report all", "as the report file"),
    ("--set-resources train:mem_mb=1 all", "argument parser rejects it"),
    ("--cores 1 download_all --configfile config/paper.yaml", None),
    ("--cores 1 --configfile=config/paper.yaml download_all", None),
    ("results/tables/table1_ssim.csv --set-resources …", None),
    ("--cores all --configfile config/paper.yaml --report results/report.html --report-after-run", None),
])
def test_a_swallowed_target_is_caught(args, problem):
    if problem is None:
        parse_snakemake(args.split())
    else:
        with pytest.raises(Broken, match=re.escape(problem)):
            parse_snakemake(args.split())


def test_dry_run_rewrite():
    assert dry_run_args(["--cores", "all", "--report", "results/report.html", "--report-after-run"]) == [
        "--cores", "all", "-n"]
    assert dry_run_args(["-n", "--report=r.html", "all"]) == ["-n", "all"]
    assert without_cores(["--cores", "8", "-n"]) == without_cores(["--cores=all", "-n"]) == ["-n"]


def test_parse_only_markers_sit_right_before_a_command_block():
    assert not PROBLEMS, "\n".join(PROBLEMS)


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_documented_command_works(block, scratch):
    block.env = {}
    errors = []
    for number, line in block.lines:
        try:
            commands = split_commands(line)
        except ValueError as error:
            errors.append(f"line {number}: `{line}`: not valid shell: {error}")
            continue
        for words in commands:
            try:
                check(words, block, scratch)
            except Broken as error:
                errors.append(f"line {number}: `{shlex.join(words)}`: {error}")
                break
    if errors:
        pytest.fail(f"{block.where}{' (parse-only)' if block.parse_only else ''}:\n" + "\n\n".join(errors),
                    pytrace=False)
