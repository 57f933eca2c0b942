// The Natural Earth land and borders vendored in this package, drawn on a Leaflet map (no tiles, no CDN); shared by
// the result page's map (map.js) and the library view's (library_map.js). gtlocOutlines(map, holder, staticBase)
// sets holder.dataset.outlines to "drawn" or "failed" (for browser tests).
(function () {
  "use strict";
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

  window.gtlocOutlines = function (map, holder, staticBase) {
    fetch(staticBase + "/vendor/world-atlas/countries-50m.json")
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
  };
})();
