// The result page's map: Leaflet over the Natural Earth outlines vendored in this package (no tiles, no CDN).
// Places (from the JSON in #map-data) are numbered markers that cluster when zoomed out and split when zoomed in;
// the claimed place is a blue star. window.gtlocMap exposes the map and the cluster layer (for browser tests).
// The first view is fitted without animation: an animation still running when the reader (or a test) first
// zooms would end by putting its own zoom back.
(function () {
  "use strict";
  var holder = document.getElementById("world-map");
  var source = document.getElementById("map-data");
  if (!holder || !source || !window.L || !window.gtlocOutlines) return;
  var data = JSON.parse(source.textContent);
  var map = L.map(holder, { worldCopyJump: true, minZoom: 1, maxZoom: 14, zoomSnap: 1 });
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution("outlines: Natural Earth");
  map.setView([20, 0], 1);

  function escape(text) {
    var span = document.createElement("span");
    span.textContent = String(text);
    return span.innerHTML;
  }

  var clusters = L.markerClusterGroup({
    maxClusterRadius: 40,
    showCoverageOnHover: false,
    spiderfyOnMaxZoom: true,
    iconCreateFunction: function (cluster) {
      var n = cluster.getChildCount();
      return L.divIcon({ className: "place-cluster", html: String(n), iconSize: [30, 30] });
    }
  });
  var top = Math.max.apply(null, data.places.map(function (p) { return p.prob; }).concat([1e-12]));
  var points = [];
  data.places.forEach(function (p) {
    var size = Math.round(18 + 16 * Math.sqrt(p.prob / top));
    var marker = L.marker([p.lat, p.lon], {
      icon: L.divIcon({ className: "place-marker", html: String(p.rank), iconSize: [size, size] }),
      title: "#" + p.rank + " near " + p.near,
      riseOnHover: true
    });
    marker.bindPopup("<strong>#" + p.rank + "</strong> near " + escape(p.near) + "<br>" + p.lat.toFixed(4) + ", " +
      p.lon.toFixed(4) + "<br>probability " + p.prob.toFixed(3));
    clusters.addLayer(marker);
    points.push([p.lat, p.lon]);
  });
  map.addLayer(clusters);
  if (data.claim) {
    L.marker([data.claim.lat, data.claim.lon], {
      icon: L.divIcon({ className: "claim-marker", html: "&#9733;", iconSize: [24, 24] }),
      title: "claimed place",
      zIndexOffset: 1000
    }).bindPopup("claimed place<br>" + data.claim.lat.toFixed(4) + ", " + data.claim.lon.toFixed(4)).addTo(map);
    points.push([data.claim.lat, data.claim.lon]);
  }
  if (points.length) map.fitBounds(L.latLngBounds(points).pad(0.5), { maxZoom: 4, animate: false });

  window.gtlocOutlines(map, holder, "/static");
  window.gtlocMap = { map: map, clusters: clusters };
})();
