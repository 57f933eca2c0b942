"""The result page's zoomable offline map, the absolute heatmap scale, a form that keeps what was typed and reports
every problem at once, and pages that fit a phone: in headless Chromium, with screenshots at desktop and phone
widths ($GTLOC_SCREENSHOTS to keep them)."""

from __future__ import annotations

import pytest
from test_web_browser import assert_not_blank, photo, wait_for

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    pytest.fail("browser tests need the selenium package: pip install -e '.[dev]' (or pip install selenium)", False)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP, PHONE = (1280, 1600), (390, 844)


@pytest.fixture
def desktop(browser):
    browser.set_window_size(*DESKTOP)
    yield browser
    browser.set_window_size(*DESKTOP)


def _analyse(browser, url, path, **fields):
    browser.get(url + "/")
    wait_for(browser, "#upload-form")
    browser.find_element(By.ID, "photo").send_keys(str(path))
    for name, value in fields.items():
        browser.find_element(By.ID, f"claim-{name}").send_keys(value)
    browser.find_element(By.ID, "analyze").click()


def _markers(browser) -> tuple[int, int]:
    """(single place markers, clusters) on the map now."""
    return (
        len(browser.find_elements(By.CSS_SELECTOR, "#world-map .place-marker")),
        len(browser.find_elements(By.CSS_SELECTOR, "#world-map .place-cluster")),
    )


def _no_sideways_overflow(browser) -> None:
    wide = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    culprits = browser.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
        "window.innerWidth + 1 && !e.closest('.scroll, .leaflet-container')).slice(0, 5).map(e => e.tagName + "
        "'#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
    )
    assert wide[0] <= wide[1], f"the page is {wide[0]} px wide in a {wide[1]} px window: {culprits}"


def test_places_close_together_cluster_when_zoomed_out_and_split_when_zoomed_in(near_app, desktop, tmp_path, shots):
    _analyse(desktop, near_app, photo(tmp_path / "oslo.jpg"))
    wait_for(desktop, '#world-map[data-outlines="drawn"]')
    assert len(desktop.find_elements(By.CSS_SELECTOR, "#places-table tr.place")) == 5
    WebDriverWait(desktop, 30).until(lambda b: _markers(b)[1] >= 1)
    singles, clusters = _markers(desktop)
    assert singles + clusters < 5  # zoomed out: the five places do not show as five dots
    (shots / "map-zoomed-out.png").write_bytes(desktop.find_element(By.ID, "world-map").screenshot_as_png)
    desktop.execute_script("gtlocMap.map.setView([60.0, 11.15], 9, {animate: false})")
    WebDriverWait(desktop, 30).until(lambda b: _markers(b) == (5, 0))
    png = desktop.find_element(By.ID, "world-map").screenshot_as_png
    (shots / "map-zoomed-in.png").write_bytes(png)
    assert_not_blank(png, min_colours=20)
    # each marker carries its rank and opens a popup with the place's name and probability
    desktop.find_elements(By.CSS_SELECTOR, "#world-map .place-marker")[0].click()
    popup = wait_for(desktop, "#world-map .leaflet-popup-content")
    assert "near " in popup.text and "probability 0." in popup.text


def test_the_map_needs_nothing_from_the_network(live_app, desktop, tmp_path):
    """Every resource the result page loads comes from the app itself (no CDN, no tile server)."""
    _analyse(desktop, live_app["url"], photo(tmp_path / "oslo.jpg"))
    wait_for(desktop, '#world-map[data-outlines="drawn"]')
    loaded = desktop.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(name.startswith(live_app["url"]) for name in loaded), loaded
    assert any(name.endswith("/static/vendor/world-atlas/countries-50m.json") for name in loaded)


def test_the_heatmap_uses_one_scale_for_every_photo(live_app, desktop, tmp_path):
    """Both photos' cells are coloured by their probability on the same fixed scale (not each posterior's own
    maximum), and the legend is the same."""
    from gtloc.web.render import heat_color

    legends = []
    for name, when in (("a.jpg", "2023:01:15 16:30:00"), ("b.jpg", "2023:07:02 06:00:00")):
        _analyse(desktop, live_app["url"], photo(tmp_path / name, when))
        wait_for(desktop, "#heatmap")
        legends.append([td.text for td in desktop.find_elements(By.CSS_SELECTOR, "#heat-scale td")])
        cells = desktop.execute_script(
            "return [...document.querySelectorAll('#heatmap td')].map(td => [td.dataset.p, "
            "getComputedStyle(td).backgroundColor])"
        )
        assert len(cells) == 12 * 24
        assert all(colour == heat_color(float(p)) for p, colour in cells)
    assert legends[0] == legends[1] == ["≤ 0.002", "0.005", "0.01", "0.03", "0.1", "≥ 0.3"]


def test_the_form_reports_every_problem_at_once_and_keeps_the_photo_and_fields(live_app, desktop, tmp_path, shots):
    _analyse(desktop, live_app["url"], photo(tmp_path / "oslo.jpg"), lat="95", lon="ten", time="soon")
    problems = WebDriverWait(desktop, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#error-list li") or False)
    texts = [p.text for p in problems]
    assert len(texts) == 3, texts
    assert texts[0] == "latitude '95': must be within [-90, 90]" and texts[1] == "longitude 'ten': not a number"
    assert texts[2].startswith("cannot read the time 'soon'")
    assert "3 problems:" in desktop.find_element(By.ID, "error").text
    # nothing was sent: the same page, the photo still chosen, the fields as typed
    assert desktop.execute_script("return document.getElementById('photo').files.length") == 1
    assert [desktop.find_element(By.ID, f"claim-{n}").get_attribute("value") for n in ("lat", "lon", "time")] == [
        "95",
        "ten",
        "soon",
    ]
    png = desktop.get_screenshot_as_png()
    (shots / "form-errors.png").write_bytes(png)
    for name, value in (("lat", "59.91"), ("lon", "10.75"), ("time", "2023-01-15 16:30")):
        box = desktop.find_element(By.ID, f"claim-{name}")
        box.clear()
        box.send_keys(value)
    desktop.find_element(By.ID, "analyze").click()  # the same photo, now sent
    assert wait_for(desktop, "#verdict").text in ("consistent", "inconsistent", "cannot judge")
    assert "59.9100, 10.7500 (given)" in desktop.find_element(By.ID, "claim").text


def test_after_a_server_side_error_the_fields_come_back_and_the_page_asks_for_the_photo_again(
    live_app, desktop, tmp_path
):
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture")
    _analyse(desktop, live_app["url"], notes, lat="59.91", lon="10.75")
    assert "notes.jpg is not an image that can be read" in wait_for(desktop, "#error").text
    assert "Choose the photo again (notes.jpg)" in desktop.find_element(By.ID, "photo-again").text
    assert desktop.find_element(By.ID, "claim-lat").get_attribute("value") == "59.91"
    assert desktop.find_element(By.ID, "claim-lon").get_attribute("value") == "10.75"


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_pages_fit_the_window_long_names_wrap(live_app, browser, tmp_path, shots, width):
    browser.set_window_size(*(DESKTOP if width == "desktop" else PHONE))
    try:
        long_name = "a-very-long-file-name-without-any-space-" * 4 + ".jpg"
        _analyse(browser, live_app["url"], photo(tmp_path / long_name))
        wait_for(browser, '#world-map[data-outlines="drawn"]')
        _no_sideways_overflow(browser)
        png = browser.get_screenshot_as_png()
        (shots / f"analysis-{width}.png").write_bytes(png)
        assert_not_blank(png)
        world_map = browser.find_element(By.ID, "world-map")
        assert world_map.size["width"] <= browser.execute_script("return window.innerWidth")
        (shots / f"map-{width}.png").write_bytes(world_map.screenshot_as_png)
        browser.get(live_app["url"] + "/search?text=snowy+street+at+dusk+in+January+in+Oslo")
        wait_for(browser, "#results")
        _no_sideways_overflow(browser)
        caption = browser.find_element(By.CSS_SELECTOR, "#results figcaption")
        assert caption.value_of_css_property("overflow-wrap") == "anywhere"
        # A caption as long as a real photo library's paths (the toy gallery's are short): it must wrap in its box.
        browser.execute_script(
            "arguments[0].textContent = arguments[1]", caption, "holiday-2019/" * 12 + "IMG_0001.jpg"
        )
        _no_sideways_overflow(browser)
        figure = browser.find_element(By.CSS_SELECTOR, "#results figure")
        assert caption.size["width"] <= figure.size["width"] and caption.size["height"] > 2 * 16  # several lines
        (shots / f"search-{width}.png").write_bytes(browser.get_screenshot_as_png())
    finally:
        browser.set_window_size(*DESKTOP)
