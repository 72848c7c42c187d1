#!/usr/bin/env python3
"""Drives the kiosk's pages in headless Chromium (selenium + chromedriver), for the Swift tests.

Each command loads a page of a running pingjiad, does what a person would (look, tap), saves
screenshots and prints one JSON object of what it saw on stdout; the Swift test decides. Fails
with exit 1 and a message on stderr when the page does not behave.

  pages.py display-shot URL OUT.png
  pages.py touch URL LEVEL SHOT_PREFIX [--reasons a,b] [--comment TEXT]
  pages.py display-live URL SHOT_PREFIX ARM_URL ARM_JSON PAUSE_URL PAUSE_JSON
  pages.py phone-rate URL LEVEL SHOT_PREFIX [--reasons a,b] [--comment TEXT]   (the hub's phone page, 360x640)
  pages.py phone-open URL OUT.png                                             (what the phone page says)
"""
import json
import os
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("SE_OFFLINE", "true")     # never let Selenium Manager go to the network
os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = os.environ.get("PINGJIA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PINGJIA_CHROMEDRIVER", "/usr/bin/chromedriver")


def browser(profile, width, height, mobile=False):
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--hide-scrollbars", "--user-data-dir=" + profile,
                     # Only loopback resolves: chromium must not look up anything else.
                     "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    # The exact CSS viewport (--window-size gives a smaller one under chromedriver), at 1x.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1, "mobile": mobile})
    driver.set_page_load_timeout(20)
    return driver


def wait(driver, what, condition, timeout=10):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: condition(d))
    except Exception:
        fail("timed out after %s s waiting for %s; page text: %s" % (timeout, what, body_text(driver)))


def body_text(driver):
    try:
        return driver.find_element(By.TAG_NAME, "body").text
    except Exception as error:  # the page itself may be gone
        return "(unreadable: %s)" % error


def visible(driver, element_id):
    return driver.find_element(By.ID, element_id).is_displayed()


def fail(message):
    sys.stderr.write("pages.py: " + message + "\n")
    sys.exit(1)


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def display_shot(driver, url, out):
    driver.get(url)
    wait(driver, "the QR code", lambda d: d.find_elements(By.CSS_SELECTOR, "#qr svg"))
    driver.save_screenshot(out)
    return {"screenshot": out, "name": driver.find_element(By.ID, "name").text,
            "stars": driver.find_element(By.ID, "stars").text}


def touch(driver, url, level, prefix, reasons, comment):
    driver.get(url)
    seen = {"screens": []}
    driver.save_screenshot(prefix + "-levels.png")
    driver.find_element(By.CSS_SELECTOR, '.level[data-level="%d"]' % level).click()
    # Committed first: then either 谢谢 or, for a bad level, the reasons screen.
    wait(driver, "谢谢 or the reasons screen", lambda d: visible(d, "thanks") or visible(d, "why"))
    if visible(driver, "why"):
        seen["screens"].append("why")
        seen["whyTitle"] = driver.find_element(By.CSS_SELECTOR, "#why h1").text
        for code in reasons:
            driver.find_element(By.CSS_SELECTOR, '.reason input[value="%s"]' % code).click()
        if comment:
            driver.find_element(By.ID, "comment").send_keys(comment)
        driver.save_screenshot(prefix + "-reasons.png")
        driver.find_element(By.ID, "submit" if reasons or comment else "skip").click()
        wait(driver, "谢谢 after the reasons", lambda d: visible(d, "thanks"))
    seen["screens"].append("thanks")
    seen["thanks"] = driver.find_element(By.ID, "thanks").text
    seen["error"] = driver.find_element(By.ID, "error").text
    driver.save_screenshot(prefix + "-thanks.png")
    seen["screenshots"] = prefix + "-*.png"
    return seen


def display_live(driver, url, prefix, arm_url, arm_body, pause_url, pause_body):
    driver.get(url)
    # The event stream is open (the server has registered this display) before anything changes.
    wait(driver, "the event stream to open", lambda d: d.execute_script("return source.readyState") == 1)
    seen = {"promptBefore": driver.find_element(By.ID, "prompt").text}
    started = time.monotonic()
    if post(arm_url, arm_body) != 201:
        fail("arming the session was refused")
    wait(driver, "请您对我的服务进行评价", lambda d: "请您对我的服务进行评价" in d.find_element(By.ID, "prompt").text)
    seen["armedAfterMs"] = int((time.monotonic() - started) * 1000)
    seen["prompt"] = driver.find_element(By.ID, "prompt").text
    driver.save_screenshot(prefix + "-armed.png")
    if post(pause_url, pause_body) != 200:
        fail("pausing the window was refused")
    wait(driver, "暂停服务", lambda d: "暂停服务" in d.find_element(By.ID, "banner").text)
    seen["banner"] = driver.find_element(By.ID, "banner").text
    driver.save_screenshot(prefix + "-paused.png")
    seen["reloads"] = driver.execute_script("return performance.getEntriesByType('navigation').length")
    seen["screenshots"] = prefix + "-*.png"
    return seen


def phone_page(driver):
    """What a phone page shows: the rating form, 谢谢, or a refusal (its kind and title)."""
    found = {"title": driver.title, "text": body_text(driver)}
    refused = driver.find_elements(By.ID, "refused")
    if refused:
        found["refused"] = refused[0].get_attribute("data-kind")
        found["heading"] = refused[0].find_element(By.TAG_NAME, "h1").text
    found["thanks"] = bool(driver.find_elements(By.ID, "thanks"))
    found["form"] = bool(driver.find_elements(By.ID, "submit"))
    return found


def phone_rate(driver, url, level, prefix, reasons, comment):
    driver.get(url)
    wait(driver, "the rating form", lambda d: d.find_elements(By.ID, "submit"))
    seen = {"name": driver.find_element(By.ID, "staff-name").text, "staffId": driver.find_element(By.ID, "staff-id").text,
            "window": driver.find_element(By.ID, "window-name").text,
            "levels": [e.text for e in driver.find_elements(By.CSS_SELECTOR, "label.level")],
            "viewport": driver.execute_script("return [window.innerWidth, window.innerHeight]"),
            # Wider than the screen means sideways scrolling on a phone.
            "scrollWidth": driver.execute_script("return document.documentElement.scrollWidth"),
            "photoWidth": driver.execute_script("const i = document.querySelector('.who img'); return i ? i.naturalWidth : 0")}
    driver.save_screenshot(prefix + "-form.png")
    choice = driver.find_element(By.CSS_SELECTOR, 'input[name="level"][value="%d"]' % level)
    label = choice.find_element(By.XPATH, "..")
    seen["levelHeight"] = label.size["height"]
    label.click()
    if reasons:
        wait(driver, "the reasons of a bad rating", lambda d: d.find_element(By.CSS_SELECTOR, ".reasons").is_displayed())
    for code in reasons:
        driver.find_element(By.CSS_SELECTOR, 'input[name="reason"][value="%s"]' % code).find_element(By.XPATH, "..").click()
    if comment:
        driver.find_element(By.NAME, "comment").send_keys(comment)
    driver.save_screenshot(prefix + "-chosen.png")
    driver.find_element(By.ID, "submit").click()
    wait(driver, "谢谢 or a refusal", lambda d: d.find_elements(By.ID, "thanks") or d.find_elements(By.ID, "refused"))
    seen.update(phone_page(driver))
    driver.save_screenshot(prefix + "-after.png")
    return seen


def phone_open(driver, url, out):
    driver.get(url)
    seen = phone_page(driver)
    driver.save_screenshot(out)
    return seen


def rating_options(rest):
    """The `--reasons a,b` and `--comment text` that follow a rating command's arguments."""
    reasons, comment = [], None
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--reasons":
            reasons = [code for code in value.split(",") if code]
        elif flag == "--comment":
            comment = value
        else:
            fail("unknown option " + flag)
    return reasons, comment


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    command, args = argv[1], argv[2:]
    with tempfile.TemporaryDirectory(prefix="pingjia-browser-") as tmp:
        os.environ["TMPDIR"] = tmp
        phone = command.startswith("phone-")
        width, height = (360, 640) if phone else (1280, 800) if command == "touch" else (1920, 1080)
        driver = browser(os.path.join(tmp, "profile"), width, height, mobile=phone)
        try:
            if command == "display-shot" and len(args) == 2:
                result = display_shot(driver, *args)
            elif command == "touch" and len(args) >= 3:
                reasons, comment = rating_options(args[3:])
                result = touch(driver, args[0], int(args[1]), args[2], reasons, comment)
            elif command == "phone-rate" and len(args) >= 3:
                reasons, comment = rating_options(args[3:])
                result = phone_rate(driver, args[0], int(args[1]), args[2], reasons, comment)
            elif command == "phone-open" and len(args) == 2:
                result = phone_open(driver, *args)
            elif command == "display-live" and len(args) == 6:
                result = display_live(driver, args[0], args[1], args[2], json.loads(args[3]), args[4], json.loads(args[5]))
            else:
                fail("bad command line: " + " ".join(argv[1:]) + "\n" + __doc__)
        finally:
            driver.quit()
    print(json.dumps(result))  # ASCII: whatever the locale of the test run


if __name__ == "__main__":
    main(sys.argv)
