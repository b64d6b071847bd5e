// ActionFlow board: draws the charts (ECharts, served by the bot) and keeps the page current through
// server-sent events (/board/live): on a change the page's <main> is fetched again and swapped in.
(function () {
  "use strict";
  function drawCharts(root) {
    if (!window.echarts) return;
    root.querySelectorAll("div.chart[data-option]").forEach(function (el) {
      var option;
      try { option = JSON.parse(el.getAttribute("data-option")); } catch (e) { return; }
      var old = echarts.getInstanceByDom(el);
      if (old) old.dispose();
      echarts.init(el, null, { renderer: "svg" }).setOption(option);
    });
  }
  window.addEventListener("resize", function () {
    document.querySelectorAll("div.chart").forEach(function (el) {
      var c = window.echarts && echarts.getInstanceByDom(el);
      if (c) c.resize();
    });
  });
  function busy() {
    var a = document.activeElement;
    return a && (a.tagName === "TEXTAREA" || (a.tagName === "INPUT" && a.type === "text"));
  }
  var pending = false;
  function refresh() {
    if (busy()) { pending = true; return; }
    pending = false;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Board-Refresh": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main");
        var main = document.querySelector("main");
        if (fresh && main) {
          var flash = main.querySelector(".flash");  // the notice of the last action stays
          main.innerHTML = fresh.innerHTML;
          if (flash && !main.querySelector(".flash")) main.insertBefore(flash, main.firstChild);
          drawCharts(main);
          document.body.setAttribute("data-refreshed", String(Date.now()));
        }
      });
  }
  document.addEventListener("focusout", function () { if (pending) setTimeout(refresh, 50); });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".needs-js").forEach(function (el) { el.hidden = true; });
    document.querySelectorAll("[data-js-only]").forEach(function (el) { el.disabled = false; });
    drawCharts(document);
    var live = document.body.getAttribute("data-live");
    if (live && window.EventSource) {
      var es = new EventSource(live);
      es.addEventListener("change", refresh);
      es.addEventListener("open", function () { document.body.setAttribute("data-live-open", "1"); });
    }
  });
})();
