/* Maps of the console (Leaflet, served by the app). An element marked data-map gets: the configured tiles
   (data-tiles, empty = a blank background), the regions (GeoJSON from data-regions, already in the tiles'
   coordinate system) and the pins (data-pins: [{lat, lng, label, url}]). */
(function () {
  "use strict";
  if (!window.L) return;

  // Leaflet puts a string tooltip in as HTML: names come from imported GeoJSON, so they go in as text
  function textOnly(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  function draw(element) {
    var pins = JSON.parse(element.getAttribute("data-pins") || "[]");
    var map = L.map(element, { zoomControl: true, attributionControl: true });
    // pages that do more with their map (admin_map.js: hotspots, picking a point) listen for this
    element.dispatchEvent(new CustomEvent("console:map", { bubbles: true, detail: map }));
    var tiles = element.getAttribute("data-tiles");
    if (tiles) {
      L.tileLayer(tiles, {
        maxZoom: 18,
        subdomains: "01234567",
        attribution: element.getAttribute("data-attribution") || ""
      }).addTo(map);
    }
    var pinLayer = L.featureGroup();
    pins.forEach(function (pin) {
      var marker = L.circleMarker([pin.lat, pin.lng], {
        radius: 8, color: "#c62828", weight: 2, fillColor: "#ef5350", fillOpacity: 0.9
      });
      if (pin.label) {
        var label = document.createElement("span");
        if (pin.url) {
          var link = document.createElement("a");
          link.href = pin.url;
          link.textContent = pin.label;
          label.appendChild(link);
        } else {
          label.textContent = pin.label;
        }
        marker.bindTooltip(label, { direction: "top" });
        if (pin.url) marker.on("click", function () { window.location.href = pin.url; });
      }
      pinLayer.addLayer(marker);
    });
    pinLayer.addTo(map);

    function fit(regionLayer) {
      if (pins.length === 1) {
        map.setView([pins[0].lat, pins[0].lng], 15);
      } else if (pins.length > 1) {
        map.fitBounds(pinLayer.getBounds().pad(0.2));
      } else if (regionLayer && regionLayer.getLayers().length) {
        map.fitBounds(regionLayer.getBounds());
      } else {
        map.setView([35, 105], 4);
      }
    }

    var url = element.getAttribute("data-regions");
    if (!url) { fit(null); return; }
    fit(null);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { features: [] }; })
      .then(function (collection) {
        var regions = L.geoJSON(collection, {
          style: function () { return { color: "#0b6bcb", weight: 1.5, fillColor: "#0b6bcb", fillOpacity: 0.06 }; },
          onEachFeature: function (feature, layer) {
            var p = feature.properties || {};
            layer.bindTooltip(textOnly((p.name || "") + (p.unit_name ? "（" + p.unit_name + "）" : "")), { sticky: true });
          }
        }).addTo(map);
        regions.bringToBack();
        if (!pins.length) fit(regions);
        element.setAttribute("data-ready", "1");
      })
      .catch(function () { element.setAttribute("data-ready", "error"); });
  }

  document.querySelectorAll("[data-map]").forEach(draw);
})();
