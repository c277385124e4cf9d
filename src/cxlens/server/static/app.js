/* cxlens web UI: render every .chart from its embedded ECharts option (no network calls). */
(function () {
  "use strict";
  var charts = [];
  function render(el) {
    var option;
    try { option = JSON.parse(el.getAttribute("data-option")); } catch (e) { return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    charts.push(chart);
  }
  document.querySelectorAll(".chart[data-option]").forEach(render);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.cxlensCharts = charts;
})();
