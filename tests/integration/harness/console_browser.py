"""The web console in a real browser: headless Chromium driven by Selenium.

    with ConsoleBrowser() as browser:
        browser.open(console_url)             # http://127.0.0.1:9187/#token=...
        browser.wait_for_approval("n1-7")
        note = browser.approve("n1-7")        # the #message text after the click
        browser.screenshot("console.png")
        assert browser.csp_violations() == []

It finds elements by the hooks the page keeps for this (the tables #approvals,
#sessions, #decisions; #message; #whoami; each pending row's
data-approval-id; the buttons .approve, .approve-for, .deny and the inputs
.for-duration, .deny-reason). Needs Debian's chromium, chromium-driver and
python3-selenium.
"""

import argparse
import time

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _css_string(value):
    """A CSS string literal for an attribute selector."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class ConsoleBrowser:
    def __init__(self, width=1280, height=900, timeout=10.0):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}",
                    "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions"):
            options.add_argument(arg)
        # The browser's console log, where Chromium reports CSP violations.
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.timeout = timeout
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        self._log = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.driver is not None:
            self.driver.quit()
            self.driver = None

    def open(self, url):
        self.driver.get(url)

    @property
    def url(self):
        return self.driver.current_url

    def wait_until(self, predicate, what, timeout=None):
        """Polls predicate() until it returns something true; returns that."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                value = predicate()
                if value:
                    return value
            except (NoSuchElementException, StaleElementReferenceException):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"console: timed out waiting for {what}")
            time.sleep(0.1)

    def wait_for(self, css, timeout=None):
        """The first element matching css once it is displayed."""
        def visible():
            element = self.driver.find_element(By.CSS_SELECTOR, css)
            return element if element.is_displayed() else None
        return self.wait_until(visible, css, timeout)

    def text(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def message(self):
        return self.text("#message")

    def whoami(self):
        return self.wait_for("#whoami").text

    def approval_ids(self):
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#approvals tbody tr[data-approval-id]")
        return [row.get_attribute("data-approval-id") for row in rows]

    def row(self, approval_id):
        return self.driver.find_element(By.CSS_SELECTOR, f"#approvals tr[data-approval-id={_css_string(approval_id)}]")

    def wait_for_approval(self, approval_id, timeout=None):
        return self.wait_until(lambda: self.row(approval_id), f"approval {approval_id}", timeout)

    def wait_gone(self, approval_id, timeout=None):
        self.wait_until(lambda: approval_id not in self.approval_ids(), f"approval {approval_id} to go", timeout)

    def _act(self, approval_id, button, field=None, value=None):
        """Clicks a row's button (after typing into its field) and returns the
        message the page shows for it."""
        row = self.wait_for_approval(approval_id)
        self.driver.execute_script("document.getElementById('message').textContent = '';")
        if field is not None:
            box = row.find_element(By.CSS_SELECTOR, field)
            box.clear()
            box.send_keys(value)
        row.find_element(By.CSS_SELECTOR, button).click()
        return self.wait_until(lambda: self.message().strip(), f"the answer to {button} on {approval_id}")

    def approve(self, approval_id):
        return self._act(approval_id, "button.approve")

    def approve_for(self, approval_id, duration):
        return self._act(approval_id, "button.approve-for", "input.for-duration", duration)

    def deny(self, approval_id, reason):
        return self._act(approval_id, "button.deny", "input.deny-reason", reason)

    def screenshot(self, path):
        self.driver.save_screenshot(str(path))
        return path

    def browser_log(self):
        """Everything the page logged so far (each call returns only new entries
        from Chromium, so they are kept here)."""
        self._log.extend(self.driver.get_log("browser"))
        return list(self._log)

    def csp_violations(self):
        return [e["message"] for e in self.browser_log() if "Content Security Policy" in e.get("message", "")]


def main():
    parser = argparse.ArgumentParser(description="Open the pgwarden console headless, optionally approve, screenshot.")
    parser.add_argument("url")
    parser.add_argument("--approve", metavar="ID")
    parser.add_argument("--screenshot", metavar="PNG", default="console.png")
    args = parser.parse_args()
    with ConsoleBrowser() as browser:
        browser.open(args.url)
        print("signed in as", browser.whoami())
        print("pending:", browser.approval_ids())
        if args.approve:
            print(browser.approve(args.approve))
        print("screenshot:", browser.screenshot(args.screenshot))
        for violation in browser.csp_violations():
            print("CSP:", violation)


if __name__ == "__main__":
    main()
