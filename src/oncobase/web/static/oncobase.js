// OncoBase pages: a small hand-written script in place of htmx (no htmx source is installed
// here, and nothing is fetched at run time). It (1) draws the Plotly figures whose JSON sits in
// <script type="application/json" class="chart-data">, and (2) makes forms marked data-live
// refresh their results fragment in place (?partial=1) and keep the view's state in the URL.
(function () {
  "use strict";

  function drawCharts(root) {
    if (!window.Plotly) { return; }
    root.querySelectorAll("figure.chart").forEach(function (figure) {
      var data = figure.querySelector("script.chart-data");
      var target = figure.querySelector(".plot");
      if (!data || !target) { return; }
      var spec = JSON.parse(data.textContent);
      window.Plotly.newPlot(target, spec.data, spec.layout,
        { responsive: true, displaylogo: false });
    });
  }

  function query(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (String(value).trim() !== "") { params.append(key, value); }
    });
    return params.toString();
  }

  function liveForm(form) {
    var target = document.querySelector(form.getAttribute("data-live"));
    if (!target) { return; }
    var pending = null;
    function refresh(event) {
      if (event) { event.preventDefault(); }
      var qs = query(form);
      if (pending) { pending.abort(); }
      pending = new AbortController();
      target.setAttribute("aria-busy", "true");
      fetch(form.action + "?" + qs + "&partial=1", { signal: pending.signal,
        headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          target.innerHTML = html;
          target.removeAttribute("aria-busy");
          history.replaceState(null, "", form.action + "?" + qs);
          drawCharts(target);
        })
        .catch(function () { target.removeAttribute("aria-busy"); });
    }
    form.addEventListener("change", refresh);
    form.addEventListener("submit", refresh);
  }

  function start() {
    document.querySelectorAll("form[data-live]").forEach(liveForm);
    drawCharts(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
})();
