// The margin report's chart: margin per month, one line per currency, drawn
// with the vendored uPlot (static/vendor/uplot) from the JSON the page embeds
// (#margin-chart-data). Redrawn when HTMX swaps the report in.
(function () {
  "use strict";

  function draw() {
    var holder = document.getElementById("margin-chart");
    var source = document.getElementById("margin-chart-data");
    if (!holder || !source || typeof uPlot === "undefined") return;
    holder.textContent = "";
    var points = JSON.parse(source.textContent);
    if (!points.length) return;
    var months = Array.from(new Set(points.map(function (p) { return p.month; }))).sort();
    var currencies = Array.from(new Set(points.map(function (p) { return p.currency; }))).sort();
    // x is the month's position: one tick per month, labelled YYYY-MM.
    var data = [months.map(function (_, n) { return n; })];
    var colours = ["#2f6fdd", "#c2410c", "#15803d", "#7c3aed"];
    var series = [{ label: "Month", value: function (u, v) { return v == null ? "--" : months[v]; } }];
    currencies.forEach(function (currency, n) {
      data.push(months.map(function (month) {
        var point = points.find(function (p) { return p.month === month && p.currency === currency; });
        return point ? Number(point.margin) : null;
      }));
      series.push({ label: "Margin " + currency, stroke: colours[n % colours.length], width: 2,
                    points: { show: true, size: 6 } });
    });
    var width = Math.max(holder.clientWidth || 0, 320);
    new uPlot({
      width: width,
      height: 240,
      series: series,
      scales: { x: { time: false, range: [-0.5, months.length - 0.5] } },
      axes: [
        {
          splits: function () { return months.map(function (_, n) { return n; }); },
          values: function (u, splits) { return splits.map(function (n) { return months[n] || ""; }); },
        },
        { size: 70 },
      ],
    }, data, holder);
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
