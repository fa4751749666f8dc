// HTML report of a sweep: the metric against each axis, the Pareto front of step time, cost and
// energy, and a sortable table of every point. Self-contained (inline data, script and SVG; no
// network), rendered by headless Chromium in CI (validation/render_check.sh).
#include <fstream>

#include "sim/error.h"
#include "workloads/sweep.h"

namespace orrery::sweep {
namespace {

const char* kPage = R"HTML(<!doctype html>
<html><head><meta charset="utf-8"><title>orrery sweep</title>
<style>
body{font:14px sans-serif;margin:20px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.plots{display:flex;flex-wrap:wrap;gap:14px}.plot{border:1px solid #ccc;padding:6px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{cursor:pointer;background:#f3f3f3;position:sticky;top:0}tr.front td{background:#eef7ee}tr.failed td{color:#a33}
.note{color:#555}
</style></head><body>
<h1 id="title"></h1><p class="note" id="summary"></p>
<h2>Metric against each axis</h2><div class="plots" id="axes"></div>
<h2>Pareto front (minimise step time, cost and energy)</h2><div class="plots" id="pareto"></div>
<p class="note" id="front_note"></p>
<h2>All points (click a header to sort)</h2><div id="table"></div>
<script>
const D = __DATA__;
const W = 380, H = 260, M = 46;
function num(v){return typeof v === 'number' && isFinite(v);}
function esc(s){return String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));}
function fmt(v){return num(v) ? (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v != 0) ? v.toExponential(3) : +v.toPrecision(4)) : esc(v);}
function scatter(title, xs, ys, xlabel, ylabel, hi, cats){
  const pts = xs.map((x, i) => [x, ys[i], hi ? hi[i] : false]).filter(p => num(p[0]) && num(p[1]));
  let s = `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"><text x="${W/2}" y="14" text-anchor="middle" font-weight="bold">${esc(title)}</text>`;
  if (!pts.length) return s + `<text x="${W/2}" y="${H/2}" text-anchor="middle">no data</text></svg>`;
  let x0 = Math.min(...pts.map(p => p[0])), x1 = Math.max(...pts.map(p => p[0]));
  let y0 = Math.min(...pts.map(p => p[1])), y1 = Math.max(...pts.map(p => p[1]));
  if (x1 == x0) {x0 -= 1; x1 += 1;} if (y1 == y0) {y0 -= Math.abs(y0) * 0.1 + 1e-9; y1 += Math.abs(y1) * 0.1 + 1e-9;}
  const X = x => M + (x - x0) / (x1 - x0) * (W - M - 12), Y = y => H - M + 10 - (y - y0) / (y1 - y0) * (H - M - 30);
  s += `<line x1="${M}" y1="${H-M+10}" x2="${W-12}" y2="${H-M+10}" stroke="#888"/><line x1="${M}" y1="24" x2="${M}" y2="${H-M+10}" stroke="#888"/>`;
  s += `<text x="${W/2}" y="${H-8}" text-anchor="middle">${esc(xlabel)}</text>`;
  s += `<text x="12" y="${H/2}" transform="rotate(-90 12 ${H/2})" text-anchor="middle">${esc(ylabel)}</text>`;
  for (const [v, anchor] of [[y0, 'end'], [y1, 'end']]) s += `<text x="${M-3}" y="${Y(v)+4}" text-anchor="${anchor}" font-size="10">${fmt(v)}</text>`;
  if (cats) cats.forEach((c, i) => { s += `<text x="${X(i)}" y="${H-M+24}" text-anchor="middle" font-size="10">${esc(c).slice(0,14)}</text>`; });
  else for (const v of [x0, x1]) s += `<text x="${X(v)}" y="${H-M+24}" text-anchor="middle" font-size="10">${fmt(v)}</text>`;
  for (const p of pts.filter(p => !p[2])) s += `<circle cx="${X(p[0])}" cy="${Y(p[1])}" r="3" fill="#4a7bd0" fill-opacity="0.6"/>`;
  const f = pts.filter(p => p[2]).sort((a, b) => a[0] - b[0]);
  if (f.length) s += `<polyline fill="none" stroke="#2a2" stroke-width="1.5" points="${f.map(p => X(p[0]) + ',' + Y(p[1])).join(' ')}"/>`;
  for (const p of f) s += `<circle cx="${X(p[0])}" cy="${Y(p[1])}" r="4.5" fill="#2a2"/>`;
  return s + '</svg>';
}
const ok = D.rows.filter(r => r.status === 'ok'), metric = D.metric;
document.getElementById('title').textContent = `orrery sweep: ${D.command}, ${D.rows.length} points`;
document.getElementById('summary').textContent = `${ok.length} ok, ${D.rows.length - ok.length} failed; sampler ${D.sampler}; metric ${metric}; axes: ${D.axes.join(', ')}` + (D.constraints.length ? `; constraints: ${D.constraints.join(' && ')}` : '');
let html = '';
for (const a of D.axes) {
  const vals = ok.map(r => r[a]);
  const numeric = vals.every(v => num(v));
  const cats = numeric ? null : [...new Set(vals.map(v => JSON.stringify(v)))].sort();
  const xs = numeric ? vals : vals.map(v => cats.indexOf(JSON.stringify(v)));
  html += `<div class="plot">${scatter(metric + ' vs ' + a, xs, ok.map(r => r[metric]), a, metric, null, cats ? cats.map(c => JSON.parse(c)) : null)}</div>`;
}
document.getElementById('axes').innerHTML = html;
const front = new Set(D.front);
const onf = D.rows.map((r, i) => front.has(i));
const okf = D.rows.map((r, i) => i).filter(i => D.rows[i].status === 'ok');
document.getElementById('pareto').innerHTML =
  `<div class="plot">${scatter('cost vs ' + D.time_key, okf.map(i => D.rows[i][D.time_key]), okf.map(i => D.rows[i].cost_usd), D.time_key, 'cost_usd per step', okf.map(i => onf[i]))}</div>` +
  `<div class="plot">${scatter('energy vs ' + D.time_key, okf.map(i => D.rows[i][D.time_key]), okf.map(i => D.rows[i].energy_j), D.time_key, 'energy_j per step', okf.map(i => onf[i]))}</div>`;
document.getElementById('front_note').textContent = `${D.front.length} points on the Pareto front of (${D.front_keys.join(', ')}), green; highlighted in the table.`;
const cols = ['index', 'status', ...D.axes, metric, ...['cost_usd', 'energy_j', 'mfu', 'error'].filter(c => c !== metric && D.rows.some(r => c in r))];
let sortCol = 'index', sortDir = 1;
function table(){
  const rows = D.rows.map((r, i) => [r, onf[i]]).sort((a, b) => {
    const x = a[0][sortCol], y = b[0][sortCol];
    if (x === undefined) return 1; if (y === undefined) return -1;
    return (num(x) && num(y) ? x - y : String(x).localeCompare(String(y))) * sortDir;
  });
  let t = '<table><tr>' + cols.map(c => `<th onclick="sortBy('${c}')">${esc(c)}${c === sortCol ? (sortDir > 0 ? ' &#9650;' : ' &#9660;') : ''}</th>`).join('') + '</tr>';
  for (const [r, f] of rows.slice(0, 2000))
    t += `<tr class="${f ? 'front' : ''} ${r.status === 'failed' ? 'failed' : ''}">` + cols.map(c => `<td>${c in r ? (typeof r[c] === 'object' ? esc(JSON.stringify(r[c])) : fmt(r[c])) : ''}</td>`).join('') + '</tr>';
  document.getElementById('table').innerHTML = t + '</table>' + (rows.length > 2000 ? `<p class="note">first 2000 of ${rows.length} rows</p>` : '');
}
function sortBy(c){ if (c === sortCol) sortDir = -sortDir; else { sortCol = c; sortDir = 1; } table(); }
table();
</script></body></html>
)HTML";

}  // namespace

void write_report(const Spec& s, const std::vector<nlohmann::json>& rows, const std::string& path) {
  std::string time_key = default_metric(s.command);
  std::vector<std::string> keys = {time_key, "cost_usd", "energy_j"};
  std::vector<nlohmann::json> ok;
  std::vector<size_t> ok_index;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].value("status", "") == "ok") { ok.push_back(rows[i]); ok_index.push_back(i); }
  nlohmann::json front = nlohmann::json::array();
  for (size_t k : pareto_front(ok, keys)) front.push_back(ok_index[k]);
  nlohmann::json axes = nlohmann::json::array();
  for (auto& a : s.axes) axes.push_back(a.name);
  nlohmann::json data = {{"command", s.command}, {"metric", s.metric}, {"sampler", s.sampler}, {"axes", axes},
                         {"constraints", s.constraints}, {"rows", rows}, {"front", front}, {"front_keys", keys},
                         {"time_key", time_key}};
  std::string page = kPage;
  std::string json = data.dump();
  // Keep the inline script intact whatever the strings hold.
  for (size_t p = 0; (p = json.find("</", p)) != std::string::npos; p += 3) json.replace(p, 2, "<\\/");
  page.replace(page.find("__DATA__"), 8, json);
  std::ofstream out(path);
  if (!out) throw make_error(path, "", "cannot write the report");
  out << page;
}

}  // namespace orrery::sweep
