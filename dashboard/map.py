"""The result map: a folium map with image overlays, a layer control and a swipe comparison.

Leaflet is loaded from the app's own static files (see dashboard.assets), never a CDN.
Overlays are PNGs in EPSG:3857 (core.service.display.mercator_overlay) embedded as data URLs,
placed by their EPSG:4326 corners. The map opens fitted to the scene, with the layer list
collapsed in the corner and a lat/lon readout under the mouse. The swipe is a small Leaflet control of our own that
clips two ImageOverlays left and right of a draggable divider (folium's SideBySideLayers
only works with tile layers); its slider spans the scene's visible width, so its ends are the scene's edges.
"""

from __future__ import annotations

import base64

import folium
from branca.element import MacroElement
from jinja2 import Template

from core.service.display import Overlay, align_longitudes
from dashboard.assets import asset_url

SWIPE_JS = """
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var left = {{ this.left.get_name() }}, right = {{ this.right.get_name() }};
  var box = L.DomUtil.create('div', 'sarcolor-swipe', map.getContainer());
  box.style.cssText = 'position:absolute;bottom:28px;z-index:800;text-align:center;';
  var label = L.DomUtil.create('div', '', box);
  label.style.cssText = 'font:12px sans-serif;background:rgba(255,255,255,.85);display:inline-block;' +
    'padding:1px 8px;border-radius:4px;margin-bottom:2px;white-space:nowrap;';
  label.textContent = {{ this.left_name|tojson }} + '  \u25C0 swipe \u25B6  ' + {{ this.right_name|tojson }};
  var range = L.DomUtil.create('input', 'sarcolor-swipe-range', box);
  range.type = 'range'; range.min = 0; range.max = 100; range.value = 50;
  range.style.cssText = 'display:block;width:100%;margin:0;';
  var line = L.DomUtil.create('div', 'sarcolor-swipe-line', map.getContainer());
  line.style.cssText = 'position:absolute;top:0;bottom:0;width:2px;margin-left:-1px;background:#fff;' +
    'box-shadow:0 0 3px rgba(0,0,0,.6);z-index:790;pointer-events:none;';
  L.DomEvent.disableClickPropagation(box);
  L.DomEvent.disableScrollPropagation(box);
  L.DomEvent.on(range, 'mousedown touchstart pointerdown', L.DomEvent.stopPropagation);
  var THUMB = 16;  // Chromium's range thumb: its centre travels from THUMB/2 to width - THUMB/2
  function fit() {  // the thumb's centre travels over the scene's visible width, not the whole map
    var scene = L.latLngBounds(left.getBounds().getSouthWest(), left.getBounds().getNorthEast())
      .extend(right.getBounds());
    var size = map.getSize();
    var x0 = Math.max(0, map.latLngToContainerPoint(scene.getNorthWest()).x);
    var x1 = Math.min(size.x, map.latLngToContainerPoint(scene.getSouthEast()).x);
    box.style.left = (x0 - THUMB / 2) + 'px';
    box.style.width = (Math.max(x1 - x0, 0) + THUMB) + 'px';
  }
  function clip() {
    fit();
    var r = range.getBoundingClientRect(), m = map.getContainer().getBoundingClientRect();
    var x = r.left - m.left + THUMB / 2 + (r.width - THUMB) * range.value / 100;  // under the thumb's centre
    line.style.left = x + 'px';
    [[left, true], [right, false]].forEach(function (pair) {
      var el = pair[0].getElement && pair[0].getElement();
      if (!el) { return; }
      var nw = map.latLngToContainerPoint(pair[0].getBounds().getNorthWest());
      var se = map.latLngToContainerPoint(pair[0].getBounds().getSouthEast());
      var cut = x - nw.x, width = se.x - nw.x;
      el.style.clipPath = pair[1] ? 'inset(0 ' + Math.max(0, width - cut) + 'px 0 0)'
                                  : 'inset(0 0 0 ' + Math.max(0, cut) + 'px)';
    });
  }
  range.addEventListener('input', clip);
  map.on('move zoom zoomend resize viewreset overlayadd layeradd', clip);
  window.sarcolorSwipe = {range: range, clip: clip};
  setTimeout(clip, 0);
})();
{% endmacro %}
"""


COORDINATES_JS = """
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var Readout = L.Control.extend({
    options: {position: 'bottomleft'},
    onAdd: function () {
      var div = L.DomUtil.create('div', 'sarcolor-coordinates');
      div.style.cssText = 'font:12px monospace;background:rgba(255,255,255,.85);padding:1px 6px;border-radius:3px;';
      div.textContent = 'lat, lon';
      map.on('mousemove', function (e) {
        div.textContent = e.latlng.lat.toFixed(5) + ', ' + L.Util.wrapNum(e.latlng.lng, [-180, 180], true).toFixed(5);
      });
      return div;
    }
  });
  new Readout().addTo(map);
  // The iframe may have no size yet when folium fits the bounds: fit again once it has.
  setTimeout(function () {
    map.invalidateSize();
    map.fitBounds({{ this.bounds|tojson }}, {padding: [12, 12]});
  }, 150);
})();
{% endmacro %}
"""


class CoordinatesAndFit(MacroElement):
    """Mouse-position readout (lat, lon in EPSG:4326) and a fit to the scene once the map has its size."""

    _template = Template(COORDINATES_JS)

    def __init__(self, bounds: list[list[float]]) -> None:
        super().__init__()
        self._name = "CoordinatesAndFit"
        self.bounds = bounds


class Swipe(MacroElement):
    """Show `left` left of a draggable divider and `right` right of it."""

    _template = Template(SWIPE_JS)

    def __init__(self, left: folium.raster_layers.ImageOverlay, right: folium.raster_layers.ImageOverlay) -> None:
        super().__init__()
        self._name = "Swipe"
        self.left, self.right = left, right
        self.left_name, self.right_name = left.layer_name, right.layer_name


def data_url(png: bytes) -> str:
    """A PNG as an inline data URL."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _offline_map(center: tuple[float, float]) -> folium.Map:
    fmap = folium.Map(location=center, zoom_start=14, tiles=None, control_scale=True, max_zoom=22, zoom_snap=0.25)
    folium.TileLayer("OpenStreetMap", name="Basemap (OpenStreetMap, needs internet)", max_zoom=22).add_to(fmap)
    # Only Leaflet itself is needed; serve it from the app instead of the CDNs folium lists.
    fmap.default_js = [("leaflet", asset_url("leaflet.js"))]
    fmap.default_css = [("leaflet_css", asset_url("leaflet.css"))]
    return fmap


def build_map(
    overlays: dict[str, Overlay],
    opacity: float = 1.0,
    swipe: tuple[str, str] | None = None,
    visible: set[str] | None = None,
) -> folium.Map:
    """A map with one ImageOverlay per named overlay (in order, last on top), fitted to them.

    `opacity` applies to every overlay but the first (the SAR backdrop); `swipe` names two
    overlays to compare with a divider; `visible` limits which overlays start switched on.
    """
    overlays = align_longitudes(overlays)  # across the antimeridian, keep every layer in the same world copy
    south = min(o.bounds[0][0] for o in overlays.values())
    west = min(o.bounds[0][1] for o in overlays.values())
    north = max(o.bounds[1][0] for o in overlays.values())
    east = max(o.bounds[1][1] for o in overlays.values())
    fmap = _offline_map(((south + north) / 2, (west + east) / 2))
    layers = {}
    for index, (name, overlay) in enumerate(overlays.items()):
        shown = visible is None or name in visible or (swipe is not None and name in swipe)
        layers[name] = folium.raster_layers.ImageOverlay(
            image=data_url(overlay.png),
            bounds=[list(overlay.bounds[0]), list(overlay.bounds[1])],
            name=name,
            opacity=1.0 if index == 0 else opacity,
            show=shown,
            interactive=False,
            cross_origin=False,
            zindex=index + 1,
        )
        layers[name].add_to(fmap)
    folium.LayerControl(collapsed=True, position="topright").add_to(fmap)
    if swipe and swipe[0] in layers and swipe[1] in layers and swipe[0] != swipe[1]:
        fmap.add_child(Swipe(layers[swipe[0]], layers[swipe[1]]))
    bounds = [[south, west], [north, east]]
    fmap.fit_bounds(bounds, padding=(12, 12))
    fmap.add_child(CoordinatesAndFit(bounds))
    return fmap
