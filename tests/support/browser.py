"""Load an HTML report in headless Chromium with the network off; read back errors, DOM and pixels.

No browser driver: a copy of the page gets two scripts injected (one before anything else that
collects ``error`` events, unhandled rejections and ``console.error`` calls, one at the end that
waits for the Plotly figure, optionally runs a JavaScript action such as a pan, and writes a JSON
report into a ``<pre>``), then ``chromium --dump-dom`` prints the DOM and the report is parsed from
it. Screenshots are decoded with a small PNG reader (zlib + numpy), so Pillow is not needed.

Tests that need Chromium skip when it is absent, except under CI (``CI=true``), where its absence
is a failure (``.ci/run`` installs the Debian package ``chromium``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

PROBE_ID = "ais-bench-probe"

#: Headless, sandbox off (root in CI), no GPU (WebGL falls back to SwiftShader), no background
#: traffic, and every network request sent to a closed port on 127.0.0.1 with name resolution off.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

_CATCHER = """<script>
window.__probeErrors = [];
window.addEventListener('error', function (e) {
  window.__probeErrors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || e));
}, true);
window.addEventListener('unhandledrejection', function (e) { window.__probeErrors.push('rejection: ' + e.reason); });
(function () {
  var original = console.error;
  console.error = function () {
    window.__probeErrors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
})();
</script>"""

_PROBE = """<script>
(function () {
  function report(extra) {
    var gd = document.getElementById(%(div)s);
    var data = (gd && gd._fullData) || [];
    var out = {
      errors: window.__probeErrors,
      plotly: typeof window.Plotly,
      traces: data.map(function (t) {
        return {type: t.type, name: t.name, points: t.x ? t.x.length : 0, visible: t.visible};
      }),
      canvases: gd ? gd.querySelectorAll('canvas').length : 0,
      shapes: gd && gd._fullLayout ? gd._fullLayout.shapes.length : 0,
      network: performance.getEntriesByType('resource').map(function (r) { return r.name; })
        .filter(function (name) { return !/^(data|blob|file):/.test(name); }),
      action: extra,
      timing_ms: {loaded: window.__probeLoaded, ready: window.__probeReady, reported: Math.round(performance.now())}
    };
    var pre = document.createElement('pre');
    pre.id = %(probe)s;
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  function ready() {
    var gd = document.getElementById(%(div)s);
    if (!gd || !gd._fullLayout || !gd._fullData) { return false; }
    var gl = gd._fullData.some(function (t) { return /gl$/.test(t.type); });
    return !gl || gd.querySelector('canvas');
  }
  function poll() {
    if (!ready()) { return setTimeout(poll, 100); }
    window.__probeReady = Math.round(performance.now());
    var gd = document.getElementById(%(div)s);
    try {
      var result = (function (gd) { %(action)s })(gd);
      Promise.resolve(result).then(function (value) {
        setTimeout(function () { report(value === undefined ? null : value); }, 300);
      }, function (e) { window.__probeErrors.push('action: ' + e); report(null); });
    } catch (e) { window.__probeErrors.push('action: ' + e); report(null); }
  }
  window.addEventListener('load', function () {
    window.__probeLoaded = Math.round(performance.now());
    setTimeout(poll, 50);
  });
})();
</script>"""


def find_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def requires_chromium() -> pytest.MarkDecorator:
    present = find_chromium() is not None
    if not present and os.environ.get("CI") == "true":
        raise RuntimeError("chromium missing: CI must install it (.ci/run: apt-get install -y chromium)")
    return pytest.mark.skipif(not present, reason="chromium absent (Debian package chromium)")


@dataclass
class PageReport:
    """What the probe saw: JS errors, Plotly's traces, network requests, the action's result."""

    errors: list[str]
    plotly: str
    traces: list[dict]
    canvases: int
    shapes: int
    network: list[str]
    action: object
    timing_ms: dict
    dom: str


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, check=False)


def _base_args(work: Path, width: int, height: int, budget_ms: int) -> list[str]:
    chromium = find_chromium()
    assert chromium is not None, "chromium not found"
    profile = work / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    return [
        chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
        f"--virtual-time-budget={budget_ms}",
    ]


def load_page(
    html_path: Path, work: Path, *, div_id: str, action_js: str = "", budget_ms: int = 20000, timeout_s: float = 180
) -> PageReport:
    """Open a probed copy of ``html_path``; ``action_js`` is a function body getting ``gd`` (the
    figure div) that may return a value or a promise (reported as ``action``)."""
    text = html_path.read_text(encoding="utf-8")
    probe = _PROBE % {"div": json.dumps(div_id), "probe": json.dumps(PROBE_ID), "action": action_js}
    probed = text.replace("<head>", "<head>\n" + _CATCHER, 1).replace("</body>", probe + "\n</body>", 1)
    copy = work / f"probed_{html_path.name}"
    copy.write_text(probed, encoding="utf-8")
    args = _base_args(work, 1400, 1600, budget_ms)
    done = _run([*args, "--dump-dom", copy.resolve().as_uri()], timeout_s)
    match = re.search(rf'<pre id="{PROBE_ID}">(.*?)</pre>', done.stdout, re.S)
    assert match, f"probe report missing (rc={done.returncode}); stderr tail:\n{done.stderr[-3000:]}"
    data = json.loads(_unescape(match.group(1)))
    return PageReport(dom=done.stdout, **data)


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


def take_screenshot(
    html_path: Path, out_png: Path, work: Path, *, width: int = 1400, height: int = 1600, scale: float = 1.0,
    budget_ms: int = 20000, timeout_s: float = 180,
) -> bytes:
    """Screenshot of the page at ``width`` x ``height`` CSS px (``scale`` = device pixels per CSS px)."""
    args = _base_args(work, width, height, budget_ms)
    done = _run(
        [*args, f"--force-device-scale-factor={scale}", f"--screenshot={out_png}", html_path.resolve().as_uri()],
        timeout_s,
    )
    assert out_png.exists(), f"no screenshot (rc={done.returncode}); stderr tail:\n{done.stderr[-3000:]}"
    return out_png.read_bytes()


def decode_png(data: bytes) -> np.ndarray:
    """Pixels of an 8-bit, non-interlaced RGB or RGBA PNG as a uint8 array (height, width, channels)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour, interlace = header[8], header[9], header[12]
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG: depth {depth}, colour {colour}"
    bpp = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), dtype=np.uint8)
    previous = np.zeros(width * bpp, dtype=np.uint8)
    for y in range(height):
        out[y] = _unfilter(int(raw[y, 0]), raw[y, 1:], previous, bpp)
        previous = out[y]
    return out.reshape(height, width, bpp)


def _unfilter(kind: int, line: np.ndarray, above: np.ndarray, bpp: int) -> np.ndarray:
    if kind == 0:
        return line
    if kind == 2:
        return line + above  # uint8 arithmetic wraps mod 256, as PNG requires
    if kind == 1:
        pixels = line.reshape(-1, bpp).astype(np.int64)
        return (np.cumsum(pixels, axis=0) % 256).astype(np.uint8).reshape(-1)
    cur = bytearray(line.tobytes())
    up = above.tobytes()
    for i in range(len(cur)):
        left = cur[i - bpp] if i >= bpp else 0
        if kind == 3:
            cur[i] = (cur[i] + ((left + up[i]) >> 1)) & 0xFF
        else:
            upper_left = up[i - bpp] if i >= bpp else 0
            p = left + up[i] - upper_left
            pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - upper_left)
            pred = left if pa <= pb and pa <= pc else (up[i] if pb <= pc else upper_left)
            cur[i] = (cur[i] + pred) & 0xFF
    return np.frombuffer(bytes(cur), dtype=np.uint8)


def colour_count(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """Number of pixels within ``tolerance`` (per channel) of ``rgb``."""
    diff = np.abs(pixels[..., :3].astype(np.int16) - np.array(rgb, dtype=np.int16))
    return int((diff.max(axis=-1) <= tolerance).sum())


def distinct_colours(pixels: np.ndarray) -> int:
    flat = pixels[..., :3].reshape(-1, 3).astype(np.uint32)
    return int(np.unique((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]).size)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
