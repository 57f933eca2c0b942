"""End to end in headless Chromium: upload a photo, read the analysis; search by text and by place/time."""

from __future__ import annotations

import calendar
import io

import numpy as np
import pytest
from PIL import ExifTags, Image

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:
    pytest.fail("browser tests need the selenium package: pip install -e '.[dev]' (or pip install selenium)", False)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def photo(path, exif_time: str = "2023:01:15 16:30:00"):
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (59.0, 54.0, 36.0), 3: "E", 4: (10.0, 45.0, 0.0)}
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: exif_time}
    pixels = np.zeros((120, 160, 3), dtype=np.uint8)
    pixels[:60] = (120, 170, 230)
    pixels[60:] = (70, 110, 60)
    Image.fromarray(pixels).save(path, exif=exif)
    return path


def assert_not_blank(png: bytes, min_colours: int = 50) -> None:
    """A screenshot with content: many distinct colours and not one flat tone."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    colours = len(np.unique(image.reshape(-1, 3), axis=0))
    assert colours >= min_colours, f"screenshot looks blank: only {colours} distinct colours"
    assert image.std() > 10


def wait_for(browser, css: str, timeout: float = 60):
    return WebDriverWait(browser, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def image_loaded(browser, element) -> bool:
    return bool(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", element))


def test_upload_shows_map_heatmap_claim_and_verdict(live_app, browser, tmp_path, shots):
    browser.get(live_app["url"] + "/")
    wait_for(browser, "#upload-form")
    browser.find_element(By.ID, "photo").send_keys(str(photo(tmp_path / "oslo.jpg")))
    browser.find_element(By.ID, "analyze").click()
    verdict = wait_for(browser, "#verdict")
    assert verdict.text in ("consistent", "inconsistent", "cannot judge")
    world_map = wait_for(browser, '#world-map[data-outlines="drawn"]')
    assert world_map.size["width"] >= 400 and world_map.size["height"] >= 250
    assert browser.find_elements(By.CSS_SELECTOR, "#world-map .leaflet-overlay-pane path")  # land outlines
    assert image_loaded(browser, browser.find_element(By.ID, "photo-thumb"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#places-table tr.place")) == 5
    assert len(browser.find_elements(By.CSS_SELECTOR, "#heatmap td")) == 12 * 24
    claim = browser.find_element(By.ID, "claim").text
    assert "59.9100, 10.7500 (EXIF GPS)" in claim and "2023-01-15 16:30:00" in claim
    png = browser.get_screenshot_as_png()
    (shots / "analysis.png").write_bytes(png)
    assert_not_blank(png)


def test_a_photo_outside_the_models_domain_is_flagged_and_not_judged(foreign_app, browser, tmp_path, shots):
    browser.get(foreign_app + "/")
    wait_for(browser, "#upload-form")
    browser.find_element(By.ID, "photo").send_keys(str(photo(tmp_path / "real.jpg")))
    browser.find_element(By.ID, "analyze").click()
    warning = wait_for(browser, "#domain-warning")
    assert "outside the model's domain (domain_score 0.0 of 100)" in warning.text
    assert "not to be trusted" in warning.text
    assert browser.find_element(By.ID, "verdict").text == "cannot judge"
    assert "(read-out mix:" in browser.find_element(By.ID, "heatmap").find_element(By.XPATH, "ancestor::section").text
    png = browser.get_screenshot_as_png()
    (shots / "out-of-domain.png").write_bytes(png)
    assert_not_blank(png)


def test_a_file_that_is_not_an_image_gets_a_clear_message(live_app, browser, tmp_path, shots):
    notes = tmp_path / "notes.jpg"
    notes.write_text("this is not a picture")
    browser.get(live_app["url"] + "/")
    browser.find_element(By.ID, "photo").send_keys(str(notes))
    browser.find_element(By.ID, "analyze").click()
    error = wait_for(browser, "#error")
    assert "notes.jpg is not an image that can be read" in error.text
    assert browser.find_element(By.ID, "upload-form").is_displayed()
    png = browser.get_screenshot_as_png()
    (shots / "not-an-image.png").write_bytes(png)
    assert_not_blank(png, min_colours=20)


def test_broken_exif_is_named_on_the_page(live_app, browser, tmp_path):
    browser.get(live_app["url"] + "/")
    browser.find_element(By.ID, "photo").send_keys(str(photo(tmp_path / "b.jpg", "2023:13:45 99:30:00")))
    browser.find_element(By.ID, "analyze").click()
    problem = wait_for(browser, ".exif-problem")
    assert "is not a valid date and time" in problem.text


def test_text_search_shows_which_path_answered_and_the_pictures(live_app, browser, shots):
    browser.get(live_app["url"] + "/search")
    box = wait_for(browser, "#text")
    box.send_keys("snowy street at dusk in January in Oslo")
    browser.find_element(By.ID, "text-search").click()
    answered = wait_for(browser, "#answered-by")
    assert "offline parser" in answered.text and "Oslo" in answered.text
    results = browser.find_elements(By.CSS_SELECTOR, "#results figure.result img")
    assert len(results) == 12
    WebDriverWait(browser, 30).until(lambda b: all(image_loaded(b, img) for img in results))
    png = browser.get_screenshot_as_png()
    (shots / "text-search.png").write_bytes(png)
    assert_not_blank(png)


def test_composed_search_by_place_month_and_hour(live_app, browser):
    browser.get(live_app["url"] + "/search")
    wait_for(browser, "#place").send_keys("Sydney")
    Select(browser.find_element(By.ID, "month")).select_by_visible_text("Jul")
    browser.find_element(By.ID, "hour").send_keys("9")
    browser.find_element(By.ID, "composed-search").click()
    answered = wait_for(browser, "#answered-by")
    assert "composed query: Sydney, New South Wales, AU" in answered.text and "July" in answered.text
    assert Select(browser.find_element(By.ID, "month")).first_selected_option.text == "Jul"


def _analyse(live_app, browser, tmp_path):
    browser.get(live_app["url"] + "/")
    wait_for(browser, "#upload-form")
    browser.find_element(By.ID, "photo").send_keys(str(photo(tmp_path / "oslo.jpg")))
    browser.find_element(By.ID, "analyze").click()
    wait_for(browser, "#places-table")


def test_the_top_places_are_distinct_places(live_app, browser, tmp_path):
    """The app's GPS gallery holds every place three times about 1 km apart: the list names each place once,
    with the three entries' probabilities summed."""
    from gtloc.geo import haversine_km

    _analyse(live_app, browser, tmp_path)
    rows = browser.find_elements(By.CSS_SELECTOR, "#places-table tr.place")
    cells = [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]
    latlon = np.array([[float(c[1]), float(c[2])] for c in cells])
    assert len(latlon) == 5
    distances = [haversine_km(latlon[i], latlon[j]) for i in range(5) for j in range(i + 1, 5)]
    assert min(distances) >= 10
    probs = [float(row.find_elements(By.TAG_NAME, "td")[4].get_attribute("data-p")) for row in rows]
    assert probs == sorted(probs, reverse=True) and all(c[4].endswith("%") for c in cells)
    best = browser.find_element(By.ID, "best-place").text
    assert best.startswith(f"near {cells[0][3]} ({cells[0][1]}, {cells[0][2]})")  # the one best place, first


def test_the_map_has_a_legend(live_app, browser, tmp_path):
    _analyse(live_app, browser, tmp_path)
    legend = browser.find_element(By.ID, "map-legend")
    assert legend.is_displayed()
    assert "predicted places" in legend.text and "claimed place" in legend.text
    disc = browser.find_element(By.CSS_SELECTOR, "#map-legend .swatch.disc")
    assert disc.value_of_css_property("background-color") == "rgba(214, 39, 40, 1)"  # the map's red
    star = browser.find_element(By.CSS_SELECTOR, "#map-legend .swatch.star")
    assert star.value_of_css_property("color") == "rgba(31, 95, 214, 1)"  # the map's blue


def test_the_heatmap_has_a_colour_scale_and_marks_the_claim_and_the_best_guess(live_app, browser, tmp_path, shots):
    _analyse(live_app, browser, tmp_path)
    scale = browser.find_elements(By.CSS_SELECTOR, "#heat-scale td")
    values = [float(td.get_attribute("data-p")) for td in scale]
    assert len(values) >= 5 and values == sorted(values)
    assert scale[0].text.startswith("≤ ") and scale[-1].text.startswith("≥ ")
    colours = [td.value_of_css_property("background-color") for td in scale]
    assert colours[0] == "rgba(255, 255, 255, 1)" and len(set(colours)) == len(colours)
    # The claim (EXIF: 15 January, 16:30) is the cell of January, 16h: row 1 (after the header), column 17.
    claim = browser.find_elements(By.CSS_SELECTOR, "#heatmap td.claim")
    assert len(claim) == 1
    row = browser.find_elements(By.CSS_SELECTOR, "#heatmap tr")[1]
    assert row.find_elements(By.TAG_NAME, "td")[16] == claim[0]
    best = browser.find_elements(By.CSS_SELECTOR, "#heatmap td.best")
    assert len(best) == 1
    # The best guess is the cell of the one best time the page states (the run's read-out, not the grid's mode).
    shown = browser.find_element(By.ID, "best-time").text  # "Month, HH:00-HH:00": the month and an hour window
    month = list(calendar.month_name).index(shown.split(",")[0])
    first, last = (int(t[:2]) for t in shown.split(", ")[1].split("-"))
    cells_of_month = browser.find_elements(By.CSS_SELECTOR, "#heatmap tr")[month].find_elements(By.TAG_NAME, "td")
    hours = (last - first) % 24 or 24
    assert best[0] in cells_of_month and (cells_of_month.index(best[0]) - first) % 24 < hours
    legend = browser.find_element(By.ID, "heat-legend").text
    assert "claimed time" in legend and "best guess" in legend
    png = browser.get_screenshot_as_png()
    (shots / "heatmap-legend.png").write_bytes(png)
    assert_not_blank(png)
