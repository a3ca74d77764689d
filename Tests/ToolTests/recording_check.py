#!/usr/bin/env python3
"""Checks a recorded run's pages in a real browser (issue 25): Debian's headless Chromium driven through
chromedriver by Selenium (PyPI).

usage: recording_check.py VIEW_URL REPORT_FILE STATION DAYS ARTIFACT_DIR

Checks, each printed as PASS or FAIL:
  - `rigd view`'s page (VIEW_URL) draws STATION's dissolved-oxygen plot with points in every one of the DAYS days
    of the run (read from the Chart.js chart itself), offers CSV downloads, lists the station's events (its aerators'
    switches among them), and the browser console has no SEVERE entry;
  - the report (REPORT_FILE, opened from a file:// URL) draws every plot on the page (each canvas has a Chart.js
    chart with points), logs no SEVERE console entry, and makes no network request at all (Chromium's performance
    log: every request's URL is the file itself or a data: URL);
Screenshots: ARTIFACT_DIR/recording-view.png and ARTIFACT_DIR/recording-report.png.
Exit status 0 only when every check passed; 2 for a usage or set-up problem.
"""

import json
import os
import shutil
import sys
import time

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ImportError as error:
    print(f"recording_check: {error}; install Selenium with: python3 -m pip install selenium", file=sys.stderr)
    sys.exit(2)

failures = []


def check(ok, what, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {what}{'' if ok else f': {detail}'}", flush=True)
    if not ok:
        failures.append(what)


def browser():
    options = webdriver.ChromeOptions()
    for arg in ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"]:
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver_path), options=options)


def wait_rendered(driver, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script("return document.body.getAttribute('data-rendered')") == "true":
            return True
        time.sleep(0.2)
    return False


def severe(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def requests(driver):
    """Every URL the page asked the network stack for (Chromium's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    view_url, report_file, station, days, artifacts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    os.makedirs(artifacts, exist_ok=True)
    driver = browser()
    try:
        # rigd view
        driver.get(view_url)
        check(wait_rendered(driver), "rigd view's page renders")
        driver.save_screenshot(os.path.join(artifacts, "recording-view.png"))
        xs = driver.execute_script("""
            const section = document.getElementById(arguments[0]);
            if (!section) return null;
            for (const plot of section.querySelectorAll('.plot')) {
              if (!plot.querySelector('h3').textContent.startsWith('Dissolved oxygen')) continue;
              const chart = Chart.getChart(plot.querySelector('canvas'));
              const do_ = chart.data.datasets.find(d => d.label.startsWith('do_mgl'));
              return do_ ? do_.data.filter(p => p.y !== null).map(p => p.x) : null;
            }
            return null;""", f"station-{station}")
        check(xs is not None and len(xs) > 0, f"rigd view draws {station}'s DO plot", f"points: {xs and len(xs)}")
        if xs:
            start = driver.execute_script("return window.RIGD_RECORDING.from")
            per_day = [sum(1 for x in xs if start + d * 86400 <= x < start + (d + 1) * 86400) for d in range(days)]
            check(all(n > 0 for n in per_day), f"the DO plot has points on each of the {days} days",
                  f"points per day: {per_day}")
        links = driver.execute_script(
            "return [...document.querySelectorAll('a[href^=\"/export/\"]')].map(a => a.getAttribute('href'))")
        check(any(f"/export/{station}.csv?what=samples" == link for link in links), "rigd view offers CSV downloads",
              f"links: {links[:6]}")
        events = driver.execute_script("""
            const section = document.getElementById(arguments[0]);
            return section ? [...section.querySelectorAll('details td')].map(td => td.textContent) : [];""",
            f"station-{station}")
        check(any(text.startswith("aerator-") for text in events), "rigd view lists the events (the aerators' switches)",
              f"{len(events)} cells")
        errors = severe(driver)
        check(not errors, "rigd view: no console errors", json.dumps(errors)[:2000])

        # rigd report, from a file
        driver.get_log("performance")  # drop the view's entries
        url = "file://" + os.path.abspath(report_file)
        driver.get(url)
        check(wait_rendered(driver), "the report renders from a file")
        driver.save_screenshot(os.path.join(artifacts, "recording-report.png"))
        counts = driver.execute_script("""
            return [...document.querySelectorAll('.plot')].map(plot => {
              const chart = Chart.getChart(plot.querySelector('canvas'));
              const n = chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0;
              return [plot.querySelector('h3').textContent, n];
            });""")
        expected = driver.execute_script(
            "return window.RIGD_RECORDING.stations.reduce((n, s) => n + s.plots.length, 0)")
        check(len(counts) == expected and expected > 0, "the report has a plot for each in its document",
              f"{len(counts)} drawn, {expected} in the document")
        empty = [title for title, n in counts if n == 0]
        check(not empty, "every plot of the report has points", f"empty: {empty}")
        errors = severe(driver)
        check(not errors, "the report: no console errors", json.dumps(errors)[:2000])
        network = [u for u in requests(driver) if u != url and not u.startswith("data:")]
        check(not network, "the report makes no network request", f"requests: {network[:10]}")
    finally:
        driver.quit()
    print("RESULT: " + ("PASS" if not failures else f"FAIL ({len(failures)})"), flush=True)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
