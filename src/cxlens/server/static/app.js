/* cxlens web UI: render every .chart from its embedded ECharts option (no network calls). */
(function () {
  "use strict";
  var charts = [];
  function render(el) {
    var option;
    try { option = JSON.parse(el.getAttribute("data-option")); } catch (e) { return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    var link = el.getAttribute("data-link");
    if (link) {
      // Clicking a bar/cell opens the contacts behind it (drill-down) with that value filtered.
      chart.on("click", function (p) {
        var dim = el.getAttribute("data-link-dim");
        var value = p.name || (p.data && p.data.name) || "";
        if (dim && value) { window.location = link + "&" + dim + "=" + encodeURIComponent(value); }
      });
    }
    charts.push(chart);
  }
  document.querySelectorAll(".chart[data-option]").forEach(render);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.cxlensCharts = charts;
})();
