"""A screenshot of Snakemake's report with one output's page open, taken with headless Chromium.

The report is a single-page app that opens a result only on a click, so a copy of it gets a few lines of script
that open the output's overview page once the app has loaded; the report itself is not changed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from stylepipe.errors import StylepipeError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise StylepipeError("no headless Chromium found (looked for chromium, chromium-browser, google-chrome): apt-get install chromium")


def _opener(page_suffix: str) -> str:
    return f"""<script>
(function openPage() {{
  if (typeof app === "undefined" || !app) {{ setTimeout(openPage, 50); return; }}
  var key = Object.keys(results).find(function (k) {{ return k.endsWith({json.dumps(page_suffix)}); }});
  var labels = results[key].labels || {{}};
  app.setView({{navbarMode: "subcategory", category: "Outputs", subcategory: labels.output,
               content: "html", contentPath: results[key].data_uri, resultPath: key}});
}})();
</script>"""


def report_outputs(report: str | Path) -> list[str]:
    """The outputs whose overview pages the report holds, in its order."""
    text = Path(report).read_text(errors="replace")
    names = []
    for part in text.split("/report/overview.html\":")[:-1]:
        names.append(part.rsplit('"results/', 1)[-1])
    return names


def screenshot_report(report: str | Path, png: str | Path, output: str | None = None, size: tuple[int, int] = (1400, 1600)) -> str:
    """Write `png`: the report with `output`'s page open (the first output when None). Returns the output's name."""
    report = Path(report)
    if not report.is_file():
        raise StylepipeError(f"{report}: no such report; make it with `snakemake --report {report}`")
    names = report_outputs(report)
    if not names:
        raise StylepipeError(f"{report}: holds no output page; run `snakemake --cores all` first, so that each output's page is built")
    output = output or names[0]
    if output not in names:
        raise StylepipeError(f"{report}: no page for '{output}'; it has {', '.join(names)}")
    browser = find_browser()
    with tempfile.TemporaryDirectory(prefix="stylepipe-shot-") as folder:
        copy = Path(folder) / "report.html"
        html = report.read_text(errors="replace")
        # The last </body>: the bundled scripts hold that string too.
        head, tail = html.rsplit("</body>", 1)
        copy.write_text(head + _opener(f"results/{output}/report/overview.html") + "</body>" + tail)
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
                   f"--user-data-dir={folder}/profile", f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=8000",
                   f"--screenshot={Path(png).resolve()}", copy.as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    if result.returncode != 0 or not Path(png).is_file():
        raise StylepipeError(f"{browser} could not screenshot {report}: {result.stderr.strip().splitlines()[-1:] or result.returncode}")
    return output
