"""Headless Chromium for the tests and the screenshots: find it, and watch a live page in real time.

``--dump-dom`` and ``--screenshot`` run the page on virtual time, which ends before a live stream has
moved; :func:`watch` keeps the page open for real seconds and reads it over the Chrome DevTools Protocol.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import urllib.request


def find_chromium() -> str | None:
    """Debian's chromium (``make test`` installs it when run as root), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def watch(exe: str, url: str, at: tuple[float, ...], screenshot: bool = False, width: int = 1200,
          height: int = 1300) -> list[str | bytes]:
    """Open ``url`` and, after each of ``at`` seconds of real time, read the page: its DOM (outerHTML) or, with
    ``screenshot``, a PNG."""
    from websockets.asyncio.client import connect

    browser = subprocess.Popen([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                f"--window-size={width},{height}", "--remote-debugging-port=0", "about:blank"],
                               stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "DevTools listening on" not in line:
            line = browser.stderr.readline()
            if not line:
                raise RuntimeError("Chromium did not start its DevTools server")
        debug = line.split("ws://")[1].split("/")[0]
        pages = json.loads(urllib.request.urlopen(f"http://{debug}/json/list", timeout=10).read())
        target = next(t["webSocketDebuggerUrl"] for t in pages if t["type"] == "page")

        async def visit() -> list[str | bytes]:
            async with connect(target, max_size=2**26) as cdp:
                numbers = iter(range(1, 1000))

                async def call(method: str, **params) -> dict:
                    number = next(numbers)
                    await cdp.send(json.dumps({"id": number, "method": method, "params": params}))
                    while (reply := json.loads(await cdp.recv())).get("id") != number:
                        pass
                    return reply["result"]

                await call("Page.navigate", url=url)
                seen, waited = [], 0.0
                for t in at:
                    await asyncio.sleep(t - waited)
                    waited = t
                    if screenshot:
                        seen.append(base64.b64decode((await call("Page.captureScreenshot", format="png"))["data"]))
                    else:
                        result = await call("Runtime.evaluate", expression="document.documentElement.outerHTML",
                                            returnByValue=True)
                        seen.append(result["result"]["value"])
                return seen

        return asyncio.run(visit())
    finally:
        browser.kill()
        browser.wait()
