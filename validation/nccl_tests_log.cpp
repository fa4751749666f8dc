#include "validation/nccl_tests_log.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "sim/error.h"

namespace orrery {

std::string normalize_collective_name(const std::string& s0) {
  std::string s;
  for (char c : s0)
    if (std::isalnum(static_cast<unsigned char>(c))) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.rfind("nccl", 0) == 0) s = s.substr(4);
  auto strip = [&](const std::string& suffix) {
    if (s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0)
      s = s.substr(0, s.size() - suffix.size());
  };
  strip("perf");
  static const std::pair<const char*, const char*> names[] = {
      {"allreduce", "all_reduce"},         {"allgather", "all_gather"}, {"reducescatter", "reduce_scatter"},
      {"alltoall", "alltoall"},            {"broadcast", "broadcast"},  {"reduce", "reduce"},
      {"sendrecv", "sendrecv"},            {"gather", "gather"},        {"scatter", "scatter"},
      {"hypercube", "hypercube"}};
  for (auto& [k, v] : names)
    if (s == k) return v;
  return "";
}

double nccl_busbw_factor(const std::string& collective, int n) {
  if (n <= 0) return 1.0;
  double N = n;
  if (collective == "all_reduce") return 2.0 * (N - 1) / N;
  if (collective == "all_gather" || collective == "reduce_scatter" || collective == "alltoall" ||
      collective == "gather" || collective == "scatter")
    return (N - 1) / N;
  return 1.0;  // broadcast, reduce, sendrecv
}

namespace {

bool parse_number(const std::string& t, double& out) {
  if (t == "N/A" || t == "n/a") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  try {
    size_t pos = 0;
    out = std::stod(t, &pos);
    return pos == t.size();
  } catch (...) {
    return false;
  }
}

std::vector<std::string> split_ws(const std::string& line) {
  std::istringstream is(line);
  std::vector<std::string> out;
  std::string t;
  while (is >> t) out.push_back(t);
  return out;
}

// Finds a collective name in a file name such as "all_gather_perf_8xh100.log".
std::string collective_from_filename(const std::string& path) {
  std::string stem = std::filesystem::path(path).filename().string();
  for (auto& c : stem) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* keys[] = {"reduce_scatter", "reducescatter", "all_reduce", "allreduce", "all_gather", "allgather",
                               "alltoall",       "broadcast",     "sendrecv",   "reduce"};
  for (const char* k : keys)
    if (stem.find(k) != std::string::npos) return normalize_collective_name(k);
  return "";
}

// A binary name (all_reduce_perf ...) among the tokens names the collective when nothing has yet;
// tokens shorter than min_size are not looked at.
void learn_collective_from_binary(NcclTestsLog& log, const std::vector<std::string>& toks, size_t min_size) {
  if (!log.collective.empty()) return;
  for (auto& t : toks)
    if (t.size() >= min_size && t.find("_perf") != std::string::npos) {
      std::string n = normalize_collective_name(std::filesystem::path(t).filename().string());
      if (!n.empty()) log.collective = n;
    }
}

// A '#' line: "Collective test starting" (several collectives in one log are an error), nThread /
// nGpus, a Rank line (one device each), "Avg bus bandwidth", or the column header (whether rows
// have a root column, into has_root); a binary name in an echoed command line.
void read_comment_line(NcclTestsLog& log, const std::string& line, const std::vector<std::string>& toks, int lineno,
                       const std::string& path, bool& has_root) {
  auto pos = line.find("Collective test starting:");
  if (pos != std::string::npos) {
    std::string name = line.substr(pos + 25);
    auto t = split_ws(name);
    std::string name_here = t.empty() ? "" : normalize_collective_name(t[0]);
    if (!log.collective.empty() && !name_here.empty() && name_here != log.collective)
      throw make_error(path, "line " + std::to_string(lineno),
                       "the log holds several collectives (" + log.collective + ", " + name_here +
                           "): split it, one collective per log");
    if (!name_here.empty()) log.collective = name_here;
    return;
  }
  if (line.find("nThread") != std::string::npos) {
    for (size_t i = 0; i + 1 < toks.size(); ++i) {
      if (toks[i] != "nGpus" && toks[i] != "nThread") continue;
      double v = 0;  // (a count nccl-tests prints: a whole number >= 1)
      if (!parse_number(toks[i + 1], v) || !(v >= 1 && v <= 1e6) || v != std::floor(v))
        throw make_error(path, "line " + std::to_string(lineno), toks[i] + " '" + toks[i + 1] + "' is not a count >= 1");
      (toks[i] == "nGpus" ? log.ngpus_per_thread : log.nthreads) = static_cast<int>(v);
    }
    return;
  }
  if (toks.size() >= 3 && toks[1] == "Rank") {
    ++log.ranks;
    auto b = line.find(']');
    if (b != std::string::npos) {
      std::string dev = line.substr(b + 1);
      auto s = dev.find_first_not_of(' ');
      log.devices.push_back(s == std::string::npos ? "" : dev.substr(s));
    }
    return;
  }
  if (line.find("Avg bus bandwidth") != std::string::npos) {
    auto c = line.find(':');
    double v = 0;
    if (c != std::string::npos) {
      auto t = split_ws(line.substr(c + 1));
      if (!t.empty() && parse_number(t[0], v)) log.avg_busbw = v;
    }
    return;
  }
  // Column header: "#  size  count  type  redop  [root]  time ...".
  bool has_size = false, has_time = false, root_col = false;
  for (auto& t : toks) {
    has_size |= t == "size";
    has_time |= t == "time";
    root_col |= t == "root";
  }
  if (has_size && has_time) has_root = root_col;
  // A binary name in a command line echoed into the log.
  learn_collective_from_binary(log, toks, 6);
}

// Values nccl-tests cannot print: a negative, fractional or absurd size, a time that is not
// positive, a NaN or negative bandwidth (N/A is only printed for in-place columns).
void check_row_values(const NcclTestsRow& r, double size, double count, const std::string& path, int lineno) {
  auto bad = [&](const std::string& what) { return make_error(path, "line " + std::to_string(lineno), what); };
  auto text_of = [](double v) {
    if (std::isnan(v)) return std::string("N/A");
    char b[48];
    std::snprintf(b, sizeof b, "%.17g", v);
    return std::string(b);
  };
  if (!(size >= 0 && size == std::floor(size) && size <= 1125899906842624.0))
    throw bad("size " + text_of(size) + " is not a whole number of bytes from 0 to 1 PiB");
  if (!(count >= 0 && count == std::floor(count))) throw bad("count " + text_of(count) + " is not a whole number");
  if (!(r.time_us > 0 && std::isfinite(r.time_us))) throw bad("time " + text_of(r.time_us) + " us is not a positive number");
  if (r.time_us > 1e12) throw bad("time " + text_of(r.time_us) + " us is beyond 1e6 s: not a collective's time");
  if (!(r.algbw >= 0 && std::isfinite(r.algbw))) throw bad("algbw " + text_of(r.algbw) + " is not a bandwidth (>= 0)");
  if (!(r.busbw >= 0 && std::isfinite(r.busbw))) throw bad("busbw " + text_of(r.busbw) + " is not a bandwidth (>= 0)");
  if (!std::isnan(r.time_us_in) && !(r.time_us_in > 0 && std::isfinite(r.time_us_in)))
    throw bad("in-place time " + text_of(r.time_us_in) + " us is not a positive number");
  for (double v : {r.algbw_in, r.busbw_in})
    if (!std::isnan(v) && !(v >= 0 && std::isfinite(v))) throw bad("in-place bandwidth " + text_of(v) + " is not >= 0");
}

// A result row: size count type redop [root] time algbw busbw wrong [time algbw busbw wrong]
// (size and count already read), checked.
NcclTestsRow parse_result_row(const std::vector<std::string>& toks, double size, double count, bool has_root,
                              const std::string& path, int lineno) {
  NcclTestsRow r;
  r.bytes = size;
  r.count = count;
  r.type = toks[2];
  r.redop = toks[3];
  size_t i = 4;
  // Decide from the token count when the header was missing: with root, 13 (or 9) tokens.
  bool root = has_root;
  if (toks.size() == 13 || toks.size() == 9) root = true;
  if (toks.size() == 12 || toks.size() == 8) root = false;
  if (root) {
    double rt = -1;
    // N/A parses as NaN: casting it (or a huge number) to int is undefined (found by fuzzing).
    if (!parse_number(toks[4], rt) || !(rt >= -1 && rt <= 1e9))
      throw make_error(path, "line " + std::to_string(lineno), "bad root column '" + toks[4] + "'");
    r.root = static_cast<int>(rt);
    i = 5;
  }
  auto need = [&](size_t k, double& v, const char* what) {
    if (k >= toks.size() || !parse_number(toks[k], v))
      throw make_error(path, "line " + std::to_string(lineno),
                       std::string("bad ") + what + " column" + (k < toks.size() ? " '" + toks[k] + "'" : " (missing)"));
  };
  need(i, r.time_us, "time");
  need(i + 1, r.algbw, "algbw");
  need(i + 2, r.busbw, "busbw");
  if (i + 3 < toks.size()) r.wrong = toks[i + 3];
  r.time_us_in = r.algbw_in = r.busbw_in = std::numeric_limits<double>::quiet_NaN();
  if (i + 6 < toks.size()) {
    need(i + 4, r.time_us_in, "in-place time");
    need(i + 5, r.algbw_in, "in-place algbw");
    need(i + 6, r.busbw_in, "in-place busbw");
  }
  check_row_values(r, size, count, path, lineno);
  return r;
}

}  // namespace

NcclTestsLog parse_nccl_tests_text(const std::string& text, const std::string& path) {
  NcclTestsLog log;
  log.path = path;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  bool has_root = true;  // decided by the column header when present
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto toks = split_ws(line);
    if (toks.empty()) continue;
    if (toks[0][0] == '#') {
      read_comment_line(log, line, toks, lineno, path, has_root);
      continue;
    }
    double size = 0, count = 0;
    if (toks.size() < 8 || !parse_number(toks[0], size) || !parse_number(toks[1], count)) {
      // Other lines (NCCL INFO/WARN, MPI chatter, command echo): skip, but learn a binary name.
      learn_collective_from_binary(log, toks, 0);
      continue;
    }
    log.rows.push_back(parse_result_row(toks, size, count, has_root, path, lineno));
  }
  if (log.collective.empty()) log.collective = collective_from_filename(path);
  // Each process prints nThread x nGpus of the Rank lines: their count is a multiple of it.
  int per_process = std::max(1, log.nthreads) * std::max(1, log.ngpus_per_thread);
  if (log.ranks > 0 && log.ranks % per_process != 0)
    throw make_error(path, "nGpus", "nThread x nGpus = " + std::to_string(per_process) + " devices per process, but the log has " +
                                        std::to_string(log.ranks) + " Rank lines (not a multiple)");
  if (log.rows.empty())
    throw make_error(path, "", "no nccl-tests result rows found (expected lines 'size count type redop root time algbw busbw #wrong ...')");
  return log;
}

NcclTestsLog parse_nccl_tests_log(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw make_error(path, "", "cannot open nccl-tests log");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_nccl_tests_text(ss.str(), path);
}

}  // namespace orrery
