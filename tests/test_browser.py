"""The report in a real browser: headless Chromium opens results/report.html of a demo run from
disk and the test fails on any console error, uncaught exception, broken image or network request.

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
  const images = () => Array.from(document.images);
  const broken = new Set();
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const settle = async () => { await Promise.all(images().map(i => i.decode().catch(() => {}))); };
  const collect = () => images().filter(i => !i.complete || i.naturalWidth === 0).forEach(i => broken.add(i.alt || i.src.slice(0, 60)));
  await settle(); collect();
  const select = document.getElementById('transition-select');
  const view = document.getElementById('transition-view');
  const visit = async id => {  // as a reader would: through the URL's hash
    location.hash = 't=' + id;
    for (let i = 0; i < 200 && !(select.value === id && view.querySelector('h3')); i++) await sleep(10);
    await settle(); collect();
    return select.value === id && view.querySelector('h3') ? view.querySelector('h3').textContent : null;
  };
  const shown = [];
  if (select) {
    for (const option of Array.from(select.options)) shown.push(await visit(option.value));
    await visit(select.options[0].value);
  }
  const header = document.querySelector('table.sortable th:nth-child(2)');
  if (header) { header.click(); header.click(); }
  window.scrollTo(0, 0);
  return {broken: Array.from(broken), shown: shown, n_images: images().length,
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
def test_report_opens_cleanly_in_chromium(chromium, tmp_path_factory):
    from test_report import demo_run

    run = demo_run(tmp_path_factory)
    screenshot = REPO / "results" / "report_screenshot.png"
    found = inspect_report(run / "results" / "report.html", screenshot, chromium)
    assert found["problems"] == []
    assert found["broken"] == []
    assert found["sections"] == ["run", "overview", "transitions", "across", "validation"]
    assert sorted(found["shown"]) == ["progenitor → fate A", "progenitor → fate B", "stem cell → progenitor"]
    assert found["sorted"] == "desc"
    assert found["n_images"] >= 7 + 3  # overview and validation figures, and one transition's three
    assert screenshot.stat().st_size > 50_000


def test_a_broken_page_is_caught(chromium, tmp_path):
    """The checks can fail: a broken image, a script error and a remote request are all reported."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head><body>"
                    "<img alt='bad' src='data:image/png;base64,AAAA'><img alt='remote' src='https://example.invalid/x.png'>"
                    "<script>console.error('boom'); undefined_function();</script></body></html>")
    found = inspect_report(page, None, chromium)
    assert "bad" in found["broken"] and "remote" in found["broken"]
    text = "\n".join(found["problems"])
    assert "console.error: boom" in text
    assert "undefined_function" in text
    assert "network request: https://example.invalid/x.png" in text


if __name__ == "__main__":
    report, out = Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None
    result = inspect_report(report, out)
    print(json.dumps({k: v for k, v in result.items() if k != "shown"}, indent=1))
    sys.exit(1 if result["problems"] or result["broken"] else 0)
