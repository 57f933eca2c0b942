// The result page's map: Leaflet over the Natural Earth outlines vendored in this package (no tiles, no CDN).
// Places (from the JSON in #map-data) are numbered markers that cluster when zoomed out and split when zoomed in;
// the claimed place is a blue star. window.gtlocMap exposes the map and the cluster layer (for browser tests).
(function () {
  "use strict";
  var holder = document.getElementById("world-map");
  var source = document.getElementById("map-data");
  if (!holder || !source || !window.L) return;
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
  if (points.length) map.fitBounds(L.latLngBounds(points).pad(0.5), { maxZoom: 4 });

  // Natural Earth's rings are cut at the antimeridian for a globe; on this flat map a ring that crosses it
  // (Chukotka, Fiji) is made continuous (longitudes past 180), and one around a pole (Antarctica) is closed
  // along the pole, so that neither draws a band across the whole map.
  function unwrap(ring) {
    var out = [ring[0].slice()], shift = 0, jumps = 0;
    for (var i = 1; i < ring.length; i++) {
      var step = ring[i][0] - ring[i - 1][0];
      if (step > 180) { shift -= 360; jumps++; } else if (step < -180) { shift += 360; jumps++; }
      out.push([ring[i][0] + shift, ring[i][1]]);
    }
    if (jumps % 2 === 1) {
      var pole = out.reduce(function (sum, p) { return sum + p[1]; }, 0) < 0 ? -90 : 90;
      out.push([out[out.length - 1][0], pole], [out[0][0], pole]);
    }
    return out;
  }
  function flat(geometry) {
    if (geometry.type === "Polygon") return { type: "Polygon", coordinates: geometry.coordinates.map(unwrap) };
    if (geometry.type === "MultiPolygon") {
      return { type: "MultiPolygon", coordinates: geometry.coordinates.map(function (p) { return p.map(unwrap); }) };
    }
    if (geometry.type === "MultiLineString") {
      var lines = [];
      geometry.coordinates.forEach(function (line) {
        var part = [line[0]];
        for (var i = 1; i < line.length; i++) {
          if (Math.abs(line[i][0] - line[i - 1][0]) > 180) { lines.push(part); part = []; }
          part.push(line[i]);
        }
        lines.push(part);
      });
      return { type: "MultiLineString", coordinates: lines };
    }
    return geometry;
  }
  function flatFeatures(collection) {
    if (collection.type !== "FeatureCollection") return { type: "Feature", properties: {}, geometry: flat(collection) };
    return {
      type: "FeatureCollection",
      features: collection.features.map(function (f) {
        return { type: "Feature", properties: f.properties, geometry: flat(f.geometry) };
      })
    };
  }

  fetch("/static/vendor/world-atlas/countries-50m.json")
    .then(function (reply) { return reply.json(); })
    .then(function (world) {
      L.geoJSON(flatFeatures(topojson.feature(world, world.objects.land)), {
        interactive: false,
        style: { color: "#9c9583", weight: 0.6, fillColor: "#ece6d3", fillOpacity: 1 }
      }).addTo(map);
      L.geoJSON(flatFeatures(topojson.mesh(world, world.objects.countries, function (a, b) { return a !== b; })), {
        interactive: false,
        style: { color: "#b3ab96", weight: 0.5, fill: false }
      }).addTo(map);
      holder.dataset.outlines = "drawn";
    })
    .catch(function (problem) {
      holder.dataset.outlines = "failed";
      holder.title = "the outlines could not be loaded: " + problem;
    });
  window.gtlocMap = { map: map, clusters: clusters };
})();
