"""The HTML report of a finished tiny run, rendered in headless Chromium.

The report is a JavaScript single-page app, so the test drives it like a
reader: it clicks through the menu to a table and to a figure, then checks
the rendered DOM for the table's text and a screenshot for visible pixels.
Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-
pipe), which needs nothing beyond the Python standard library. Debian's
`chromium` is installed with apt when missing (needs root).
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import re
import shutil
from pathlib import Path
import subprocess
import time

import matplotlib.image
import pandas as pd
import pytest

from conftest import ROOT, snakemake

pytestmark = pytest.mark.workflow

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,900", "--remote-debugging-pipe",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing."""
    found = shutil.which("chromium")
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip("chromium is missing and cannot be installed here (needs root and apt-get); "
                    "install Debian's `chromium` package to run the browser test")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, capture_output=True, timeout=1200).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
        result = subprocess.run(install, env=env, capture_output=True, text=True, timeout=1200)
        output = result.stdout[-2000:] + result.stderr[-2000:]
        assert result.returncode == 0, f"apt-get install chromium failed:\n{output}"
    return shutil.which("chromium")


# how docutils reports a problem in a caption or the workflow description
# (`<string>:3: (WARNING/2) Definition list ends without a blank line`)
DOCUTILS_PROBLEM = re.compile(r"\((?:INFO/1|WARNING/2|ERROR/3|SEVERE/4)\).*")


@pytest.fixture(scope="module")
def report(tiny_run, tmp_path_factory):
    """results/report.html of a copy of the tiny run, that copy's directory, and
    what snakemake printed while building the report."""
    workdir = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    path = workdir / "results" / "report.html"
    result = snakemake(workdir, workdir / "config.yaml", "--report", str(path))
    return path, workdir, result.stdout + result.stderr


def test_report_builds_without_docutils_warnings(report):
    problems = [m.group(0) for m in DOCUTILS_PROBLEM.finditer(report[2])]
    assert not problems, "docutils complains about a report caption:\n" + "\n".join(problems)


def test_captions_name_only_wildcards_their_job_has(tmp_path):
    """A caption renders `{{ snakemake.wildcards.x }}` as nothing when the job
    has no wildcard x (a figure job of both directions has no {source}), which
    docutils sometimes reads as a definition list and sometimes lets pass as a
    silent gap in the text: every name a caption uses must be one of its rule's."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, ResourceSettings

    configfile = ROOT / "config" / "config.yaml"  # every rule is defined whatever the config
    with SnakemakeApi() as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(cores=1), config_settings=ConfigSettings(configfiles=[configfile]),
            snakefile=ROOT / "Snakefile", workdir=tmp_path)._workflow
        used = {}
        for rule in workflow.rules:
            for output in rule.output:
                caption = getattr(output.flags.get("report"), "caption", None)
                if caption is not None:
                    used.setdefault(Path(str(caption)).name, {})[rule.name] = set(rule.wildcard_names)
    assert {"blob.rst", "scores_sweep.rst", "table1_ssim.rst"} <= used.keys(), used.keys()
    wrong = []
    for name, rules in used.items():
        names = set(re.findall(r"snakemake\.wildcards\.(\w+)", (ROOT / "report" / name).read_text()))
        wrong += [f"report/{name} uses {sorted(names - have)}, which rule {rule} has not (it has {sorted(have)})"
                  for rule, have in rules.items() if names - have]
    assert not wrong, "\n".join(wrong)


class Browser:
    """Headless Chromium over the DevTools protocol: JSON messages ending in NUL,
    written to the browser's fd 3 and read from its fd 4."""

    def __init__(self, exe: str, profile):
        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()

        def connect():  # in the child: put the pipe ends on fds 3 and 4
            read, write = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10), fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=connect, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._id = b"", 0

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params, **({"sessionId": session} if session else {})}
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:  # skip events until our answer arrives
            while b"\0" not in self._buffer:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open(self, url: str) -> "Page":
        target = self.call("Target.createTarget", url=url)["targetId"]
        return Page(self, self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"])

    def close(self):
        try:
            self.call("Browser.close")
            self.proc.wait(timeout=10)
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        os.close(self._out)
        os.close(self._in)


def poll(get, what: str, shows=lambda: "", timeout: float = 20):
    """The first truthy result of get(), polled for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = get()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; the page shows:\n{str(shows())[:2000]}")


class Page:
    def __init__(self, browser: Browser, session: str):
        self.browser, self.session = browser, session

    def js(self, expression: str):
        result = self.browser.call("Runtime.evaluate", self.session, expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str):
        """The first truthy value of a JavaScript expression."""
        return poll(lambda: self.js(expression), what, lambda: self.js("document.body.innerText"))

    def click_link(self, text: str):
        """Click the link whose visible text is `text` (a menu entry)."""
        self.wait_for(f"""(() => {{
            const links = [...document.querySelectorAll('#app a')];
            const link = links.find(a => a.textContent.trim() === {json.dumps(text)});
            if (link) link.click();
            return !!link; }})()""", f"a link named {text!r}")

    def view_result(self, label: str):
        """Click the eye button of the result row whose label contains `label`."""
        self.wait_for(f"""(() => {{
            const row = [...document.querySelectorAll('#app tr')].find(r => r.innerText.includes({json.dumps(label)}));
            if (row) row.querySelector('a').click();
            return !!row; }})()""", f"a result row {label!r}")

    def rect(self, selector: str) -> dict:
        return self.wait_for(f"""(() => {{ const el = document.querySelector({json.dumps(selector)});
            if (!el) return null; const r = el.getBoundingClientRect();
            return r.width > 0 && r.height > 0 ? {{x: r.x, y: r.y, width: r.width, height: r.height}} : null; }})()""",
            f"a visible {selector}")

    def screenshot(self, rect: dict):
        """RGB pixels (H×W×3, floats in [0, 1]) of a region of the page."""
        clip = {**rect, "scale": 1}
        data = self.browser.call("Page.captureScreenshot", self.session, format="png", clip=clip)["data"]
        return matplotlib.image.imread(io.BytesIO(base64.b64decode(data)), format="png")[..., :3]

    def frame_text(self) -> str:
        """The text rendered inside the page's iframes (the report shows HTML results in one)."""
        root = self.browser.call("DOM.getDocument", self.session, depth=-1, pierce=True)["root"]
        texts = []

        def walk(node, inside):
            if inside and node.get("nodeType") == 3:
                texts.append(node["nodeValue"])
            for child in node.get("children", []):
                walk(child, inside)
            if "contentDocument" in node:
                walk(node["contentDocument"], True)

        walk(root, False)
        return " ".join(texts)


@pytest.fixture
def page(chromium, report, tmp_path):
    browser = Browser(chromium, tmp_path / "profile")
    try:
        page = browser.open(report[0].as_uri())
        page.wait_for("document.querySelectorAll('#app a').length > 0", "the report app to render")
        yield page
    finally:
        browser.close()


def assert_not_blank(pixels, what: str):
    """Some content: not one flat colour, and a fair share of pixels off the background."""
    background = pixels.reshape(-1, 3)[0]
    off = (abs(pixels - background).sum(axis=-1) > 0.1).mean()
    assert pixels.std() > 0.05 and off > 0.01, f"{what} looks blank (std {pixels.std():.3f}, {off:.1%} off background)"


def test_report_opens_on_the_workflow_description(page):
    text = page.wait_for("document.body.innerText", "the landing page")
    assert "Regions of Importance and Regions of Attack" in text
    assert "Tables I–III" in text and "digits" in text  # the menu's categories


def test_report_shows_a_table_beside_the_paper(page, report):
    page.click_link("Tables I–III")
    page.view_result("Table III")
    frame = page.rect("iframe")
    page.wait_for("!!document.querySelector('iframe') && document.querySelector('iframe').src.includes('table3')",
                  "Table III in the content frame")

    def table_text():
        text = page.frame_text()
        return text if "score_mod_adv" in text else None

    text = poll(table_text, "the table's text", page.frame_text)
    table = pd.read_csv(report[1] / "results" / "tables" / "table3_reattack.csv")
    assert "score_mod_adv" in text and "score_mod_adv (paper)" in text and "score_mod_adv Δ" in text
    for value in table["score_mod_adv"]:
        assert f"{value:.4f}" in text  # our numbers, as the page prints them
    assert frame["width"] > 400 and frame["height"] > 300
    assert_not_blank(page.screenshot(frame), "the table frame")


def test_report_shows_a_figure(page, report):
    page.click_link("digits")
    page.click_link("0 → 1")
    page.view_result("f) blob")
    figure = "#app img[src^='data:image/png']"  # the content pane's image, not the logo
    rect = page.rect(figure)
    loaded = page.wait_for(f'(img => img.complete && img.naturalWidth)(document.querySelector("{figure}"))',
                           "the figure to load")
    src = page.js(f'document.querySelector("{figure}").src')
    blob_png = next((report[1] / "results" / "digits").glob("0-1/**/theta~*/figures/0-to-1/blob.png"))
    assert base64.b64decode(src.split(",", 1)[1]) == blob_png.read_bytes()  # the very file the run wrote
    assert loaded > 200 and rect["width"] > 200 and rect["height"] > 100
    assert_not_blank(page.screenshot(rect), "the blob figure")
