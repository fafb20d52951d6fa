/* What the administration pages add to the console's maps (map.js makes them and announces each with a
   "console:map" event, so this file is loaded before map.js):
   - data-hotspots="url": regions coloured by their case count (GeoJSON from the hotspots service, already in the
     tiles' coordinate system), five steps as in the legend of admin.css (heat-0 … heat-4);
   - data-pick="#form": a click on the map writes the point into the form's lat and lng fields and submits it
     ("who would get this point?"). */
(function () {
  "use strict";
  var HEAT = ["#f0f4f8", "#fde2c8", "#f9a66c", "#e8591a", "#a61b0b"];

  function step(total, peak) {
    if (!total || !peak) return 0;
    return Math.max(1, Math.ceil((4 * total) / peak));
  }

  function hotspots(element, map, url) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { features: [] }; })
      .then(function (collection) {
        var peak = 0;
        collection.features.forEach(function (f) { peak = Math.max(peak, f.properties.total || 0); });
        var layer = L.geoJSON(collection, {
          style: function (feature) {
            return { color: "#7b8794", weight: 1, fillColor: HEAT[step(feature.properties.total, peak)], fillOpacity: 0.75 };
          },
          onEachFeature: function (feature, regionLayer) {
            var p = feature.properties || {};
            var tip = document.createElement("span");  // as text: a region's name comes from imported GeoJSON
            tip.textContent = (p.name || "") + "：" + (p.total || 0) + " 件";
            regionLayer.bindTooltip(tip, { sticky: true });
          }
        }).addTo(map);
        if (layer.getLayers().length) map.fitBounds(layer.getBounds());
        element.setAttribute("data-hotspots-ready", String(layer.getLayers().length));
      })
      .catch(function () { element.setAttribute("data-hotspots-ready", "error"); });
  }

  function picker(element, map, selector) {
    var form = document.querySelector(selector);
    if (!form) return;
    map.on("click", function (event) {
      var coord = form.querySelector("[name=coord]");
      if (coord && element.getAttribute("data-coord")) coord.value = element.getAttribute("data-coord");
      form.querySelector("[name=lat]").value = event.latlng.lat.toFixed(6);
      form.querySelector("[name=lng]").value = event.latlng.lng.toFixed(6);
      form.submit();
    });
  }

  document.addEventListener("console:map", function (event) {
    var element = event.target, map = event.detail;
    var url = element.getAttribute("data-hotspots");
    if (url) hotspots(element, map, url);
    var pick = element.getAttribute("data-pick");
    if (pick) picker(element, map, pick);
  });
})();
