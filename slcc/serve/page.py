"""The status page: static HTML whose script polls /api/builds (text is inserted with textContent only)."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>slcc serve</title>
<style>
 body { font: 14px system-ui, sans-serif; margin: 1.5em; }
 table { border-collapse: collapse; } td, th { padding: .25em .75em; border-bottom: 1px solid #ddd; text-align: left; }
 .queued { color: #666; } .running { color: #b58900; } .succeeded { color: #2a7d2a; }
 .failed { color: #c0392b; } .cancelled { color: #888; }
 code { font-size: 12px; }
</style>
</head>
<body>
<h1>slcc serve</h1>
<p id="updated">loading builds&hellip;</p>
<noscript><p>This page needs JavaScript; the same data is at <a href="/api/builds">/api/builds</a>.</p></noscript>
<table id="builds">
<thead><tr><th>#</th><th>status</th><th>flavor</th><th>ref</th><th>commit</th><th>trigger</th><th>created</th>
<th>seconds</th><th>links</th></tr></thead>
<tbody></tbody>
</table>
<script>
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function link(td, href, text) {
  const a = document.createElement("a");
  a.href = href; a.textContent = text;
  td.appendChild(a); td.appendChild(document.createTextNode(" "));
}
function render(builds) {
  const body = document.querySelector("#builds tbody");
  body.replaceChildren();
  for (const b of builds) {
    const row = document.createElement("tr");
    row.id = "build-" + b.id;
    row.dataset.status = b.status;
    cell(row, String(b.id));
    cell(row, b.status + (b.reason ? " (" + b.reason + ")" : ""), b.status);
    cell(row, b.flavor);
    cell(row, b.ref.replace(/^refs\\/heads\\//, ""));
    cell(row, b.commit.slice(0, 12));
    cell(row, b.trigger);
    cell(row, new Date(b.created * 1000).toISOString().replace("T", " ").slice(0, 19));
    const end = b.finished || (b.started ? Date.now() / 1000 : null);
    cell(row, b.started && end ? (end - b.started).toFixed(1) : "");
    const links = cell(row, "");
    link(links, "/api/builds/" + b.id, "report");
    link(links, "/api/builds/" + b.id + "/log", "log");
    body.appendChild(row);
  }
}
async function refresh() {
  try {
    const response = await fetch("/api/builds?limit=50");
    const data = await response.json();
    render(data.builds);
    document.getElementById("updated").textContent =
      data.builds.length + " build(s), updated " + new Date().toISOString().slice(11, 19) + " UTC";
  } catch (e) {
    document.getElementById("updated").textContent = "cannot reach the service: " + e;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""
