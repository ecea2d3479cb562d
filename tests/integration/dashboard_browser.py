#!/usr/bin/env python3
"""Drives a real headless Chromium through the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ended by NUL on descriptors 3 and 4,
no WebSocket needed), for the farm dashboard's test:

    dashboard_browser.py CHROMIUM URL SCREENSHOT [CONSOLE_ADDRESS]

It opens URL, waits until the page shows the farm running, prints what it
shows ("page: state ...", "page: row ADDRESS", "page: alert REASON"), then
reads addresses on stdin, one a line: for each it waits until the page's
live table has that address's row (the page follows the farm's server-sent
events: nothing reloads) and prints "page: saw ADDRESS". On end of input it
clicks CONSOLE_ADDRESS's row, if given, waits for its console to show and
prints it, lines joined by " | " ("page: console TEXT"), saves a screenshot (PNG) and
exits. Every wait is bounded (30 s).
"""
import base64, json, os, subprocess, sys, tempfile, time

chromium, url, screenshot = sys.argv[1:4]
console_address = sys.argv[4] if len(sys.argv) > 4 else None
to_browser_r, to_browser_w = os.pipe()
from_browser_r, from_browser_w = os.pipe()
profile = tempfile.mkdtemp(prefix="vmhive-chromium-")


def place_pipe_ends():
    # In the browser, the pipe's ends at 3 and 4, inheritable (copies first: an end may already
    # be 3 or 4, and dup2 onto itself would leave it close-on-exec). Every other descriptor of
    # ours is close-on-exec.
    reads, writes = os.dup(to_browser_r), os.dup(from_browser_w)
    os.dup2(reads, 3)
    os.dup2(writes, 4)

browser = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
     "--window-size=1400,1000", "--remote-debugging-pipe", "--user-data-dir=" + profile, "about:blank"],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False,
    preexec_fn=lambda: place_pipe_ends())
os.close(to_browser_r)
os.close(from_browser_w)
pending = b""
next_id = 0


def send(method, params=None, session=None):
    global next_id
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    os.write(to_browser_w, json.dumps(message).encode() + b"\0")
    return next_id


def reply(wanted, deadline):
    global pending
    while time.time() < deadline:
        while b"\0" in pending:
            raw, pending = pending.split(b"\0", 1)
            message = json.loads(raw)
            if message.get("id") == wanted:
                if "error" in message:
                    sys.exit("page: DevTools error %s" % message["error"])
                return message["result"]
        piece = os.read(from_browser_r, 1 << 20)
        if not piece:
            sys.exit("page: the browser went away")
        pending += piece
    sys.exit("page: no answer from the browser")


def call(method, params=None, session=None):
    return reply(send(method, params, session), time.time() + 30)


def evaluate(session, expression):
    result = call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
    return result.get("result", {}).get("value")


def wait_for(session, expression, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        value = evaluate(session, expression)
        if value:
            return value
        time.sleep(0.1)
    sys.exit("page: waited 30 s for " + what)


try:
    target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    call("Page.enable", session=session)
    call("Page.navigate", {"url": url}, session)
    print("page: state " + wait_for(session, "document.getElementById('state') && "
                                    "document.getElementById('state').className === 'state running' && "
                                    "document.getElementById('state').textContent", "the farm running"), flush=True)
    wait_for(session, "document.querySelectorAll('tr.clone').length > 0 || null", "a clone row")
    for address in evaluate(session, "[...document.querySelectorAll('tr.clone')].map(r => r.dataset.address)"):
        print("page: row " + address, flush=True)
    for reason in evaluate(session, "[...document.querySelectorAll('.alert .reason')].map(r => r.textContent)"):
        print("page: alert " + reason, flush=True)
    print("page: ready", flush=True)
    for line in sys.stdin:
        address = line.strip()
        if not address:
            continue
        wait_for(session, "document.querySelector('tr.clone[data-address=\"%s\"]') !== null || null" % address,
                 "the row of " + address)
        print("page: saw " + address, flush=True)
    if console_address:
        evaluate(session, "document.querySelector('tr.clone[data-address=\"%s\"]').click()" % console_address)
        shown = wait_for(session, "document.getElementById('console').textContent || null", "the console")
        print("page: console " + " | ".join(shown.strip().split("\n")), flush=True)
    shot = call("Page.captureScreenshot", {"format": "png"}, session)
    with open(screenshot, "wb") as out:
        out.write(base64.b64decode(shot["data"]))
    print("page: screenshot " + screenshot, flush=True)
finally:
    browser.kill()
    browser.wait()
    subprocess.run(["rm", "-rf", profile])
