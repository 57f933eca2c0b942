"""The library view's zoomable offline map (``gtloc serve --library``): the library's photos cluster when zoomed out
and split when zoomed in, each chosen place estimate is drawn with its radius, and its popup shows the photo and its
evidence photos; in headless Chromium at desktop and phone widths ($GTLOC_SCREENSHOTS to keep the screenshots)."""

from __future__ import annotations

import pytest
from test_web_browser import assert_not_blank, image_loaded, wait_for

try:
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    pytest.fail("browser tests need the selenium package: pip install -e '.[dev]' (or pip install selenium)", False)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _clusters(browser) -> int:
    return len(browser.find_elements("css selector", "#library-map .photo-cluster"))


def _visible_photos(browser) -> int:
    """Photos drawn as single dots now (not inside a cluster)."""
    return browser.execute_script(
        "return gtlocLibraryMap.photos.getLayers().filter(l => gtlocLibraryMap.map.hasLayer(l)).length"
    )


@pytest.mark.parametrize("size", [(1280, 1600), (390, 844)], ids=["desktop", "phone"])
def test_photos_cluster_and_split_and_estimates_show_radius_and_evidence(library_url, browser, size, shots):
    browser.set_window_size(*size)
    try:
        browser.get(library_url + "/")
        wait_for(browser, '#library-map[data-outlines="drawn"]')
        data = browser.execute_script("return JSON.parse(document.getElementById('library-map-data').textContent)")
        assert len(data["photos"]) == 40 and data["estimates"]
        drawn = browser.execute_script("return gtlocLibraryMap.estimates.getLayers().length")
        assert drawn == len(data["estimates"]) + sum(e["radius_km"] is not None for e in data["estimates"])
        (shots / f"library-map-fitted-{size[0]}.png").write_bytes(browser.get_screenshot_as_png())
        browser.execute_script("gtlocLibraryMap.map.setZoom(2, {animate: false})")
        # zoomed out, the walk's 40 photos (within 40 km) are one cluster, once its animation has ended
        WebDriverWait(browser, 30).until(lambda b: _clusters(b) == 1 and _visible_photos(b) == 0)
        assert browser.find_element("css selector", "#library-map .photo-cluster").text == "40"
        png = browser.find_element("id", "library-map").screenshot_as_png
        (shots / f"library-map-zoomed-out-{size[0]}.png").write_bytes(png)
        assert_not_blank(png, min_colours=20)
        first = data["photos"][0]
        browser.execute_script(f"gtlocLibraryMap.map.setView([{first['lat']}, {first['lon']}], 17, {{animate: false}})")
        WebDriverWait(browser, 30).until(lambda b: _visible_photos(b) >= 1)
        # an estimate's popup: the photo, where, within what radius, and its evidence photos, all loadable
        browser.execute_script("gtlocLibraryMap.estimates.getLayers().filter(l => l.getPopup())[0].openPopup()")
        popup = wait_for(browser, "#library-map .leaflet-popup-content")
        estimate = data["estimates"][0]
        assert estimate["path"] in popup.text and f"within {estimate['radius_km']:g} km" in popup.text
        images = popup.find_elements("css selector", "img")
        assert len(images) == 1 + len(estimate["evidence"])
        WebDriverWait(browser, 30).until(lambda b: all(image_loaded(b, i) for i in images))
        wide = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert wide[0] <= wide[1], f"the page is {wide[0]} px wide in a {wide[1]} px window"
    finally:
        browser.set_window_size(1280, 1600)


def test_the_library_map_needs_nothing_from_the_network(library_url, browser):
    browser.get(library_url + "/")
    wait_for(browser, '#library-map[data-outlines="drawn"]')
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    origin = library_url.rsplit("/library", 1)[0]
    assert loaded and all(name.startswith(origin) for name in loaded), loaded
