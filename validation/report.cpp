#include "validation/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace orrery {

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::vector<ClassError> error_by_class(const std::vector<ReplayResult>& workloads, bool by_mode) {
  std::map<std::pair<std::string, std::string>, ClassError> m;
  for (auto& w : workloads)
    for (auto& k : w.kernels) {
      if (!(k.measured_s > 0)) continue;
      std::string cls = k.kernel_class.empty() ? "other" : k.kernel_class;
      std::string mode = by_mode ? w.mode : "";
      auto& c = m[{cls, mode}];
      c.kernel_class = cls;
      c.mode = mode;
      c.simulated_s += k.simulated_s;
      c.measured_s += k.measured_s;
      ++c.kernels;
    }
  std::vector<ClassError> out;
  for (auto& [k, v] : m) out.push_back(v);
  // Largest measured class first (its modes together, in name order).
  std::map<std::string, double> class_total;
  for (auto& c : out) class_total[c.kernel_class] += c.measured_s;
  std::sort(out.begin(), out.end(), [&](const ClassError& a, const ClassError& b) {
    double ta = class_total[a.kernel_class], tb = class_total[b.kernel_class];
    if (ta != tb) return ta > tb;
    if (a.kernel_class != b.kernel_class) return a.kernel_class < b.kernel_class;
    return a.mode < b.mode;
  });
  return out;
}

namespace {

std::string f(double v, int prec = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}
std::string g(double v, int prec = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", prec, v);
  return b;
}
std::string pct(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%+.1f%%", v);
  return b;
}
std::string bytes_label(double b) {
  const char* u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (b >= 1024 && i < 4) {
    b /= 1024;
    ++i;
  }
  return g(b, 4) + " " + u[i];
}
std::string time_label_us(double us) {
  if (us >= 1e6) return g(us / 1e6, 3) + " s";
  if (us >= 1e3) return g(us / 1e3, 3) + " ms";
  if (us >= 1) return g(us, 3) + " us";
  return g(us * 1e3, 3) + " ns";
}

const char* kPredColor = "#4c78a8";
const char* kMeasColor = "#f58518";

std::string class_color(const std::string& c) {
  static const std::map<std::string, std::string> m = {
      {"gemm", "#4c78a8"},      {"attention", "#e45756"}, {"elementwise", "#54a24b"}, {"reduction", "#b279a2"},
      {"communication", "#f58518"}, {"copy", "#72b7b2"},   {"optimizer", "#eeca3b"},  {"other", "#9d755d"}};
  auto it = m.find(c);
  if (it != m.end()) return it->second;
  static const char* extra[] = {"#ff9da6", "#bab0ac", "#7f7f7f", "#17becf"};
  size_t h = 0;
  for (char ch : c) h = h * 31 + static_cast<unsigned char>(ch);
  return extra[h % 4];
}
std::string series_color(size_t i) {
  static const char* c[] = {"#4c78a8", "#e45756", "#54a24b", "#b279a2", "#f58518", "#72b7b2", "#9d755d", "#eeca3b"};
  return c[i % 8];
}

// Round "nice" step for a linear axis.
double nice_step(double range, int ticks) {
  double raw = range / std::max(1, ticks);
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  double m = raw / p;
  double s = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
  return s * p;
}

struct Svg {
  std::ostringstream os;
  int w, h;
  Svg(int w_, int h_, const std::string& label) : w(w_), h(h_) {
    os << "<svg viewBox=\"0 0 " << w << " " << h << "\" width=\"" << w << "\" height=\"" << h
       << "\" role=\"img\" aria-label=\"" << html_escape(label) << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  }
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double sw = 1,
            const std::string& extra = "") {
    os << "<line x1=\"" << f(x1, 1) << "\" y1=\"" << f(y1, 1) << "\" x2=\"" << f(x2, 1) << "\" y2=\"" << f(y2, 1)
       << "\" stroke=\"" << stroke << "\" stroke-width=\"" << f(sw, 1) << "\"" << extra << "/>\n";
  }
  void rect(double x, double y, double w_, double h_, const std::string& fill, const std::string& title = "",
            const std::string& extra = "") {
    os << "<rect x=\"" << f(x, 1) << "\" y=\"" << f(y, 1) << "\" width=\"" << f(std::max(0.0, w_), 1) << "\" height=\""
       << f(std::max(0.0, h_), 1) << "\" fill=\"" << fill << "\"" << extra;
    if (title.empty()) {
      os << "/>\n";
    } else {
      os << "><title>" << html_escape(title) << "</title></rect>\n";
    }
  }
  void text(double x, double y, const std::string& t, const std::string& anchor = "start", const std::string& extra = "") {
    os << "<text x=\"" << f(x, 1) << "\" y=\"" << f(y, 1) << "\" text-anchor=\"" << anchor << "\"" << extra << ">"
       << html_escape(t) << "</text>\n";
  }
  std::string done() {
    os << "</svg>\n";
    return os.str();
  }
};

// ---- step-time bars ------------------------------------------------------------------------
std::string step_bars(const std::vector<ReplayResult>& ws, double tol, const std::string& unit_label = "step time (ms)",
                      const std::string& measured_label = "measured median (whisker: min-max of the timed steps)") {
  const int left = 70, right = 20, top = 40, bottom = 90, plot_h = 260;
  int group_w = std::max(90, std::min(180, 900 / std::max<int>(1, ws.size())));
  int width = left + right + group_w * static_cast<int>(ws.size());
  width = std::max(width, 680);
  Svg s(width, top + plot_h + bottom, "step time per workload: predicted vs measured");
  double ymax = 0;
  for (auto& w : ws) {
    ymax = std::max(ymax, w.step_time_s * 1e3);
    if (w.has_measured) ymax = std::max(ymax, std::max(w.measured_max_s, w.measured_step_s) * 1e3);
  }
  if (!(ymax > 0)) ymax = 1;
  double step = nice_step(ymax * 1.1, 5);
  double top_val = std::ceil(ymax * 1.1 / step) * step;
  auto Y = [&](double ms) { return top + plot_h - ms / top_val * plot_h; };
  for (double v = 0; v <= top_val + 1e-9; v += step) {
    s.line(left, Y(v), width - right, Y(v), "#e0e0e0");
    s.text(left - 6, Y(v) + 4, g(v, 4), "end");
  }
  s.text(16, top + plot_h / 2.0, unit_label, "middle", " transform=\"rotate(-90 16 " + f(top + plot_h / 2.0, 1) + ")\"");
  s.line(left, top + plot_h, width - right, top + plot_h, "#333");
  // legend
  s.rect(left, 10, 12, 12, kPredColor);
  s.text(left + 16, 20, "predicted");
  s.rect(left + 100, 10, 12, 12, kMeasColor);
  s.text(left + 116, 20, measured_label);
  for (size_t i = 0; i < ws.size(); ++i) {
    const auto& w = ws[i];
    double gx = left + group_w * static_cast<double>(i);
    double bw = group_w * 0.3;
    double x1 = gx + group_w * 0.18, x2 = x1 + bw + 4;
    double p = w.step_time_s * 1e3;
    s.rect(x1, Y(p), bw, Y(0) - Y(p), kPredColor, w.bundle_name + " predicted " + f(p, 3) + " ms");
    s.text(x1 + bw / 2, Y(p) - 4, f(p, 1), "middle", " font-size=\"11\"");
    if (w.has_measured) {
      double m = w.measured_step_s * 1e3;
      s.rect(x2, Y(m), bw, Y(0) - Y(m), kMeasColor, w.bundle_name + " measured " + f(m, 3) + " ms");
      double lo = w.measured_min_s * 1e3, hi = w.measured_max_s * 1e3;
      if (hi > 0 && lo > 0) {
        double cx = x2 + bw / 2;
        s.line(cx, Y(lo), cx, Y(hi), "#333", 1.5);
        s.line(cx - 5, Y(lo), cx + 5, Y(lo), "#333", 1.5);
        s.line(cx - 5, Y(hi), cx + 5, Y(hi), "#333", 1.5);
      }
      s.text(x2 + bw / 2, Y(std::max(m, hi)) - 4, f(m, 1), "middle", " font-size=\"11\"");
      bool bad = tol > 0 && std::fabs(w.error_pct) > tol;
      s.text(gx + group_w / 2.0, top + plot_h + 36, pct(w.error_pct), "middle",
             std::string(" font-weight=\"bold\" fill=\"") + (bad ? "#c62828" : "#2e7d32") + "\"");
    } else {
      s.text(gx + group_w / 2.0, top + plot_h + 36, "no measurement", "middle", " fill=\"#777\"");
    }
    s.text(gx + group_w / 2.0, top + plot_h + 18, w.bundle_name, "middle");
    s.text(gx + group_w / 2.0, top + plot_h + 52, w.hw + " / " + w.mode, "middle", " fill=\"#666\" font-size=\"11\"");
  }
  return s.done();
}

// ---- error by kernel class ------------------------------------------------------------------
std::string class_bars(const std::vector<ClassError>& cls, double tol) {
  const int left = 190, right = 230, top = 30, row_h = 26;
  int width = 980;
  int height = top + row_h * static_cast<int>(std::max<size_t>(1, cls.size())) + 40;
  Svg s(width, height, "error by kernel class");
  double m = tol > 0 ? tol : 10;
  for (auto& c : cls) m = std::max(m, std::fabs(c.error_pct()));
  m = std::min(m * 1.1, 400.0);
  double plot_w = width - left - right;
  auto X = [&](double e) { return left + (std::clamp(e, -m, m) + m) / (2 * m) * plot_w; };
  if (tol > 0) s.rect(X(-tol), top - 6, X(tol) - X(-tol), row_h * cls.size() + 6, "#e8f5e9", "tolerance +/-" + f(tol, 1) + "%");
  double step = nice_step(2 * m, 8);
  for (double v = -std::floor(m / step) * step; v <= m + 1e-9; v += step) {
    s.line(X(v), top - 6, X(v), top + row_h * cls.size(), "#e0e0e0");
    s.text(X(v), top + row_h * cls.size() + 16, f(v, 0) + "%", "middle", " font-size=\"11\"");
  }
  s.line(X(0), top - 6, X(0), top + row_h * cls.size(), "#333");
  s.text(left + plot_w / 2, top + row_h * cls.size() + 34, "kernel time error: (simulated - measured) / measured, summed per class", "middle", " fill=\"#555\"");
  for (size_t i = 0; i < cls.size(); ++i) {
    const auto& c = cls[i];
    double y = top + row_h * static_cast<double>(i);
    double e = c.error_pct();
    double x0 = X(std::min(0.0, e)), x1 = X(std::max(0.0, e));
    std::string label = c.mode.empty() ? c.kernel_class : c.kernel_class + " (" + c.mode + ")";
    s.rect(x0, y + 3, x1 - x0, row_h - 8, class_color(c.kernel_class),
           label + ": " + pct(e) + " (" + std::to_string(c.kernels) + " kernels)");
    s.text(left - 8, y + row_h / 2.0 + 3, label, "end");
    s.text(width - right + 8, y + row_h / 2.0 + 3,
           pct(e) + "  (" + f(c.simulated_s * 1e3, 2) + " vs " + f(c.measured_s * 1e3, 2) + " ms)", "start", " font-size=\"11\"");
  }
  return s.done();
}

// ---- log-log scatter frame shared by the per-kernel plots ------------------------------------
// Decade grid and tick labels over [lo, hi] (both axes), the frame and the diagonal; returns the
// value -> pixel mappings.
struct LogLogFrame {
  double dlo = 0, dhi = 1;
  int left = 0, top = 0, size = 0;
  double X(double v) const { return left + (std::log10(v) - dlo) / (dhi - dlo) * size; }
  double Y(double v) const { return top + size - (std::log10(v) - dlo) / (dhi - dlo) * size; }
};
LogLogFrame loglog_frame(Svg& s, double lo, double hi, int left, int top, int size) {
  LogLogFrame f;
  f.left = left;
  f.top = top;
  f.size = size;
  f.dlo = std::floor(std::log10(lo));
  f.dhi = std::ceil(std::log10(hi));
  if (f.dhi <= f.dlo) f.dhi = f.dlo + 1;
  for (double d = f.dlo; d <= f.dhi + 1e-9; d += 1) {
    double v = std::pow(10.0, d);
    s.line(f.X(v), top, f.X(v), top + size, "#e0e0e0");
    s.line(left, f.Y(v), left + size, f.Y(v), "#e0e0e0");
    s.text(f.X(v), top + size + 16, time_label_us(v), "middle", " font-size=\"11\"");
    s.text(left - 6, f.Y(v) + 4, time_label_us(v), "end", " font-size=\"11\"");
  }
  s.rect(left, top, size, size, "none", "", " stroke=\"#333\"");
  double a = std::pow(10.0, f.dlo), b = std::pow(10.0, f.dhi);
  s.line(f.X(a), f.Y(a), f.X(b), f.Y(b), "#333", 1.2);
  return f;
}
// The same frame over the smallest and largest x or y of `pts` (points with .x and .y).
template <class P>
LogLogFrame loglog_frame(Svg& s, const std::vector<P>& pts, int left, int top, int size) {
  double lo = 1e300, hi = 0;
  for (auto& p : pts) {
    lo = std::min({lo, p.x, p.y});
    hi = std::max({hi, p.x, p.y});
  }
  return loglog_frame(s, lo, hi, left, top, size);
}
// Dashed lines at a factor `k` above and below the diagonal.
void loglog_band(Svg& s, const LogLogFrame& f, double k) {
  double a = std::pow(10.0, f.dlo), b = std::pow(10.0, f.dhi);
  s.line(f.X(a), f.Y(a * k), f.X(b / k), f.Y(b), "#999", 1, " stroke-dasharray=\"4 4\"");
  s.line(f.X(a * k), f.Y(a), f.X(b), f.Y(b / k), "#999", 1, " stroke-dasharray=\"4 4\"");
}
// One coloured dot per kernel class, from (x, y) down; returns the next free y.
int class_legend(Svg& s, const std::set<std::string>& classes, int x, int y) {
  for (auto& c : classes) {
    s.os << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"5\" fill=\"" << class_color(c) << "\"/>\n";
    s.text(x + 10, y + 4, c);
    y += 20;
  }
  return y;
}

// ---- per-kernel scatter (log-log) -----------------------------------------------------------
std::string kernel_scatter(const std::vector<ReplayResult>& ws, size_t max_points) {
  struct P {
    double x, y;
    std::string cls, title;
  };
  std::vector<P> pts;
  size_t total = 0;
  for (auto& w : ws)
    for (auto& k : w.kernels)
      if (k.measured_s > 0 && k.simulated_s > 0) ++total;
  size_t stride = total > max_points ? (total + max_points - 1) / max_points : 1;
  size_t n = 0;
  for (auto& w : ws)
    for (auto& k : w.kernels) {
      if (!(k.measured_s > 0 && k.simulated_s > 0)) continue;
      if (n++ % stride) continue;
      std::string cls = k.kernel_class.empty() ? "other" : k.kernel_class;
      pts.push_back({k.measured_s * 1e6, k.simulated_s * 1e6, cls,
                     w.bundle_name + ": " + k.name.substr(0, 120) + " (" + cls + ") measured " +
                         time_label_us(k.measured_s * 1e6) + ", simulated " + time_label_us(k.simulated_s * 1e6)});
    }
  const int size = 520, left = 70, bottom = 50, top = 20, right = 170;
  Svg s(left + size + right, top + size + bottom, "per-kernel simulated vs measured time (log-log)");
  if (pts.empty()) {
    s.text(left + size / 2.0, top + size / 2.0, "no kernels with both measured and simulated times", "middle");
    return s.done();
  }
  LogLogFrame fr = loglog_frame(s, pts, left, top, size);
  auto X = [&](double v) { return fr.X(v); };
  auto Y = [&](double v) { return fr.Y(v); };
  double b = std::pow(10.0, fr.dhi);
  loglog_band(s, fr, 2);
  s.text(X(b / 2) - 4, Y(b) + 14, "2x over", "end", " fill=\"#777\" font-size=\"11\"");
  s.text(X(b) - 4, Y(b / 2) + 14, "2x under", "end", " fill=\"#777\" font-size=\"11\"");
  s.text(left + size / 2.0, top + size + 38, "measured kernel time (Kineto trace)", "middle");
  s.text(18, top + size / 2.0, "simulated kernel time", "middle", " transform=\"rotate(-90 18 " + f(top + size / 2.0, 1) + ")\"");
  std::set<std::string> classes;
  for (auto& p : pts) {
    classes.insert(p.cls);
    s.os << "<circle cx=\"" << f(X(p.x), 1) << "\" cy=\"" << f(Y(p.y), 1) << "\" r=\"3\" fill=\"" << class_color(p.cls)
         << "\" fill-opacity=\"0.55\"><title>" << html_escape(p.title) << "</title></circle>\n";
  }
  int ly = class_legend(s, classes, left + size + 24, top + 10);
  if (stride > 1) s.text(left + size + 18, ly + 10, "1 of every " + std::to_string(stride) + " kernels", "start", " fill=\"#777\" font-size=\"11\"");
  return s.done();
}

// ---- kernel transfer (hardware what-if at kernel level) --------------------------------------
std::string transfer_scatter(const KernelTransferResult& r) {
  struct P {
    double x, y;
    std::string cls, title;
    bool hollow;
  };
  std::vector<P> pts;
  for (auto& k : r.rows) {
    if (!(k.target_ms > 0 && k.predicted_ms > 0 && k.source_ms > 0)) continue;
    std::string head = k.kernel_class + " " + k.key + ": measured on " + r.target_hw + " " + time_label_us(k.target_ms * 1e3);
    pts.push_back({k.target_ms * 1e3, k.source_ms * 1e3, k.kernel_class,
                   head + ", no transfer (" + r.source_hw + " time) " + time_label_us(k.source_ms * 1e3) + " " + pct(k.naive_error_pct()), true});
    pts.push_back({k.target_ms * 1e3, k.predicted_ms * 1e3, k.kernel_class,
                   head + ", transfer " + time_label_us(k.predicted_ms * 1e3) + " " + pct(k.error_pct()), false});
  }
  const int size = 460, left = 70, bottom = 50, top = 20, right = 190;
  Svg s(left + size + right, top + size + bottom, "kernel transfer: predicted vs measured time on the target GPU (log-log)");
  if (pts.empty()) {
    s.text(left + size / 2.0, top + size / 2.0, "no matched kernels", "middle");
    return s.done();
  }
  LogLogFrame fr = loglog_frame(s, pts, left, top, size);
  auto X = [&](double v) { return fr.X(v); };
  auto Y = [&](double v) { return fr.Y(v); };
  loglog_band(s, fr, 1.08);
  s.text(left + size / 2.0, top + size + 38, "measured on the target GPU", "middle");
  s.text(18, top + size / 2.0, "predicted (" + r.target_hw + " model)", "middle", " transform=\"rotate(-90 18 " + f(top + size / 2.0, 1) + ")\"");
  std::set<std::string> classes;
  for (auto& p : pts) {
    classes.insert(p.cls);
    std::string c = class_color(p.cls);
    s.os << "<circle cx=\"" << f(X(p.x), 1) << "\" cy=\"" << f(Y(p.y), 1) << "\" r=\"3.5\" "
         << (p.hollow ? "fill=\"none\" stroke=\"" + c + "\" stroke-opacity=\"0.6\"" : "fill=\"" + c + "\" fill-opacity=\"0.75\"")
         << "><title>" << html_escape(p.title) << "</title></circle>\n";
  }
  int ly = class_legend(s, classes, left + size + 24, top + 10) + 6;
  s.os << "<circle cx=\"" << left + size + 24 << "\" cy=\"" << ly << "\" r=\"5\" fill=\"#555\"/>\n";
  s.text(left + size + 34, ly + 4, "transfer");
  ly += 20;
  s.os << "<circle cx=\"" << left + size + 24 << "\" cy=\"" << ly << "\" r=\"5\" fill=\"none\" stroke=\"#555\"/>\n";
  s.text(left + size + 34, ly + 4, "no transfer (" + r.source_hw + " time)");
  ly += 20;
  s.text(left + size + 18, ly + 4, "dashed: +/-8%", "start", " fill=\"#777\" font-size=\"11\"");
  return s.done();
}

// ---- busbw curves -----------------------------------------------------------------------------
std::string busbw_plot(const std::vector<BusbwSeries>& series) {
  const int left = 70, right = 260, top = 20, plot_w = 600, plot_h = 320, bottom = 50;
  Svg s(left + plot_w + right, top + plot_h + bottom, "bus bandwidth: simulated vs measured (nccl-tests)");
  double bmin = 1e300, bmax = 0, ymax = 0;
  for (auto& se : series)
    for (auto& p : se.points) {
      if (!(p.bytes > 0)) continue;
      bmin = std::min(bmin, p.bytes);
      bmax = std::max(bmax, p.bytes);
      ymax = std::max({ymax, p.measured_busbw, p.simulated_busbw});
    }
  if (!(bmax > 0)) {
    s.text(left + plot_w / 2.0, top + plot_h / 2.0, "no data", "middle");
    return s.done();
  }
  double l0 = std::floor(std::log2(bmin)), l1 = std::ceil(std::log2(bmax));
  if (l1 <= l0) l1 = l0 + 1;
  if (!(ymax > 0)) ymax = 1;
  double step = nice_step(ymax * 1.1, 6);
  double ytop = std::ceil(ymax * 1.1 / step) * step;
  auto X = [&](double b) { return left + (std::log2(b) - l0) / (l1 - l0) * plot_w; };
  auto Y = [&](double v) { return top + plot_h - v / ytop * plot_h; };
  for (double v = 0; v <= ytop + 1e-9; v += step) {
    s.line(left, Y(v), left + plot_w, Y(v), "#e0e0e0");
    s.text(left - 6, Y(v) + 4, g(v, 4), "end", " font-size=\"11\"");
  }
  int every = static_cast<int>(std::ceil((l1 - l0) / 10.0));
  for (double l = l0; l <= l1 + 1e-9; l += every) {
    double b = std::pow(2.0, l);
    s.line(X(b), top, X(b), top + plot_h, "#eeeeee");
    s.text(X(b), top + plot_h + 16, bytes_label(b), "middle", " font-size=\"11\"");
  }
  s.rect(left, top, plot_w, plot_h, "none", "", " stroke=\"#333\"");
  s.text(left + plot_w / 2.0, top + plot_h + 38, "message size (nccl-tests size column)", "middle");
  s.text(18, top + plot_h / 2.0, "busbw (GB/s)", "middle", " transform=\"rotate(-90 18 " + f(top + plot_h / 2.0, 1) + ")\"");
  int ly = top + 10;
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& se = series[i];
    std::string col = series_color(i);
    auto path = [&](bool sim) {
      std::string d;
      for (auto& p : se.points) {
        double v = sim ? p.simulated_busbw : p.measured_busbw;
        if (!(p.bytes > 0) || !std::isfinite(v)) continue;
        d += (d.empty() ? "M" : " L") + f(X(p.bytes), 1) + " " + f(Y(v), 1);
      }
      return d;
    };
    s.os << "<path d=\"" << path(false) << "\" fill=\"none\" stroke=\"" << col << "\" stroke-width=\"2\"/>\n";
    s.os << "<path d=\"" << path(true) << "\" fill=\"none\" stroke=\"" << col
         << "\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n";
    for (auto& p : se.points) {
      if (!(p.bytes > 0)) continue;
      s.os << "<circle cx=\"" << f(X(p.bytes), 1) << "\" cy=\"" << f(Y(p.measured_busbw), 1) << "\" r=\"3\" fill=\"" << col
           << "\"><title>" << html_escape(se.label + " " + bytes_label(p.bytes) + ": measured " + f(p.measured_busbw, 1) + " GB/s")
           << "</title></circle>\n";
      s.os << "<rect x=\"" << f(X(p.bytes) - 3, 1) << "\" y=\"" << f(Y(p.simulated_busbw) - 3, 1)
           << "\" width=\"6\" height=\"6\" fill=\"white\" stroke=\"" << col << "\"><title>"
           << html_escape(se.label + " " + bytes_label(p.bytes) + ": simulated " + f(p.simulated_busbw, 1) + " GB/s")
           << "</title></rect>\n";
    }
    s.line(left + plot_w + 16, ly, left + plot_w + 40, ly, col, 2);
    s.text(left + plot_w + 46, ly + 4, se.collective + " measured", "start", " font-size=\"11\"");
    ly += 16;
    s.line(left + plot_w + 16, ly, left + plot_w + 40, ly, col, 2, " stroke-dasharray=\"6 4\"");
    s.text(left + plot_w + 46, ly + 4, se.collective + " simulated", "start", " font-size=\"11\"");
    ly += 22;
  }
  return s.done();
}

struct KernelAgg {
  std::string name, cls;
  int count = 0;
  double meas = 0, sim = 0;
};

std::vector<KernelAgg> top_kernels(const ReplayResult& w, size_t n) {
  std::map<std::string, KernelAgg> m;
  for (auto& k : w.kernels) {
    if (!(k.measured_s > 0)) continue;
    auto& a = m[k.name];
    a.name = k.name;
    a.cls = k.kernel_class;
    ++a.count;
    a.meas += k.measured_s;
    a.sim += k.simulated_s;
  }
  std::vector<KernelAgg> v;
  for (auto& [k, a] : m) v.push_back(a);
  std::sort(v.begin(), v.end(), [](const KernelAgg& a, const KernelAgg& b) {
    return a.meas != b.meas ? a.meas > b.meas : a.name < b.name;
  });
  if (v.size() > n) v.resize(n);
  return v;
}

const char* kStyle = R"(body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1150px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin-top:20px}.sub{color:#666;margin-top:0}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f5f5f5}td.l,th.l{text-align:left}.ok{color:#2e7d32;font-weight:bold}.bad{color:#c62828;font-weight:bold}
.note{color:#555;font-size:13px}.summary{display:flex;gap:16px;margin:12px 0}.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px}
.card b{display:block;font-size:20px}svg{display:block;margin:8px 0}code{background:#f5f5f5;padding:1px 4px})";

// ---- render_report, section by section (each writes its HTML to o) ----

// Summary cards: workloads, mean and worst |step error|, how many within tolerance, mean |busbw error|.
void summary_cards(std::ostringstream& o, const ReportData& d) {
  const double tol = d.tolerance_pct;
  int measured = 0, within = 0;
  double sum_abs = 0, worst = 0;
  for (auto& w : d.workloads)
    if (w.has_measured) {
      ++measured;
      sum_abs += std::fabs(w.error_pct);
      worst = std::max(worst, std::fabs(w.error_pct));
      if (tol <= 0 || std::fabs(w.error_pct) <= tol) ++within;
    }
  o << "<div class=\"summary\">\n";
  if (!d.workloads.empty()) o << "<div class=\"card\">workloads<b>" << d.workloads.size() << "</b></div>\n";
  if (measured) {
    o << "<div class=\"card\">mean |step error|<b>" << f(sum_abs / measured, 1) << "%</b></div>\n";
    o << "<div class=\"card\">worst |step error|<b>" << f(worst, 1) << "%</b></div>\n";
    if (tol > 0)
      o << "<div class=\"card\">within &plusmn;" << f(tol, 1) << "%<b class=\"" << (within == measured ? "ok" : "bad") << "\">"
        << within << " / " << measured << "</b></div>\n";
  }
  if (!d.busbw.empty()) {
    double se = 0;
    int n = 0;
    for (auto& s : d.busbw)
      for (auto& p : s.points)
        if (p.measured_time_us > 0 && p.simulated_time_us > 0) {
          se += std::fabs(p.measured_time_us / p.simulated_time_us - 1) * 100;
          ++n;
        }
    if (n) o << "<div class=\"card\">mean |busbw error|<b>" << f(se / n, 1) << "%</b></div>\n";
  }
  o << "</div>\n";
}

// Step time per workload: bar chart and table (predicted, measured median and range, error).
void step_section(std::ostringstream& o, const ReportData& d) {
  const double tol = d.tolerance_pct;
  o << "<h2>Step time per workload</h2>\n";
  o << "<p class=\"note\">Predicted step time against the median of the steps timed with CUDA events without "
       "the profiler (whisker: fastest and slowest timed step). Label: (predicted - measured) / measured.</p>\n";
  o << step_bars(d.workloads, tol);
  o << "<table>\n<tr><th class=\"l\">workload</th><th class=\"l\">hardware</th><th class=\"l\">mode</th><th>predicted (ms)</th>"
       "<th>measured median (ms)</th><th>measured min-max (ms)</th><th>error</th><th>inside min-max</th>";
  if (tol > 0) o << "<th>within &plusmn;" << f(tol, 1) << "%</th>";
  o << "<th>GPU busy (ms)</th></tr>\n";
  for (auto& w : d.workloads) {
    o << "<tr><td class=\"l\">" << html_escape(w.bundle_name) << "</td><td class=\"l\">" << html_escape(w.hw)
      << "</td><td class=\"l\">" << html_escape(w.mode) << "</td><td>" << f(w.step_time_s * 1e3, 2) << "</td>";
    if (w.has_measured) {
      bool inside = w.step_time_s >= w.measured_min_s && w.step_time_s <= w.measured_max_s;
      bool ok = tol <= 0 || std::fabs(w.error_pct) <= tol;
      o << "<td>" << f(w.measured_step_s * 1e3, 2) << "</td><td>" << f(w.measured_min_s * 1e3, 2) << " - "
        << f(w.measured_max_s * 1e3, 2) << "</td><td class=\"" << (ok ? "ok" : "bad") << "\">" << pct(w.error_pct)
        << "</td><td>" << (inside ? "yes" : "no") << "</td>";
      if (tol > 0) o << "<td class=\"" << (ok ? "ok" : "bad") << "\">" << (ok ? "yes" : "NO") << "</td>";
    } else {
      o << "<td>-</td><td>-</td><td>-</td><td>-</td>";
      if (tol > 0) o << "<td>-</td>";
    }
    o << "<td>" << f(w.gpu_busy_s * 1e3, 2) << "</td></tr>\n";
  }
  o << "</table>\n";
}

// Error by kernel class: bar chart and table (per replay mode when there are several).
void class_section(std::ostringstream& o, const std::vector<ClassError>& cls, const std::set<std::string>& modes, double tol) {
  o << "<h2>Error by kernel class</h2>\n";
  o << "<p class=\"note\">Simulated against measured (Kineto) kernel time, summed per class over all workloads"
    << (modes.size() > 1 ? ", per replay mode" : "") << ".</p>\n";
  o << class_bars(cls, tol);
  o << "<table>\n<tr><th class=\"l\">class</th><th class=\"l\">mode</th><th>kernels</th><th>measured (ms)</th><th>simulated (ms)</th><th>error</th>"
       "<th>share of measured</th></tr>\n";
  std::map<std::string, double> total;  // per mode
  for (auto& c : cls) total[c.mode] += c.measured_s;
  for (auto& c : cls)
    o << "<tr><td class=\"l\">" << html_escape(c.kernel_class) << "</td><td class=\"l\">"
      << html_escape(c.mode.empty() ? (modes.size() == 1 ? *modes.begin() : "") : c.mode) << "</td><td>" << c.kernels << "</td><td>"
      << f(c.measured_s * 1e3, 3) << "</td><td>" << f(c.simulated_s * 1e3, 3) << "</td><td>" << pct(c.error_pct())
      << "</td><td>" << f(total[c.mode] > 0 ? c.measured_s / total[c.mode] * 100 : 0, 1) << "%</td></tr>\n";
  o << "</table>\n";
}

// Per-kernel scatter of simulated against measured, and each workload's top kernels by measured time.
void kernel_section(std::ostringstream& o, const ReportData& d) {
  o << "<h2>Per-kernel: simulated vs measured</h2>\n";
  o << "<p class=\"note\">One point per kernel (log-log). On the diagonal the model is exact; dashed lines: a factor "
       "of two. Hover a point for the kernel's name.</p>\n";
  o << kernel_scatter(d.workloads, 8000);
  for (auto& w : d.workloads) {
    auto top = top_kernels(w, 15);
    if (top.empty()) continue;
    o << "<h3>" << html_escape(w.bundle_name) << " (" << html_escape(w.hw) << ", " << html_escape(w.mode)
      << "): kernels with the most measured time</h3>\n";
    o << "<table>\n<tr><th class=\"l\">kernel</th><th class=\"l\">class</th><th>count</th><th>measured (ms)</th>"
         "<th>simulated (ms)</th><th>error</th></tr>\n";
    for (auto& k : top) {
      std::string name = k.name.size() > 90 ? k.name.substr(0, 87) + "..." : k.name;
      double e = k.meas > 0 ? (k.sim - k.meas) / k.meas * 100 : 0;
      o << "<tr><td class=\"l\"><code>" << html_escape(name) << "</code></td><td class=\"l\">" << html_escape(k.cls)
        << "</td><td>" << k.count << "</td><td>" << f(k.meas * 1e3, 3) << "</td><td>" << f(k.sim * 1e3, 3) << "</td><td>"
        << pct(e) << "</td></tr>\n";
    }
    o << "</table>\n";
  }
}

// Collectives: busbw plot of nccl-tests against orrery collective, one table per series.
void busbw_section(std::ostringstream& o, const ReportData& d) {
  o << "<h2>Collectives: bus bandwidth</h2>\n";
  o << "<p class=\"note\">nccl-tests measurements (solid, circles) against <code>orrery collective</code> on the same "
       "system (dashed, squares). busbw in GB/s (decimal), as nccl-tests prints it.</p>\n";
  o << busbw_plot(d.busbw);
  for (auto& s : d.busbw) {
    o << "<h3>" << html_escape(s.label) << "</h3>\n<table>\n<tr><th>size</th><th>measured time (us)</th>"
         "<th>simulated time (us)</th><th>measured busbw (GB/s)</th><th>simulated busbw (GB/s)</th><th>busbw error</th></tr>\n";
    for (auto& p : s.points) {
      // busbw error from the times (the printed busbw columns are rounded to 0.01 GB/s).
      bool has = p.measured_time_us > 0 && p.simulated_time_us > 0;
      double e = has ? (p.measured_time_us / p.simulated_time_us - 1) * 100 : 0;
      o << "<tr><td>" << bytes_label(p.bytes) << "</td><td>" << f(p.measured_time_us, 2) << "</td><td>"
        << f(p.simulated_time_us, 2) << "</td><td>" << f(p.measured_busbw, 2) << "</td><td>" << f(p.simulated_busbw, 2)
        << "</td><td>" << (has ? pct(e) : std::string("-")) << "</td></tr>\n";
    }
    o << "</table>\n";
  }
}

// One kernel-level hardware what-if check: scatter, per-class summary, unmatched kernels.
void transfer_section(std::ostringstream& o, const std::string& label, const KernelTransferResult& r, double tol) {
  o << "<h2>Hardware what-if at kernel level: " << html_escape(r.source_hw) << " &rarr; " << html_escape(r.target_hw)
    << "</h2>\n";
  o << "<p class=\"note\">" << html_escape(label) << "<br>The same kernels measured on both GPUs (CUDA-graph replay, "
       "device time). Filled: predicted from the source measurement x (model time on target / model time on source), "
       "as <code>--mode transfer</code> does; hollow: the source time unchanged. Dashed lines: &plusmn;8%.</p>\n";
  o << transfer_scatter(r);
  o << "<table>\n<tr><th class=\"l\">class</th><th class=\"l\">method</th><th>kernels</th><th>median |error|</th>"
       "<th>max |error|</th><th>measured (ms)</th><th>predicted (ms)</th><th>summed error</th></tr>\n";
  for (auto& c : r.summary) {
    bool ok = tol <= 0 || std::fabs(c.sum_error_pct()) <= tol || c.method != "transfer";
    o << "<tr><td class=\"l\">" << html_escape(c.kernel_class) << "</td><td class=\"l\">" << html_escape(c.method)
      << "</td><td>" << c.count << "</td><td>" << f(c.median_abs_error_pct, 1) << "%</td><td>" << f(c.max_abs_error_pct, 1)
      << "%</td><td>" << f(c.measured_ms, 4) << "</td><td>" << f(c.predicted_ms, 4) << "</td><td class=\""
      << (ok ? "ok" : "bad") << "\">" << pct(c.sum_error_pct()) << "</td></tr>\n";
  }
  o << "</table>\n";
  if (!r.unmatched.empty()) {
    o << "<h3>Unmatched kernels</h3>\n<ul>\n";
    for (auto& u : r.unmatched) o << "<li>" << html_escape(u) << "</li>\n";
    o << "</ul>\n";
  }
}

// Published training iterations: bars (drawn by step_bars, in seconds) and table.
void published_section(std::ostringstream& o, const ReportData& d) {
  const double tol = d.tolerance_pct;
  o << "<h2>Published training iterations</h2>\n";
  o << "<p class=\"note\"><code>orrery train</code> on the matching system against published end-to-end iteration "
       "times (seconds); label: (predicted - published) / published.</p>\n";
  std::vector<ReplayResult> bars;
  for (auto& r : d.published) {
    ReplayResult w;
    w.bundle_name = r.model + (r.setting == "full_recompute" ? " full" : r.setting.find("selective") != std::string::npos ? " selective" : " " + r.setting);
    w.hw = r.system + " x" + std::to_string(r.gpus);
    w.mode = "train";
    // step_bars draws value x 1e3 (ms): seconds / 1e3 make its axis read seconds.
    w.step_time_s = r.predicted_s / 1e3;
    w.has_measured = true;
    w.measured_step_s = w.measured_min_s = w.measured_max_s = r.published_s / 1e3;
    w.error_pct = r.error_pct();
    bars.push_back(w);
  }
  o << step_bars(bars, tol, "iteration time (s)", "published");
  o << "<table>\n<tr><th class=\"l\">model</th><th class=\"l\">system</th><th>GPUs</th><th class=\"l\">plan</th>"
       "<th>predicted (s)</th><th>published (s)</th><th>error</th><th>MFU predicted / published</th>"
       "<th class=\"l\">source</th></tr>\n";
  for (auto& r : d.published) {
    bool ok = tol <= 0 || std::fabs(r.error_pct()) <= tol;
    o << "<tr><td class=\"l\">" << html_escape(r.model) << "</td><td class=\"l\">" << html_escape(r.system) << "</td><td>"
      << r.gpus << "</td><td class=\"l\">" << html_escape(r.plan) << "</td><td>" << f(r.predicted_s, 3) << "</td><td>"
      << f(r.published_s, 3) << "</td><td class=\"" << (ok ? "ok" : "bad") << "\">" << pct(r.error_pct()) << "</td><td>"
      << f(r.mfu_predicted, 3) << " / " << f(r.mfu_published, 3) << "</td><td class=\"l\">" << html_escape(r.source)
      << "</td></tr>\n";
  }
  o << "</table>\n";
}

}  // namespace

std::string render_report(const ReportData& d) {
  std::ostringstream o;
  double tol = d.tolerance_pct;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << html_escape(d.title)
    << "</title>\n<style>\n" << kStyle << "\n</style>\n</head>\n<body>\n";
  o << "<h1>" << html_escape(d.title) << "</h1>\n";
  if (!d.subtitle.empty()) o << "<p class=\"sub\">" << html_escape(d.subtitle) << "</p>\n";
  summary_cards(o, d);
  if (!d.workloads.empty()) step_section(o, d);
  if (!d.skipped.empty()) {
    o << "<h3>Skipped</h3>\n<ul>\n";
    for (auto& s : d.skipped) o << "<li>" << html_escape(s) << "</li>\n";
    o << "</ul>\n";
  }
  std::set<std::string> modes;
  for (auto& w : d.workloads) modes.insert(w.mode);
  auto cls = error_by_class(d.workloads, modes.size() > 1);
  if (!cls.empty()) {
    class_section(o, cls, modes, tol);
    kernel_section(o, d);
  }
  if (!d.busbw.empty()) busbw_section(o, d);
  for (auto& [label, r] : d.kernel_transfer) transfer_section(o, label, r, tol);
  if (!d.published.empty()) published_section(o, d);
  o << "<p class=\"note\">Generated by orrery validate. Self-contained page: no scripts, no external resources.</p>\n";
  o << "</body>\n</html>\n";
  return o.str();
}

}  // namespace orrery
