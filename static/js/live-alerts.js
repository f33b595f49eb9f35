/* genai-bench live dashboard: the --alert rules on the page (alert events, docs/events.md and docs/alerts.md).
 *
 *   GenaiLive.applyAlert(model, data)        folds an alert event's data into model.alerts; false when it is not one
 *   GenaiLive.drawAlerts(model, timeCharts)  the banner of the rules firing now, and a mark on each time chart
 *                                            where a rule fired (red) or resolved (green)
 *
 * model.alerts: {firing: {rule: alert data}, events: [alert data, in order]}. The marks are drawn by a Chart.js
 * plugin registered for every chart; it draws only on charts given marks (chart.$alertMarks).
 * Needs common.js (window.GenaiCommon) loaded first; nothing from the server is inserted as HTML.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon;
  var COLORS = C.COLORS, isNum = C.isNum, el = C.el, setText = C.setText;
  var MAX_ALERTS = 200;   // alert events kept (the server's /api/state keeps as many)

  function $(id) { return document.getElementById(id); }

  function alertsOf(model) {
    if (!model.alerts) model.alerts = { firing: {}, events: [] };
    return model.alerts;
  }

  function applyAlert(model, data) {
    if (!data || typeof data.rule !== "string" || !isNum(data.t)) return false;
    var alerts = alertsOf(model);
    alerts.events.push(data);
    if (alerts.events.length > MAX_ALERTS) alerts.events.splice(0, alerts.events.length - MAX_ALERTS);
    if (data.state === "firing") alerts.firing[data.rule] = data;
    else delete alerts.firing[data.rule];
    return true;
  }

  // A vertical line at each alert's moment, with the rule written beside the firing ones.
  var alertMarksPlugin = {
    id: "alertMarks",
    afterDatasetsDraw: function (chart) {
      var marks = chart.$alertMarks;
      if (!marks || !marks.length || !chart.scales.x) return;
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      ctx.save();
      ctx.lineWidth = 1.5;
      ctx.font = "10px system-ui, sans-serif";
      ctx.textBaseline = "bottom";
      var labelEnd = -Infinity;   // labels that would overlap the previous one are left out (the line stays)
      marks.forEach(function (mark) {
        var px = x.getPixelForValue(mark.x);
        if (!isNum(px) || px < area.left || px > area.right) return;
        var color = mark.firing ? COLORS.red : COLORS.green;
        ctx.strokeStyle = color;
        ctx.fillStyle = color;
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        ctx.beginPath();   // a small flag at the foot of the line
        ctx.moveTo(px, area.bottom);
        ctx.lineTo(px + 5, area.bottom - 4);
        ctx.lineTo(px, area.bottom - 8);
        ctx.fill();
        if (!mark.firing) return;
        var width = ctx.measureText(mark.rule).width, left = Math.min(px + 7, area.right - width);
        if (left < labelEnd + 6) return;
        ctx.fillText(mark.rule, left, area.bottom - 2);
        labelEnd = left + width;
      });
      ctx.restore();
      chart.$alertMarksDrawn = (chart.$alertMarksDrawn || 0) + 1;   // for the tests: the plugin ran with marks
    },
  };
  if (window.Chart) window.Chart.register(alertMarksPlugin);

  // Where each alert falls on the time axes (seconds since model.t0, times the replay's speed).
  function marks(model) {
    if (model.t0 === null || model.t0 === undefined) return [];
    var speed = model.replay && model.replay.speed > 0 ? model.replay.speed : 1;
    return alertsOf(model).events.map(function (a) {
      return { x: (a.t - model.t0) * speed, firing: a.state === "firing", rule: a.rule };
    });
  }

  function clock(unixSeconds) {
    var d = new Date(unixSeconds * 1000);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map(function (n) { return String(n).padStart(2, "0"); }).join(":");
  }

  function banner(model) {
    var box = $("alerts-banner");
    if (!box) return;
    var firing = alertsOf(model).firing;
    var rules = Object.keys(firing);
    box.hidden = !rules.length;
    if (!rules.length) return;
    setText("alerts-title", (model.finalStatus ? "Firing when the benchmark ended: " : "Alert firing: ") +
      rules.length + (rules.length > 1 ? " rules" : " rule"));
    var items = rules.map(function (rule) {
      var a = firing[rule];
      var li = el("li", { className: "alert-item", "data-rule": rule });
      li.append(el("strong", { className: "alert-rule" }, rule),
        el("span", { className: "alert-value" }, " " + a.metric + " = " + a.shown_value),
        el("span", { className: "alert-since" }, " since " + clock(a.since) + (a.run_label ? " · " + a.run_label : "")));
      return li;
    });
    $("alerts-list").replaceChildren.apply($("alerts-list"), items);
  }

  function drawAlerts(model, timeCharts) {
    banner(model);
    var list = marks(model);
    (timeCharts || []).forEach(function (chart) {
      if (!chart) return;
      chart.$alertMarks = list;
      chart.update("none");
    });
  }

  window.GenaiLive = Object.assign(window.GenaiLive || {}, { applyAlert: applyAlert, drawAlerts: drawAlerts });
})();
