"""The admin in a real browser: Debian's Chromium, headless, driven through Debian's
chromedriver by Selenium, against pytest-django's `live_server` (a real server thread on
127.0.0.1, the test database shared with the test).

One browser per test session (xdist worker): every browser test is in the xdist group
"browser" (`--dist loadgroup`, as `make test` runs), so one worker starts Chromium once.
`make test` installs the Debian packages when they are missing and it can (root with apt);
where they are missing the tests fail saying so: they are never skipped.

Screenshots are written to reports/screenshots/ (reports/ is not committed)."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from hub.services.staff import staff_groups_sync

SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"
CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HUB_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
# How long a page may take to show what a test waits for (a bound on waiting, never a timing
# assertion: the tests wait for elements, and fail only if they never appear).
WAIT_S = 15
PASSWORD = "a-browser-test-password-42"  # noqa: S105 - a throwaway user of the test database

INSTALL_HINT = (
    "the browser tests need Debian's Chromium and ChromeDriver: apt-get install -y chromium "
    "chromium-driver (`make test` does this when run as root with apt), or set "
    "HUB_TEST_CHROMIUM / HUB_TEST_CHROMEDRIVER to their paths"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test in one xdist group: one worker, one browser."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.xdist_group("browser"))


def _executable(path: str) -> str:
    found = shutil.which(path)
    if found is None:
        pytest.fail(f"{path} not found: {INSTALL_HINT}", pytrace=False)
    return found


@pytest.fixture(scope="session")
def downloads() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="hub-browser-downloads-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def browser(downloads: Path) -> Iterator[WebDriver]:
    """Headless Chromium, started once. The flags are those this sandboxed, offline machine
    needs: no sandbox (root in a container), no GPU, and none of Chromium's own network calls
    (component updates, sync, background fetches), which a closed network refuses."""
    options = webdriver.ChromeOptions()
    options.binary_location = _executable(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="hub-browser-profile-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1440,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    # An explicit driver path: Selenium Manager never looks for (or downloads) one.
    service = Service(executable_path=_executable(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: WebDriver, live_server: Any, transactional_db: None) -> "Page":
    """The browser on the live server, logged out, with the staff roles in the database (the
    transactional tests' flush removes what the migrations wrote)."""
    staff_groups_sync()
    browser.delete_all_cookies()
    return Page(browser, live_server.url)


class Page:
    """The few things the tests do with the browser."""

    def __init__(self, driver: WebDriver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def wait_for(self, css: str) -> Any:
        return WebDriverWait(self.driver, WAIT_S).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
        )

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self) -> str:
        return str(self.find("body").text)

    def path(self) -> str:
        return str(self.driver.current_url).removeprefix(self.base_url)

    def click(self, css: str) -> None:
        self.find(css).click()

    def log_in(self, username: str, password: str = PASSWORD) -> None:
        self.open("/admin/login/?next=/admin/")
        self.wait_for("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.click("input[type=submit]")
        self.wait_for("#user-tools")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def wait_until(self, condition: Any) -> Any:
        return WebDriverWait(self.driver, WAIT_S).until(condition)
