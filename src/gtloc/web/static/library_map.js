// The library view's map: Leaflet over the vendored Natural Earth outlines (outlines.js), no tiles, no CDN.
// From the JSON in #library-map-data: the photos with a GPS place (grey dots, clustered when zoomed out) and the
// chosen place estimates (dots coloured by source, each with its radius as a circle on the ground, a popup with the
// photo, its evidence photos and the confidence). window.gtlocLibraryMap exposes the map and layers (for tests).
(function () {
  "use strict";
  var holder = document.getElementById("library-map");
  var source = document.getElementById("library-map-data");
  if (!holder || !source || !window.L || !window.gtlocOutlines) return;
  var data = JSON.parse(source.textContent);
  var map = L.map(holder, { worldCopyJump: true, minZoom: 1, maxZoom: 17, zoomSnap: 1, preferCanvas: true });
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution("outlines: Natural Earth");
  map.setView([20, 0], 1);
  // Above the outlines (drawn later, in the overlay pane) and below the markers.
  map.createPane("estimates").style.zIndex = 450;

  function escape(text) {
    var span = document.createElement("span");
    span.textContent = String(text);
    return span.innerHTML;
  }
  function thumb(index, path, width) {
    if (index === null || index === undefined) return escape(path);
    return '<a href="' + data.base + "/photo/" + index + '" target="_blank"><img src="' + data.base + "/photo/" +
      index + '/thumb" alt="' + escape(path) + '" title="' + escape(path) + '" width="' + width + '"></a>';
  }

  var photos = L.markerClusterGroup({
    maxClusterRadius: 40,
    showCoverageOnHover: false,
    chunkedLoading: true,
    iconCreateFunction: function (cluster) {
      return L.divIcon({ className: "photo-cluster", html: String(cluster.getChildCount()), iconSize: [28, 28] });
    }
  });
  var points = [];
  data.photos.forEach(function (p) {
    var dot = L.circleMarker([p.lat, p.lon], { radius: 4, color: "#555", weight: 1, fillColor: "#999",
      fillOpacity: 0.9 });
    dot.bindPopup(thumb(p.index, p.path, 160) + "<br>" + escape(p.path) + "<br>GPS " + p.lat.toFixed(5) + ", " +
      p.lon.toFixed(5));
    photos.addLayer(dot);
    points.push([p.lat, p.lon]);
  });
  map.addLayer(photos);

  var estimates = L.layerGroup().addTo(map);
  data.estimates.forEach(function (e) {
    var colour = data.colours[e.source] || "#000";
    if (e.radius_km !== null && isFinite(e.radius_km)) {
      L.circle([e.lat, e.lon], { radius: 1000 * e.radius_km, pane: "estimates", color: colour, weight: 1.5,
        fill: true, fillOpacity: 0.08, interactive: false, className: "estimate-radius" }).addTo(estimates);
    }
    var dot = L.circleMarker([e.lat, e.lon], { pane: "estimates", radius: 6, color: "#fff", weight: 2,
      fillColor: colour, fillOpacity: 1, className: "estimate-dot " + e.source });
    var evidence = e.evidence.map(function (x) { return thumb(x.index, x.path, 60); }).join(" ");
    dot.bindPopup(thumb(e.index, e.path, 160) + "<br><strong>" + escape(e.path) + "</strong><br>" +
      escape(e.source) + ": " + e.lat.toFixed(4) + ", " + e.lon.toFixed(4) +
      (e.radius_km !== null ? " (within " + e.radius_km + " km)" : "") + "<br>confidence " + escape(e.confidence) +
      (evidence ? "<br>evidence: " + evidence : "") + (e.model ? "<br>" + escape(e.model) : ""));
    dot.addTo(estimates);
    points.push([e.lat, e.lon]);
  });

  if (points.length) map.fitBounds(L.latLngBounds(points).pad(0.2), { maxZoom: 12, animate: false });
  window.gtlocOutlines(map, holder, data.base + "/static");
  window.gtlocLibraryMap = { map: map, photos: photos, estimates: estimates };
})();
