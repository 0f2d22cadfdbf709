"""The report in a real browser: headless Chromium opens results/report.html of a demo run from
disk and the test fails on any console error, uncaught exception, broken image, network request or
element whose content spills out of it (wider than its box with no scrolling container around it),
on the page and in every transition's panel; and it checks that a transition whose held-out R² is
not above its null carries the warning where its edges are shown.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on file descriptors 3 and 4), so no driver or websocket package
is needed. Locally the test skips when Chromium is missing; under CI (``CI=true``) it fails.

Run by hand to screenshot any report:  python tests/test_browser.py results/report.html out.png
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe"]
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:", "chrome:", "devtools:")
# Runs in the page after load: exercise the JS (every transition panel, a sort) and report what broke.
CHECK_PAGE = """
(async () => {
  const overflow = new Set();
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const describe = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : '')
    + ' "' + (e.textContent || '').trim().slice(0, 40) + '" (' + e.scrollWidth + ' > ' + e.clientWidth + ' px)';
  const checkOverflow = () => {  // content wider than its box, with no scrolling container to hold it
    const main = document.querySelector('main');
    if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1) overflow.add('the page scrolls sideways');
    for (const e of main.querySelectorAll('*')) {
      if (e.clientWidth === 0 || e.scrollWidth <= e.clientWidth + 1) continue;
      let holder = e;
      while (holder && holder !== main.parentElement && !scrolls(holder)) holder = holder.parentElement;
      if (!holder || holder === main.parentElement) overflow.add(describe(e));
    }
  };
  const flags = {};
  const images = () => Array.from(document.images);
  const broken = new Set();
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const settle = async () => { await Promise.all(images().map(i => i.decode().catch(() => {}))); };
  const collect = () => images().filter(i => !i.complete || i.naturalWidth === 0).forEach(i => broken.add(i.alt || i.src.slice(0, 60)));
  await settle(); collect(); checkOverflow();
  const select = document.getElementById('transition-select');
  const view = document.getElementById('transition-view');
  const visit = async id => {  // as a reader would: through the URL's hash
    location.hash = 't=' + id;
    for (let i = 0; i < 200 && !(select.value === id && view.querySelector('h3')); i++) await sleep(10);
    await settle(); collect(); checkOverflow();
    const title = select.value === id && view.querySelector('h3') ? view.querySelector('h3').textContent : null;
    if (title) {  // the warning must sit in the panel, before the strongest edges
      const flag = view.querySelector('[data-flag=below-null]'), edges = view.querySelector('h4');
      flags[title] = Boolean(flag && edges && (flag.compareDocumentPosition(edges) & Node.DOCUMENT_POSITION_FOLLOWING));
    }
    return title;
  };
  const shown = [];
  if (select) {
    for (const option of Array.from(select.options)) shown.push(await visit(option.value));
    // end on a flagged transition where there is one, so that the screenshot shows the warning
    const flagged = Array.from(select.options).find((o, i) => flags[shown[i]]);
    await visit((flagged || select.options[0]).value);
  }
  const header = document.querySelector('table.sortable th:nth-child(2)');
  if (header) { header.click(); header.click(); }
  window.scrollTo(0, 0);
  return {broken: Array.from(broken), shown: shown, n_images: images().length, overflow: Array.from(overflow), flags: flags,
          sections: Array.from(document.querySelectorAll('section')).map(s => s.id), sorted: header ? header.dataset.dir : null};
})()
"""


def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Chromium:
    """A headless Chromium and one page, spoken to over the DevTools protocol on a pipe."""

    def __init__(self, executable: str, timeout: float = 60.0) -> None:
        self.timeout, self.events, self._next_id, self._buffer = timeout, [], 0, b""
        self.profile = tempfile.mkdtemp(prefix="transgrn-chromium-")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def child_fds():  # Chromium reads commands on fd 3 and writes replies on fd 4
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser, from_browser)]  # out of 3/4's way
            os.dup2(high[0], 3)  # dup2 leaves the copies inheritable
            os.dup2(high[1], 4)

        self.process = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        preexec_fn=child_fds, close_fds=False)
        os.close(to_browser)
        os.close(from_browser)
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=self.session)

    def send(self, method: str, session: str | None = None, **params) -> dict:
        """Send one command and wait for its reply, keeping the events that arrive meanwhile."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError(f"no reply from Chromium in {self.timeout} s")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe: " + self.process.stderr.read().decode(errors="replace")[-2000:])
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_for(self, method: str) -> dict:
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.events.append(self._receive())

    def open(self, path: Path) -> float:
        """Navigate to a file and wait for its load event; returns the seconds it took."""
        start = time.monotonic()
        self.send("Page.navigate", session=self.session, url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")
        return time.monotonic() - start

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", session=self.session, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, width: int = 1360) -> None:
        """A PNG of the whole page, not just the viewport."""
        self.send("Emulation.setDeviceMetricsOverride", session=self.session, width=width, height=900,
                  deviceScaleFactor=1, mobile=False)
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.send("Emulation.setDeviceMetricsOverride", session=self.session, width=width, height=min(height, 16000),
                  deviceScaleFactor=1, mobile=False)
        data = self.send("Page.captureScreenshot", session=self.session, format="png", captureBeyondViewport=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions, failed loads and requests that left the machine."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('exception', {}).get('description') or params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log error: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Network.requestWillBeSent" and not params["request"]["url"].startswith(LOCAL_SCHEMES):
                found.append(f"network request: {params['request']['url']}")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                found.append(f"failed to load: {params.get('errorText')}")
        return found

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()
        for fd in (self._read, self._write):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def inspect_report(report: Path, screenshot: Path | None = None, executable: str | None = None) -> dict:
    """Open a report, exercise its page script, and return what was found (plus a screenshot)."""
    with Chromium(executable or find_chromium()) as browser:
        seconds = browser.open(report)
        checks = browser.evaluate(CHECK_PAGE)
        if screenshot is not None:
            browser.screenshot(screenshot)
        return {**checks, "load_seconds": seconds, "problems": browser.problems()}


@pytest.fixture(scope="module")
def chromium():
    executable = find_chromium()
    if executable is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is required under CI (apt-get install -y --no-install-recommends chromium)")
        pytest.skip("Chromium is not installed")
    return executable


@pytest.mark.workflow
def test_report_opens_cleanly_in_chromium(chromium, report_demo):
    run = report_demo
    screenshot = REPO / "results" / "report_screenshot.png"
    found = inspect_report(run / "results" / "report.html", screenshot, chromium)
    assert found["problems"] == []
    assert found["broken"] == []
    assert found["overflow"] == []
    assert found["sections"] == ["run", "overview", "transitions", "across", "validation"]
    assert sorted(found["shown"]) == ["progenitor → fate A", "progenitor → fate B", "stem cell → progenitor"]
    # the warning is shown exactly for the transitions whose held-out R² does not beat their null's
    import pandas as pd

    table = pd.read_csv(run / "results/transitions.tsv", sep="\t")
    expected = {f"{a} → {b}": not r2 > null for a, b, r2, null in
                zip(table["source_cluster"], table["target_cluster"], table["r2_test"], table["r2_test_null"])}
    assert found["flags"] == expected
    assert found["sorted"] == "desc"
    assert found["n_images"] >= 7 + 3  # overview and validation figures, and one transition's three
    assert screenshot.stat().st_size > 50_000


@pytest.fixture(scope="module")
def differential_demo(tmp_path_factory, workflow_runner) -> Path:
    """A whole run on .test/config/differential_demo.yaml: report_demo's three transitions with
    differential.enabled, so the report has its Differential edges section (one sibling pair)."""
    from helpers import workflow_config

    workdir = tmp_path_factory.mktemp("differential_demo")
    result = workflow_runner(workdir, workflow_config("differential_demo"), "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


@pytest.mark.workflow
def test_differential_section_renders_cleanly(chromium, differential_demo):
    """With differential.enabled the page gains the branch view of the sibling pair, the TF ranking and a
    TF-score table in every transition's panel, and nothing breaks or spills out of its box."""
    report = differential_demo / "results" / "report.html"
    found = inspect_report(report, REPO / "results" / "report_differential_screenshot.png", chromium)
    assert found["problems"] == [] and found["broken"] == [] and found["overflow"] == []
    assert found["sections"] == ["run", "overview", "transitions", "across", "differential", "validation"]
    page = report.read_text()
    assert page.count("<article class='branch'>") == 1  # progenitor -> fate A vs progenitor -> fate B only
    assert "<img alt=\"branch progenitor → fate A vs progenitor → fate B\"" in page
    assert "TFs whose regulation changes between siblings" in page
    assert page.count("data-part='tf-scores'") == 3  # one TF-score table per transition panel


def test_a_transition_below_its_null_is_flagged_in_its_panel(chromium, tmp_path):
    """A constructed run: one transition's held-out R² is below its null's, and only it carries the warning;
    nothing on the page (long checksums, wide tables) spills out of its box."""
    import importlib.util

    import numpy as np

    from transgrn import report

    spec = importlib.util.spec_from_file_location("report_size", REPO / "benchmarks/report_size.py")
    report_size = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report_size)
    inputs, predictions = report_size.synthetic_run(tmp_path, n_transitions=3, n_tfs=8, n_targets=40, tfs_per_target=3,
                                                    n_pairs=200)
    table = inputs["table"]
    table.loc[0, ["r2_test", "r2_test_null"]] = [-0.3, -0.01]
    table = table.assign(r2_test_median=np.where(table.index == 0, -0.2, 0.1), r2_test_null_median=0.0,
                         frac_targets_above_null=0.4, above_null=table["r2_test"] > table["r2_test_null"])
    report_size.draw_figures({**inputs, "table": table}, predictions, detail=3)
    page = tmp_path / "report.html"
    report.write_report(page, **{**inputs, "table": table}, top=10, detail=3)
    found = inspect_report(page, REPO / "results" / "report_flag_screenshot.png", chromium)
    assert found["problems"] == [] and found["broken"] == [] and found["overflow"] == []
    below = f"{table['source_cluster'][0]} → {table['target_cluster'][0]}"
    assert found["flags"] == {f"{a} → {b}": f"{a} → {b}" == below for a, b in zip(table["source_cluster"], table["target_cluster"])}


def test_a_broken_page_is_caught(chromium, tmp_path):
    """The checks can fail: a broken image, a script error and a remote request are all reported."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head><body>"
                    "<img alt='bad' src='data:image/png;base64,AAAA'><img alt='remote' src='https://example.invalid/x.png'>"
                    "<main><section style='width:300px'><table id='wide'><tr><td style='white-space:nowrap'>"
                    + "0123456789abcdef" * 40 + "</td></tr></table></section>"
                    "<div style='width:300px;overflow-x:auto'><p style='width:900px'>held in a scrolling box</p></div></main>"
                    "<script>console.error('boom'); undefined_function();</script></body></html>")
    found = inspect_report(page, None, chromium)
    assert "bad" in found["broken"] and "remote" in found["broken"]
    assert [o.split(" ")[0] for o in found["overflow"]] == ["the", "section"]  # the page, and the table's section
    assert "0123456789abcdef" in found["overflow"][1]
    text = "\n".join(found["problems"])
    assert "console.error: boom" in text
    assert "undefined_function" in text
    assert "network request: https://example.invalid/x.png" in text


if __name__ == "__main__":
    report, out = Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None
    result = inspect_report(report, out)
    print(json.dumps({k: v for k, v in result.items() if k != "shown"}, indent=1))
    sys.exit(1 if result["problems"] or result["broken"] else 0)
