"""A data steward in a real browser (headless Chromium) against the real server: sign in, open the review
queue, compare the two records side by side, link them; the database shows the decision and who made it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Permission, User
from selenium import webdriver
from selenium.webdriver.common.by import By

from federation.models import IdentityAction, IdentityDecision, MatchReview, PersonRecord, ReviewStatus
from tests.federation.identity.stored import HOSPITAL, PHARMACY, patient, source_patient, store_and_link

if not (shutil.which("chromium") and shutil.which("chromedriver")):
    if os.environ.get("BROWSER_TESTS") == "required":
        raise RuntimeError("BROWSER_TESTS=required but chromium and chromedriver are not installed")
    pytest.skip("headless Chromium is not installed (.ci/run installs it)", allow_module_level=True)

PASSWORD = "a-test-password-only"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1024"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_steward_links_a_possible_match_from_the_review_queue(gunicorn_url, browser):
    store_and_link(patient(HOSPITAL, "1", address=None, phone=None))
    store_and_link(patient(PHARMACY, "P-1", birth="1942-05-18", address=None, phone=None))
    # hashed as the server's settings hash (the test settings use a fast hasher the server does not know)
    steward = User.objects.create(
        username="steward-1", is_staff=True, password=PBKDF2PasswordHasher().encode(PASSWORD, "e2e-salt")
    )
    steward.user_permissions.add(Permission.objects.get(codename="steward_identity"))

    browser.get(f"{gunicorn_url}/steward/login/?next=/steward/federation/matchreview/")
    browser.find_element(By.NAME, "username").send_keys("steward-1")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    review = MatchReview.objects.get()
    browser.find_element(By.LINK_TEXT, str(review.pk)).click()

    page = browser.find_element(By.TAG_NAME, "body").text
    assert "1942-05-17" in page
    assert "1942-05-18" in page
    assert "birth_date" in page
    browser.find_element(By.NAME, "reason").send_keys("same person at the pharmacy counter")
    browser.find_element(By.CSS_SELECTOR, "button[value=link]").click()

    assert "link" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    review.refresh_from_db()
    assert review.status == ReviewStatus.LINKED
    linked = PersonRecord.objects.get(patient=source_patient(PHARMACY, "P-1")).person
    assert linked == PersonRecord.objects.get(patient=source_patient(HOSPITAL, "1")).person
    decision = IdentityDecision.objects.get(action=IdentityAction.STEWARD_LINK)
    assert (decision.actor, decision.reason) == ("steward-1", "same person at the pharmacy counter")
