"""The web console, in a real browser and over plain HTTP.

A daemon with console_listen, and `alice` in approval.approvers.console_users.
A psql client's DROP is held; `pgwarden console url --user alice` gives the
login URL; headless Chromium (Selenium) opens it, sees the held statement
(SQL, identity, rule), and approves or denies it with a click: the psql
client then completes, or reads 42501 with alice's reason. The page must
run under its Content-Security-Policy without a single violation.

Without a token, or with a wrong one, every /v1 call on the console's
listener is refused with 401 (POSTs included, and they decide nothing); a
console user who is not in console_users reads everything but gets 403 on
approve and deny.

The browser tests need Debian's chromium, chromium-driver and
python3-selenium: without them they skip, unless CI is set (then they fail).
A screenshot of the page with the pending request is saved under
$PGWARDEN_ARTIFACTS when set, else under the test's tmp_path.
"""

import base64
import json
import os
import re
import stat
import time

import pytest

from harness.operator_http import tcp_request
from harness.system import free_port
from approvals import helpers
from approvals.helpers import AGENT, approval_config, cli, finish, pending, start_psql, wait_for_request

DB = "pgw_console"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def make_table(cluster, name):
    helpers.make_table(cluster, name, DB)


def table_exists(cluster, name):
    return helpers.table_exists(cluster, name, DB)


@pytest.fixture(scope="module")
def db(cluster):
    cluster.create_database(DB)
    yield cluster
    cluster.drop_database(DB)




@pytest.fixture
def console(make_pgwarden, db):
    """A started pgwarden with the approval policy, its console on a free
    loopback port, alice a console approver; tokens under its run dir."""
    pw = approval_config(make_pgwarden(start=False), approvers={"console_users": ["alice"]})
    pw.config["console_listen"] = f"127.0.0.1:{free_port()}"
    pw.config["state_dir"] = os.path.join(pw.dir, "state")
    return pw.start()


def console_url(pw, user):
    url = cli(pw, "console", "url", "--user", user).stdout.strip()
    m = re.fullmatch(r"http://(?P<addr>[^/]+)/#token=(?P<token>[A-Za-z0-9_-]{43})", url)
    assert m and m["addr"] == pw.config["console_listen"], url
    return url, m["token"]


def api(pw, method, path, token=None, body=None, authorization=None):
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    elif token is not None:
        headers["Authorization"] = "Bearer " + token
    if method == "POST" and body is None:
        body = {}
    return tcp_request(pw.config["console_listen"], method, path, body=body, headers=headers)


def hold_drop(pw, db, table, extra_args=()):
    make_table(db, table)
    proc = start_psql(pw, f"DROP TABLE {table}", DB, extra_args=extra_args)
    [req] = wait_for_request(pw)
    return proc, req


# ---- the browser -----------------------------------------------------------------------------

def browser_missing():
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("chromium")
    if not os.access(CHROMEDRIVER, os.X_OK):
        missing.append("chromium-driver")
    return missing


@pytest.fixture
def browser():
    missing = browser_missing()
    if missing:
        msg = (f"the console's browser tests need {', '.join(missing)} "
               f"(apt-get install chromium chromium-driver python3-selenium)")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    from harness.console_browser import ConsoleBrowser
    with ConsoleBrowser(timeout=15.0) as b:
        yield b


def artifact_path(tmp_path, name):
    base = os.environ.get("PGWARDEN_ARTIFACTS")
    directory = base if base else str(tmp_path)
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, name)


def severe_entries(b):
    """Severe browser log lines, but for Chromium's own note of a 404 from a
    daemon without the recordings list (GET /v1/recordings): the page says so."""
    return [e["message"] for e in b.browser_log()
            if e.get("level") == "SEVERE" and not ("/v1/recordings?" in e["message"] and "404" in e["message"])]


def test_approve_from_the_browser_runs_the_statement(console, db, browser, tmp_path):
    proc, req = hold_drop(console, db, "t_console")
    url, token = console_url(console, "alice")
    token_file = os.path.join(console.config["state_dir"], "console", "alice.token")
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600

    browser.open(url)
    assert browser.whoami() == "alice"
    assert "token=" not in browser.url  # taken out of the address bar
    row = browser.wait_for_approval(req["id"])
    from selenium.webdriver.common.by import By
    assert row.find_element(By.CSS_SELECTOR, "pre.sql code").text == "DROP TABLE t_console"
    cells = {td.get_attribute("data-label"): td.text for td in row.find_elements(By.CSS_SELECTOR, "td")}
    assert cells["ID"] == req["id"]
    assert cells["Identity"].splitlines()[0] == AGENT
    assert cells["Rule"] == req["rule"] and req["rule"].startswith("approve")
    assert cells["Upstream / database"].startswith(f"main / {DB}")
    assert "ddl" in cells["Classes"] and "drop" in cells["Classes"]
    assert cells["Approvals"].startswith("0/1")
    assert browser.text("#approvals-count") == "(1)"
    assert browser.driver.title == "(1) pgwarden console"
    for button in ("button.approve", "button.approve-for", "button.deny"):
        assert row.find_element(By.CSS_SELECTOR, button).is_enabled()
    # The held session shows among the live ones, the held DROP among the
    # recent decisions, one chip per class.
    browser.wait_until(lambda: AGENT in browser.text("#sessions"), "the held session")
    decision = browser.wait_for("#decisions tbody tr")
    chips = [c.text for c in decision.find_elements(By.CSS_SELECTOR, "td[data-label=Classes] .chip")]
    assert chips == ["ddl", "drop"], chips
    assert decision.find_element(By.CSS_SELECTOR, "pre.sql code").text == "DROP TABLE t_console"

    shot = browser.screenshot(artifact_path(tmp_path, "console.png"))
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(shot) > 10_000
    print(f"console screenshot: {shot}")

    assert proc.poll() is None and table_exists(db, "t_console")
    note = browser.approve(req["id"])
    assert note == f"Approved {req['id']}. Now approved.", note
    code, out, err = finish(proc)
    assert (code, out.strip()) == (0, "DROP TABLE"), err
    assert not table_exists(db, "t_console")
    browser.wait_gone(req["id"])
    browser.wait_until(lambda: not browser.driver.find_element(By.ID, "approvals-empty").get_attribute("hidden"),
                       "the empty-queue note")
    assert f"approval {req['id']}: approved by alice via console" in console.log_text()
    decided = [a for a in json.loads(cli(console, "approvals", "list", "--all", "-j").stdout)["approvals"]
               if a["id"] == req["id"]]
    assert decided and decided[0]["state"] == "approved" and decided[0]["decided_by"] == "alice"

    assert browser.csp_violations() == []
    assert severe_entries(browser) == []


def test_deny_from_the_browser_sends_the_reason_to_the_client(console, db, browser):
    proc, req = hold_drop(console, db, "t_console_deny", extra_args=["-v", "VERBOSITY=verbose"])
    url, _ = console_url(console, "alice")
    browser.open(url)
    browser.wait_for_approval(req["id"])
    note = browser.deny(req["id"], "use a migration, not psql")
    assert note == f"Denied {req['id']}. Now denied.", note
    code, out, err = finish(proc)
    assert code != 0
    assert f"ERROR:  42501: pgwarden: approval {req['id']} denied by alice: use a migration, not psql" in err, err
    assert table_exists(db, "t_console_deny")
    browser.wait_gone(req["id"])
    assert browser.csp_violations() == []
    assert severe_entries(browser) == []


def test_a_read_only_console_user_sees_but_cannot_decide(console, db, browser):
    proc, req = hold_drop(console, db, "t_console_ro")
    url, _ = console_url(console, "bob")
    browser.open(url)
    assert browser.whoami() == "bob"
    assert browser.text("#role") == "(read only: may not approve)"
    row = browser.wait_for_approval(req["id"])
    from selenium.webdriver.common.by import By
    for control in ("button.approve", "button.approve-for", "button.deny", "input.for-duration", "input.deny-reason"):
        assert not row.find_element(By.CSS_SELECTOR, control).is_enabled(), control
    assert browser.csp_violations() == []
    cli(console, "approvals", "deny", req["id"], "--reason", "cleanup")
    finish(proc)
    browser.wait_gone(req["id"])


# ---- plain HTTP ------------------------------------------------------------------------------

V1_CALLS = [("GET", "/v1/whoami"), ("GET", "/v1/approvals"), ("GET", "/v1/approvals?all=1"),
            ("GET", "/v1/sessions"), ("GET", "/v1/decisions"), ("GET", "/v1/decisions?limit=5")]


def test_every_api_call_needs_a_valid_token(console, db):
    proc, req = hold_drop(console, db, "t_console_401")
    _, token = console_url(console, "alice")
    calls = V1_CALLS + [("POST", f"/v1/approvals/{req['id']}/approve"), ("POST", f"/v1/approvals/{req['id']}/deny")]
    wrong = [None,                                   # no Authorization header
             "Bearer ",                              # an empty token
             "Bearer " + "A" * 43,                   # a well-formed token nobody has
             "Bearer " + token[:-1],                 # alice's, one character short
             "Bearer " + token + "x",                # alice's, one character more
             "Bearer " + token.swapcase(),           # alice's, other case
             "Basic " + base64.b64encode(f"alice:{token}".encode()).decode(),
             token]                                  # no scheme
    for method, path in calls:
        for authorization in wrong:
            body = {"reason": "sneaky"} if path.endswith("/deny") else None
            if authorization is None:
                reply = api(console, method, path, body=body)
            else:
                reply = api(console, method, path, body=body, authorization=authorization)
            assert reply.status == 401, (method, path, authorization, reply)
            assert reply.headers.get("www-authenticate") == "Bearer"
            assert "console token is required" in reply.json()["error"]
        # The token in the query string (as the URL's fragment would be) is not a credential.
        sep = "&" if "?" in path else "?"
        assert api(console, method, f"{path}{sep}token={token}").status == 401
    # Nothing was decided by any of that; the client still waits.
    assert [a["id"] for a in pending(console)] == [req["id"]]
    assert proc.poll() is None and table_exists(db, "t_console_401")
    # The page itself needs no token; the API with alice's does.
    page = api(console, "GET", "/")
    assert page.status == 200 and b'<script src="console.js"' in page.body
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for method, path in V1_CALLS:
        assert api(console, method, path, token=token).status == 200, path
    assert api(console, "GET", "/v1/whoami", token=token).json() == {"user": "alice", "may_approve": True}
    # The scheme is case-insensitive (RFC 9110), the token is not.
    assert api(console, "GET", "/v1/whoami", authorization="bearer " + token).status == 200
    [held] = [d for d in api(console, "GET", "/v1/decisions", token=token).json()["decisions"]
              if d["sql"] == "DROP TABLE t_console_401"]
    assert held["action"] == "approve" and held["classes"] == ["ddl", "drop"] and held["identity"] == AGENT, held
    reply = api(console, "POST", f"/v1/approvals/{req['id']}/deny", token=token, body={"reason": "checked"})
    assert reply.status == 200 and reply.json()["state"] == "denied", reply
    code, out, err = finish(proc)
    assert code != 0 and f"approval {req['id']} denied by alice: checked" in err
    assert table_exists(db, "t_console_401")


def test_a_console_user_not_in_console_users_reads_but_may_not_decide(console, db):
    proc, req = hold_drop(console, db, "t_console_403")
    _, bob = console_url(console, "bob")
    assert api(console, "GET", "/v1/whoami", token=bob).json() == {"user": "bob", "may_approve": False}
    listing = api(console, "GET", "/v1/approvals", token=bob)
    assert listing.status == 200
    [seen] = listing.json()["approvals"]
    assert seen["id"] == req["id"] and seen["sql"] == "DROP TABLE t_console_403"
    assert api(console, "GET", "/v1/sessions", token=bob).json()["sessions"]
    assert api(console, "GET", "/v1/decisions", token=bob).status == 200
    for verb, body in [("approve", {}), ("approve", {"for": "10m"}), ("deny", {"reason": "bob says no"})]:
        reply = api(console, "POST", f"/v1/approvals/{req['id']}/{verb}", token=bob, body=body)
        assert reply.status == 403, reply
        assert reply.json()["error"] == ("console user bob may not decide approvals: "
                                         "not in approval.approvers.console_users"), reply
    # An unknown id is refused the same way: bob learns nothing from trying.
    assert api(console, "POST", "/v1/approvals/nosuch-1/approve", token=bob).status == 403
    assert [a["id"] for a in pending(console)] == [req["id"]]
    assert proc.poll() is None and table_exists(db, "t_console_403")
    _, alice = console_url(console, "alice")
    reply = api(console, "POST", f"/v1/approvals/{req['id']}/approve", token=alice)
    assert reply.status == 200 and reply.json()["state"] == "approved"
    assert finish(proc)[:2] == (0, "DROP TABLE\n")
    assert not table_exists(db, "t_console_403")


def test_a_live_sessions_transcript_opens_in_the_browser(make_pgwarden, db, browser):
    """A recording pgwarden: the live session's Transcript button shows its
    statements and results (as text, under the CSP)."""
    import psycopg
    from test_recording import keys
    from selenium.webdriver.common.by import By
    pw = approval_config(make_pgwarden(start=False), approvers={"console_users": ["alice"]})
    pw.config["console_listen"] = f"127.0.0.1:{free_port()}"
    pw.config["state_dir"] = os.path.join(pw.dir, "state")
    private, _ = keys(pw.dir)
    pw.config["recording"] = {"dir": os.path.join(pw.dir, "recordings"), "signing_key_file": private}
    os.makedirs(pw.config["recording"]["dir"])
    pw.start()
    with psycopg.connect(**pw.conninfo(dbname=DB), autocommit=True) as conn:
        conn.execute("SELECT '<b>hello</b> from the console' AS greeting").fetchall()
        url, _ = console_url(pw, "alice")
        browser.open(url)
        button = browser.wait_for("#sessions button.open-transcript")
        time.sleep(0.3)  # the recording thread writes every 100 ms
        button.click()
        browser.wait_until(lambda: "<b>hello</b> from the console" in browser.text("#transcript-entries"),
                           "the transcript")
        entries = browser.text("#transcript-entries")
        assert "SELECT '<b>hello</b> from the console' AS greeting" in entries
        assert "greeting" in entries and "(1 row)" in entries
        assert not browser.driver.find_elements(By.CSS_SELECTOR, "#transcript-entries b")  # text, never HTML
        assert "Live, verified so far" in browser.text("#transcript-verified")
    # The recordings list, where the daemon has GET /v1/recordings; else the note.
    browser.wait_until(lambda: browser.text("#recordings tbody") or "not available" in browser.text("#recordings-empty"),
                       "the recordings list or its note")
    assert browser.csp_violations() == []
    assert severe_entries(browser) == []
