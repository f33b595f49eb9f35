/* The example plugin's panel: a small canvas chart of requests/s (line) and error rate (bars) from the `metrics`
 * events, drawn without any library, and the latest figures as text. It uses only window.genaiPanels. */
(function () {
  "use strict";

  var points = [];
  var canvas = null, figures = null;
  var MAX_POINTS = 120;

  function draw() {
    var width = canvas.clientWidth || 300, height = canvas.clientHeight || 160;
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    var g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    g.strokeStyle = "#33415c";
    g.strokeRect(0.5, 0.5, width - 1, height - 1);
    if (!points.length) return;
    var top = Math.max.apply(null, points.map(function (p) { return p.rps; })) || 1;
    var step = width / Math.max(points.length - 1, 1);
    g.fillStyle = "rgba(239, 83, 80, 0.6)";
    points.forEach(function (p, i) {
      var bar = Math.min(p.errorRate, 1) * (height - 8);
      g.fillRect(i * step - 1, height - 4 - bar, 3, bar);
    });
    g.strokeStyle = "#4fc3f7";
    g.lineWidth = 2;
    g.beginPath();
    points.forEach(function (p, i) {
      var y = height - 4 - (p.rps / top) * (height - 8);
      if (i === 0) g.moveTo(i * step, y); else g.lineTo(i * step, y);
    });
    g.stroke();
  }

  window.genaiPanels.register({
    name: "requests-in-flight",
    mount: function (el) {
      figures = document.createElement("p");
      figures.className = "example-panel-figures";
      figures.textContent = "waiting for metrics…";
      canvas = document.createElement("canvas");
      canvas.className = "example-panel-canvas";
      canvas.style.width = "100%";
      canvas.style.height = "160px";
      el.appendChild(figures);
      el.appendChild(canvas);
    },
    onEvent: function (event) {
      if (event.event_type === "run_started") { points = []; draw(); return; }
      var point = (event.data && event.data.point) || {};
      var rps = Number(point.requests_per_second || 0);
      var errorRate = Number(point.error_rate || 0);
      points.push({ rps: rps, errorRate: errorRate });
      if (points.length > MAX_POINTS) points.shift();
      figures.textContent = rps.toFixed(1) + " req/s · " + (errorRate * 100).toFixed(1) + "% errors";
      figures.setAttribute("data-updates", String(Number(figures.getAttribute("data-updates") || 0) + 1));
      draw();
    },
  });
})();
