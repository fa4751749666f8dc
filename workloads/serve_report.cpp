// HTML report of a serving run: latency vs load (TTFT/TPOT percentiles per offered rate), batch
// size and KV-cache occupancy over time, and the summary table. Self-contained inline SVG.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "validation/report.h"
#include "workloads/serve.h"

namespace orrery::serve {
namespace {

std::string num(double v, int prec = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

struct Series {
  std::string label, color;
  std::vector<std::pair<double, double>> pts;
};

// Line plot with linear axes from zero; one polyline + dots per series.
std::string line_plot(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                      const std::vector<Series>& series) {
  const double W = 640, H = 320, L = 70, R = 150, T = 30, B = 45;
  double xmax = 0, ymax = 0;
  for (auto& s : series)
    for (auto& [x, y] : s.pts) xmax = std::max(xmax, x), ymax = std::max(ymax, y);
  if (!(xmax > 0)) xmax = 1;
  if (!(ymax > 0)) ymax = 1;
  ymax *= 1.08;
  auto X = [&](double x) { return L + (W - L - R) * x / xmax; };
  auto Y = [&](double y) { return H - B - (H - T - B) * y / ymax; };
  std::ostringstream os;
  os << "<svg viewBox=\"0 0 " << W << " " << H << "\" width=\"" << W << "\" height=\"" << H
     << "\" role=\"img\" aria-label=\"" << html_escape(title) << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  os << "<text x=\"" << L << "\" y=\"18\" font-weight=\"bold\">" << html_escape(title) << "</text>\n";
  os << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\" stroke=\"#333\"/>\n";
  os << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"#333\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    double xv = xmax * i / 4, yv = ymax * i / 4;
    os << "<text x=\"" << X(xv) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">" << num(xv, xv < 10 ? 2 : 0) << "</text>\n";
    os << "<text x=\"" << L - 6 << "\" y=\"" << Y(yv) + 4 << "\" text-anchor=\"end\">" << num(yv, yv < 10 ? 2 : 0) << "</text>\n";
    os << "<line x1=\"" << L << "\" y1=\"" << Y(yv) << "\" x2=\"" << W - R << "\" y2=\"" << Y(yv) << "\" stroke=\"#ddd\"/>\n";
  }
  os << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 8 << "\" text-anchor=\"middle\">" << html_escape(xlabel) << "</text>\n";
  os << "<text x=\"14\" y=\"" << (T + H - B) / 2 << "\" transform=\"rotate(-90 14 " << (T + H - B) / 2
     << ")\" text-anchor=\"middle\">" << html_escape(ylabel) << "</text>\n";
  int row = 0;
  for (auto& s : series) {
    os << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\" points=\"";
    for (auto& [x, y] : s.pts) os << X(x) << "," << Y(y) << " ";
    os << "\"/>\n";
    if (s.pts.size() <= 64)
      for (auto& [x, y] : s.pts)
        os << "<circle cx=\"" << X(x) << "\" cy=\"" << Y(y) << "\" r=\"3\" fill=\"" << s.color << "\"><title>"
           << html_escape(s.label + ": " + num(x, 3) + " -> " + num(y, 3)) << "</title></circle>\n";
    os << "<rect x=\"" << W - R + 12 << "\" y=\"" << T + row * 18 << "\" width=\"10\" height=\"10\" fill=\"" << s.color << "\"/>";
    os << "<text x=\"" << W - R + 26 << "\" y=\"" << T + row * 18 + 10 << "\">" << html_escape(s.label) << "</text>\n";
    ++row;
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace

std::string serve_report_html(const ServeResult& r, const std::vector<std::pair<double, ServeResult>>& sweep) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>orrery serve: " << html_escape(r.model.name)
     << "</title>\n<style>body{font-family:sans-serif;max-width:980px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>\n";
  const Deployment& d = r.cfg.dep;
  os << "<h1>Serving " << html_escape(r.model.name) << " on " << html_escape(r.gpu) << "</h1>\n<p>"
     << d.total_replicas() << " replica(s) x TP " << d.tp << " PP " << d.pp << " EP " << d.ep << ", "
     << html_escape(precision_name(r.cfg.precision)) << "; " << r.requests.size() << " requests. Simulated by orrery serve.</p>\n";
  os << "<table><tr><th></th><th>p50</th><th>p90</th><th>p99</th><th>mean</th></tr>\n";
  for (auto [n, p] : {std::pair{"TTFT (ms)", &r.ttft}, {"TPOT (ms)", &r.tpot}, {"E2E (ms)", &r.e2e}})
    os << "<tr><th>" << n << "</th><td>" << num(p->p50 * 1e3) << "</td><td>" << num(p->p90 * 1e3) << "</td><td>"
       << num(p->p99 * 1e3) << "</td><td>" << num(p->mean * 1e3) << "</td></tr>\n";
  os << "</table>\n<p>Throughput " << num(r.output_tokens_per_s, 1) << " output tokens/s, " << num(r.requests_per_s, 3)
     << " requests/s; goodput " << num(r.goodput_rps, 3) << " requests/s (" << num(100 * r.slo_attainment, 1)
     << "% within SLO); energy " << num(r.energy_per_token_j, 3) << " J per output token.</p>\n";
  if (!sweep.empty()) {
    std::vector<Series> ttft{{"TTFT p50", "#1f77b4", {}}, {"TTFT p99", "#aec7e8", {}}};
    std::vector<Series> tpot{{"TPOT p50", "#d62728", {}}, {"TPOT p99", "#ff9896", {}}};
    std::vector<Series> thr{{"output tokens/s", "#2ca02c", {}}};
    for (auto& [rate, x] : sweep) {
      ttft[0].pts.push_back({rate, x.ttft.p50 * 1e3});
      ttft[1].pts.push_back({rate, x.ttft.p99 * 1e3});
      tpot[0].pts.push_back({rate, x.tpot.p50 * 1e3});
      tpot[1].pts.push_back({rate, x.tpot.p99 * 1e3});
      thr[0].pts.push_back({rate, x.output_tokens_per_s});
    }
    os << "<h2>Latency vs load</h2>\n<table><tr><th>offered (req/s)</th><th>TTFT p50</th><th>TTFT p99</th>"
          "<th>TPOT p50</th><th>TPOT p99</th><th>output tok/s</th><th>within SLO</th></tr>\n";
    for (auto& [rate, x] : sweep)
      os << "<tr><td>" << num(rate, 3) << "</td><td>" << num(x.ttft.p50 * 1e3) << "</td><td>" << num(x.ttft.p99 * 1e3)
         << "</td><td>" << num(x.tpot.p50 * 1e3) << "</td><td>" << num(x.tpot.p99 * 1e3) << "</td><td>"
         << num(x.output_tokens_per_s, 1) << "</td><td>" << num(100 * x.slo_attainment, 1) << "%</td></tr>\n";
    os << "</table>\n<p>Latencies in ms.</p>\n";
    os << line_plot("Time to first token vs offered load", "offered load (requests/s)", "TTFT (ms)", ttft);
    os << line_plot("Time per output token vs offered load", "offered load (requests/s)", "TPOT (ms)", tpot);
    os << line_plot("Throughput vs offered load", "offered load (requests/s)", "output tokens/s", thr);
  }
  std::vector<Series> batch{{"batch (all replicas)", "#9467bd", {}}}, kv{{"KV occupancy %", "#8c564b", {}}};
  double t0 = r.timeseries.empty() ? 0 : r.timeseries.front().t;
  for (auto& s : r.timeseries) {
    batch[0].pts.push_back({s.t - t0, s.batch});
    kv[0].pts.push_back({s.t - t0, 100 * s.kv});
  }
  os << "<h2>Over time</h2>\n" << line_plot("Batch size over time", "time (s)", "sequences per step", batch)
     << line_plot("KV-cache occupancy over time (mean over replicas)", "time (s)", "% of KV blocks", kv);
  os << "</body></html>\n";
  return os.str();
}

}  // namespace orrery::serve
