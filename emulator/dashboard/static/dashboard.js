// dashscope-emulator dashboard: small progressive enhancements. Every page reads fine without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var TAIL = 200;
  var BEIJING_MS = 8 * 3600 * 1000;

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  // Destructive forms ask first; the server asks instead when scripts are off.
  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var status = form.querySelector("[name=status]");
        var text = form.getAttribute("data-confirm").replace("{status}", status ? status.value : "");
        if (!window.confirm(text)) { event.preventDefault(); return; }
        if (!form.querySelector("input[name=confirmed]")) {
          var input = document.createElement("input");
          input.type = "hidden"; input.name = "confirmed"; input.value = "yes";
          form.appendChild(input);
        }
      });
    });
  }

  function autosubmit() {
    document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
      select.addEventListener("change", function () { if (select.value) select.form.submit(); });
    });
  }

  // The emulated clock keeps running between page loads when its scale is not zero.
  function clocks() {
    var started = Date.now();
    var nodes = Array.prototype.slice.call(document.querySelectorAll("[data-clock]"));
    nodes = nodes.filter(function (n) { return parseFloat(n.getAttribute("data-scale")) > 0; });
    if (!nodes.length) return;
    function tick() {
      nodes.forEach(function (node) {
        var now = parseFloat(node.getAttribute("data-now"));
        var scale = parseFloat(node.getAttribute("data-scale"));
        var iso = new Date((now + scale * (Date.now() - started) / 1000) * 1000 + BEIJING_MS).toISOString();
        node.innerHTML = iso.slice(0, 10) + " <strong>" + iso.slice(11, 19) + "</strong>";
      });
    }
    setInterval(tick, 1000);
  }

  // The tenant page swaps in fresh job rows while jobs are active on a running clock.
  function refreshRows() {
    var body = document.querySelector("[data-refresh]");
    if (!body) return;
    var url = body.getAttribute("data-refresh");
    var timer = setInterval(function () {
      fetch(url, { headers: { Accept: "text/html" } }).then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          body.innerHTML = html;
          if (!/data-status="(PENDING|QUEUING|RUNNING|CANCELING)"/.test(html)) clearInterval(timer);
        }).catch(function () {});
    }, 2000);
  }

  function logLine(text) {
    var li = document.createElement("li");
    var parts = text.split(" - ");
    if (parts.length >= 3) {
      var level = parts[1];
      li.className = "log-line fresh lvl-" + level.toLowerCase();
      var ts = document.createElement("span"); ts.className = "ts"; ts.textContent = parts[0];
      var lvl = document.createElement("span"); lvl.className = "lvl"; lvl.textContent = level;
      var msg = document.createElement("span"); msg.className = "msg"; msg.textContent = parts.slice(2).join(" - ");
      li.appendChild(ts); li.appendChild(document.createTextNode(" - "));
      li.appendChild(lvl); li.appendChild(document.createTextNode(" - "));
      li.appendChild(msg);
    } else {
      li.className = "log-line fresh"; li.textContent = text;
    }
    return li;
  }

  function updateProgress(state) {
    var box = document.getElementById("job-progress");
    if (!box) return;
    var track = box.querySelector(".progress-track");
    var pct = state.total ? state.percent : 0;
    box.querySelector(".progress-fill").style.width = pct + "%";
    track.setAttribute("aria-valuenow", String(state.step));
    track.setAttribute("aria-valuetext", state.step + " of " + state.total + " steps, " + state.phase);
    box.querySelector(".progress-steps").textContent = state.step + "/" + state.total;
    box.querySelector(".progress-phase").textContent = state.phase;
  }

  // The job page follows its job: new log lines, progress, the chart; a status change reloads the page.
  function followJob() {
    var root = document.querySelector("#job[data-stream]");
    if (!root || !window.EventSource) return;
    var status = root.getAttribute("data-status");
    var tail = root.getAttribute("data-log-mode") === "tail";
    var log = document.getElementById("log");
    var count = document.getElementById("log-count");
    var chartUrl = root.getAttribute("data-chart-url");
    var streamUrl = root.getAttribute("data-stream").replace(/from=\d+/, "");
    var received = parseInt(count.textContent, 10) || 0;
    var chartPending = false, lastChart = 0, source = null;
    var live = document.getElementById("log-live");

    function refreshChart() {
      if (chartPending) return;
      chartPending = true;
      var wait = Math.max(0, 1000 - (Date.now() - lastChart));
      setTimeout(function () {
        fetch(chartUrl).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
          var chart = document.getElementById("chart");
          if (html && chart) chart.outerHTML = html;
        }).catch(function () {}).then(function () { chartPending = false; lastChart = Date.now(); });
      }, wait);
    }

    function reload() {
      var url = new URL(window.location.href);
      url.searchParams.delete("notice"); url.searchParams.delete("error");
      window.location.replace(url.toString());
    }

    function connect() {
      source = new EventSource(streamUrl + "from=" + received);
      source.addEventListener("open", function () { if (live) live.hidden = false; });
      source.addEventListener("log", function (event) {
        var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
        log.appendChild(logLine(event.data));
        received = Math.max(received, parseInt(event.lastEventId, 10) || received + 1);
        count.textContent = String(received);
        var empty = document.getElementById("log-empty");
        if (empty) empty.remove();
        while (tail && log.children.length > TAIL) {
          log.removeChild(log.firstElementChild);
          log.start = (log.start || 1) + 1;
        }
        if (atBottom) log.scrollTop = log.scrollHeight;
      });
      source.addEventListener("job", function (event) {
        var state = JSON.parse(event.data);
        if (state.status !== status) { source.close(); reload(); return; }
        updateProgress(state);
        refreshChart();
      });
      source.addEventListener("error", function () {
        if (live) live.hidden = true;
        source.close();
        setTimeout(connect, 3000);
      });
    }
    connect();
  }

  // The end of a log is what matters: start every log view at its bottom.
  function logToBottom() {
    var log = document.getElementById("log");
    if (log) log.scrollTop = log.scrollHeight;
  }

  ready(function () {
    logToBottom();
    confirmForms();
    autosubmit();
    clocks();
    refreshRows();
    followJob();
  });
})();
