#include "workloads/replay.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include "hw_models/gpu.h"
#include "sim/engine.h"
#include "sim/error.h"
#include "sim/timeline.h"
#include "workloads/op_cost.h"
#include "workloads/pytorch_trace.h"

namespace orrery {

ReplayMode parse_replay_mode(const std::string& s) {
  if (s == "measured") return ReplayMode::Measured;
  if (s == "roofline") return ReplayMode::Roofline;
  if (s == "transfer") return ReplayMode::Transfer;
  throw make_error("--mode", s, "unknown replay mode (measured, roofline, transfer)");
}

const char* replay_mode_name(ReplayMode m) {
  switch (m) {
    case ReplayMode::Measured: return "measured";
    case ReplayMode::Roofline: return "roofline";
    case ReplayMode::Transfer: return "transfer";
  }
  return "?";
}

namespace {

// Roofline components of one device activity on one accelerator.
struct Roof {
  double tc = 0, tm = 0, tl = 0;  // compute, memory, host-link times (s)
  double flops = 0, bytes = 0;
  bool known = false;
  double total(const Accelerator& hw) const {
    return std::max({hw.p("min_kernel_time"), tc, tm, tl});
  }
};

// kernels_of_op: kernels of the op that do its main work (GEMM/attention kernels of a matrix op,
// all kernels otherwise); helper = a side kernel of a matrix op (memset, cast, reduce).
Roof roof_of(const DeviceActivity& d, const OpWork* w, int kernels_of_op, bool helper, const Accelerator& hw) {
  Roof r;
  if (d.kind == DevKind::Memcpy) {
    r.bytes = d.bytes;
    r.known = true;
    if (d.copy_kind == "HtoD" || d.copy_kind == "DtoH")
      r.tl = hw.p("host_link_latency") * 0.0 + d.bytes / hw.p("host_link_bandwidth");
    else
      r.tm = 2 * d.bytes / (hw.hbm_bandwidth() * hw.memory_efficiency(2 * d.bytes));
    return r;
  }
  if (d.kind == DevKind::Memset) {
    r.bytes = d.bytes;
    r.known = true;
    r.tm = d.bytes / (hw.hbm_bandwidth() * hw.memory_efficiency(d.bytes));
    return r;
  }
  if (!w || !w->known) return r;
  if (helper) {
    r.known = true;  // side kernel of a GEMM/attention op: latency-bound
    return r;
  }
  double share = 1.0 / std::max(1, kernels_of_op);
  r.known = true;
  r.flops = w->flops * share;
  r.bytes = w->bytes * share;
  if (w->matrix && w->m > 0) {
    // Whole-GEMM time (efficiency depends on the whole problem), split across its kernels.
    double t = hw.gemm_time(w->m, w->n, w->k, w->dtype, w->batch);
    double tm = w->bytes / (hw.hbm_bandwidth() * hw.memory_efficiency(w->bytes));
    r.tc = t * share;
    r.tm = std::min(tm, t) * share;
  } else if (w->matrix) {
    r.tc = w->flops / (hw.peak_flops(w->dtype) * hw.gemm_efficiency(w->dtype, w->flops)) * share;
    r.tm = w->bytes / (hw.hbm_bandwidth() * hw.memory_efficiency(w->bytes)) * share;
  } else if (w->attention) {
    double t = hw.attention_time(w->flops, w->bytes, w->dtype);
    r.tc = t * share;
    r.tm = w->bytes / (hw.hbm_bandwidth() * hw.memory_efficiency(w->bytes)) * share;
  } else {
    // Memory-bound op: its bytes split across its kernels; efficiency by the per-kernel size.
    double b = w->bytes * share;
    r.tm = b / (hw.hbm_bandwidth() * hw.memory_efficiency(b));
    r.tc = w->flops * share / (hw.p("peak_fp32") * hw.p("vector_efficiency"));
  }
  return r;
}

double clamp01(double x) { return std::isfinite(x) ? std::clamp(x, 0.0, 1.0) : 0.0; }

}  // namespace

ReplayResult replay_bundle(const ReplayOptions& opt) {
  auto wall0 = std::chrono::steady_clock::now();
  CapturedStep st = load_bundle(opt.bundle);
  Accelerator hw = load_accelerator(opt.hw, opt.overrides);
  Accelerator src = opt.mode == ReplayMode::Transfer ? load_accelerator(opt.source_hw) : hw;
  HostCostModel host_cost(st, hw);

  ReplayResult res;
  res.bundle = opt.bundle;
  res.bundle_name = std::filesystem::path(opt.bundle).filename().string();
  if (res.bundle_name.empty()) res.bundle_name = std::filesystem::path(opt.bundle).parent_path().filename().string();
  res.hw = hw.name;
  res.mode = replay_mode_name(opt.mode);

  // ---- per-op work and kernel counts ----
  std::map<int, OpWork> work;
  std::map<int, int> kernels_of_op;
  std::map<int, double> main_dur_of_op;
  std::vector<bool> helper(st.device.size(), false);
  for (auto& d : st.device)
    if (d.op >= 0 && d.kind == DevKind::Kernel && !work.count(d.op)) work[d.op] = op_work(st.ops[d.op]);
  for (size_t i = 0; i < st.device.size(); ++i) {
    const DeviceActivity& d = st.device[i];
    if (d.op < 0 || d.kind != DevKind::Kernel) continue;
    const OpWork& w = work[d.op];
    if (w.matrix || w.attention) {
      std::string c = classify_kernel(d.name, st.ops[d.op].name, d.kind);
      helper[i] = !(c == "gemm" || c == "attention");
    }
    if (!helper[i]) {
      kernels_of_op[d.op]++;
      main_dur_of_op[d.op] += d.trace_dur;
    }
  }

  // ---- capture clock correction ----
  // Kernel durations in a profiled capture were taken at the capture's GPU duty cycle (the
  // profiler slows the host, so the GPU idles and boosts its SM clock); the un-profiled step
  // runs denser and hits the power limit. Compute-bound time is scaled by
  // 1 + clock_duty_slowdown * (target duty - capture duty). Memory-bound time is unaffected.
  double capture_busy = 0, capture_t0 = 1e300, capture_t1 = -1e300;
  for (auto& d : st.device) {
    capture_busy += d.trace_dur;
    capture_t0 = std::min(capture_t0, d.trace_ts);
    capture_t1 = std::max(capture_t1, d.trace_ts + d.trace_dur);
  }
  double capture_duty = capture_t1 > capture_t0 ? std::min(1.0, capture_busy / (capture_t1 - capture_t0)) : 1.0;
  double host_total = 0;
  for (auto& h : st.host) host_total += host_cost.item_cost(h);
  double target_duty = capture_busy > 0 ? std::min(1.0, capture_busy / std::max(capture_busy, host_total)) : 1.0;
  double clock_slowdown = opt.mode == ReplayMode::Roofline
                              ? 0.0
                              : hw.p("clock_duty_slowdown") * std::max(0.0, target_duty - capture_duty);
  res.capture_duty = capture_duty;
  res.clock_correction = clock_slowdown;

  // ---- device work items ----
  std::vector<DeviceWork> items(st.device.size());
  res.kernels.resize(st.device.size());
  for (size_t i = 0; i < st.device.size(); ++i) {
    const DeviceActivity& d = st.device[i];
    const OpWork* w = d.op >= 0 && work.count(d.op) ? &work[d.op] : nullptr;
    int nk = d.op >= 0 ? kernels_of_op[d.op] : 1;
    std::string opname = d.op >= 0 ? st.ops[d.op].name : "";
    std::string cls = classify_kernel(d.name, opname, d.kind);
    Roof rt = roof_of(d, w, nk, helper[i], hw);
    double T = 0;
    switch (opt.mode) {
      case ReplayMode::Measured: T = d.trace_dur; break;
      case ReplayMode::Roofline: T = rt.total(hw); break;
      case ReplayMode::Transfer: {
        Roof rs = roof_of(d, w, nk, helper[i], src);
        double ratio;
        if (rs.known && rt.known) {
          ratio = rt.total(hw) / rs.total(src);
        } else {
          // Unknown work: scale by the class's dominant resource.
          bool compute = cls == "gemm" || cls == "attention";
          ratio = compute ? src.peak_flops(Dtype::BF16) / hw.peak_flops(Dtype::BF16)
                          : src.hbm_bandwidth() / hw.hbm_bandwidth();
        }
        T = d.trace_dur * ratio;
        break;
      }
    }
    T = std::max(T, 1e-9);
    if (clock_slowdown > 0 && d.kind == DevKind::Kernel) {
      double compute_share = rt.known ? clamp01(rt.tc / std::max(rt.total(hw), 1e-12))
                                      : (cls == "gemm" || cls == "attention" ? 1.0 : 0.0);
      T *= 1.0 + clock_slowdown * compute_share;
    }
    DeviceWork dw;
    dw.name = d.name;
    dw.cat = cls;
    dw.standalone_s = T;
    if (rt.known) {
      dw.sm_share = clamp01(rt.tc / T);
      dw.hbm_share = clamp01(rt.tm / T);
    } else if (cls == "gemm" || cls == "attention") {
      dw.sm_share = 1.0;
      dw.hbm_share = 0.3;
    } else {
      dw.sm_share = 0.3;
      dw.hbm_share = 0.8;
    }
    if (d.kind == DevKind::Kernel && d.grid > 0)  // a kernel can't use more SMs than it has blocks
      dw.sm_share = std::min(dw.sm_share, static_cast<double>(d.grid) / hw.p("sm_count"));
    if (d.kind == DevKind::Memcpy) {
      if (d.copy_kind == "HtoD") dw.h2d_share = clamp01(d.bytes / T / hw.p("host_link_bandwidth"));
      if (d.copy_kind == "DtoH") dw.d2h_share = clamp01(d.bytes / T / hw.p("host_link_bandwidth"));
    }
    dw.args = {{"op", opname}, {"class", cls}, {"measured_us", d.trace_dur * 1e6}};
    if (rt.known) {
      dw.args["flops"] = rt.flops;
      dw.args["bytes"] = rt.bytes;
    }
    items[i] = std::move(dw);
    KernelRow& row = res.kernels[i];
    row.name = d.name;
    row.kernel_class = cls;
    row.op = opname;
    row.measured_s = d.trace_dur;
    row.flops = rt.flops;
    row.bytes = rt.bytes;
    if (w && !helper[i] && d.op >= 0 && main_dur_of_op[d.op] > 0 && d.trace_dur > 0) {
      // For the efficiency view, an op's work goes to its kernels in proportion to their
      // measured time (a flash-attention backward's main kernel does nearly all the FLOPs).
      double f = d.trace_dur / main_dur_of_op[d.op];
      row.flops = w->flops * f;
      row.bytes = w->bytes * f;
      rt.flops = row.flops;
      rt.bytes = row.bytes;
    }
    // Roofline placement from the kernel's work on the target: which resource bounds it.
    double peak = w && (w->matrix || w->attention) ? hw.peak_flops(w->dtype) : hw.p("peak_fp32");
    double ridge = peak / hw.hbm_bandwidth();
    double ai = rt.bytes > 0 ? rt.flops / rt.bytes : 0;
    double dur = d.trace_dur > 0 ? d.trace_dur : T;
    if (!rt.known || (rt.flops == 0 && rt.bytes == 0)) {
      row.bound = "unknown";
    } else if (rt.total(hw) <= hw.p("min_kernel_time") * 1.0001) {
      row.bound = "latency";
      row.achieved_fraction = ai >= ridge ? rt.flops / dur / peak : rt.bytes / dur / hw.hbm_bandwidth();
    } else if (ai >= ridge) {
      row.bound = "compute";
      row.achieved_fraction = rt.flops / dur / peak;
    } else {
      row.bound = "memory";
      row.achieved_fraction = rt.bytes / dur / hw.hbm_bandwidth();
    }
  }

  // ---- simulation ----
  std::unique_ptr<EventCore> eng = make_engine(opt.engine);
  std::unique_ptr<Timeline> tl;
  if (!opt.timeline_path.empty()) tl = std::make_unique<Timeline>();
  GpuSim gpu(*eng, hw, 0, tl.get());
  std::map<int, int> host_tracks;
  auto host_track = [&](int tid) {
    auto it = host_tracks.find(tid);
    if (it != host_tracks.end()) return it->second;
    std::string tn = st.thread_names.count(tid) ? st.thread_names.at(tid) : "";
    std::string label = "host thread " + std::to_string(tid) + (tn.empty() ? "" : " (" + tn + ")");
    int t = tl ? tl->track("Host", label) : -1;
    host_tracks[tid] = t;
    return t;
  };
  const Ps launch_latency = to_ps(hw.p("launch_latency"));
  const Ps sync_cost = to_ps(hw.p("sync_cost"));
  std::map<int, int> last_stream_of_thread;
  Ps host_end = 0;

  // Host thread(s) replayed as one issuing sequence (PyTorch's main thread blocks while the
  // autograd thread runs backward); each item's runtime calls sit at their relative position.
  struct HostState {
    size_t item = 0, call = 0;
    Ps item_start = 0, cursor = 0;
    double cost = 0;
    double last_frac = 0;
  };
  auto hs = std::make_shared<HostState>();
  std::function<void()> step_host;
  auto finish_item = [&, hs]() {
    const HostItem& h = st.host[hs->item];
    Ps end = hs->cursor + to_ps((1.0 - hs->last_frac) * hs->cost);
    if (tl) {
      nlohmann::json a = {{"host_cost_us", hs->cost * 1e6}};
      tl->slice(host_track(h.tid), h.name, "host", hs->item_start, std::max(end, hs->item_start), a);
    }
    hs->item++;
    hs->call = 0;
    eng->at(end, [&] { step_host(); });
  };
  step_host = [&, hs]() {
    if (hs->item >= st.host.size()) {
      host_end = eng->now();
      return;
    }
    const HostItem& h = st.host[hs->item];
    if (hs->call == 0) {
      hs->item_start = eng->now();
      hs->cursor = eng->now();
      hs->cost = host_cost.item_cost(h);
      hs->last_frac = 0;
      res.host_busy_s += hs->cost;
    }
    if (hs->call >= h.calls.size()) {
      finish_item();
      return;
    }
    const HostCall& c = h.calls[hs->call];
    Ps at = hs->cursor + to_ps(std::max(0.0, c.frac - hs->last_frac) * hs->cost);
    eng->at(at, [&, hs, at] {
      const HostItem& hh = st.host[hs->item];
      const HostCall& cc = hh.calls[hs->call];
      hs->cursor = at;
      hs->last_frac = std::max(hs->last_frac, cc.frac);
      hs->call++;
      auto resume = [&, hs](Ps extra) {
        return [&, hs, extra] {
          hs->cursor = eng->now() + extra;
          eng->at(hs->cursor, [&] { step_host(); });
        };
      };
      switch (cc.kind) {
        case CallKind::Launch: {
          const DeviceActivity& d = st.device[cc.device];
          DeviceWork w = items[cc.device];
          int track = tl ? host_track(hh.tid) : -1;
          Ps launch_t = eng->now();
          last_stream_of_thread[hh.tid] = d.stream;
          bool blocking = d.kind == DevKind::Memcpy && (cc.name == "cudaMemcpy" || (d.copy_kind == "DtoH" && d.copy_pageable));
          int stream = d.stream;
          if (tl) {
            Timeline* tlp = tl.get();
            int stream_track = tlp->track("GPU 0 (" + hw.name + ")", "stream " + std::to_string(stream));
            w.on_start_end = [tlp, track, launch_t, stream_track](Ps s, Ps) { tlp->flow(track, launch_t, stream_track, s); };
          }
          gpu.enqueue(stream, eng->now() + launch_latency, std::move(w));
          if (blocking) {
            gpu.when_stream_idle(stream, resume(sync_cost));
            return;
          }
          break;
        }
        case CallKind::DeviceSync:
          gpu.when_idle(resume(sync_cost));
          return;
        case CallKind::StreamSync:
          if (cc.stream >= 0) gpu.when_stream_idle(cc.stream, resume(sync_cost));
          else gpu.when_idle(resume(sync_cost));
          return;
        case CallKind::EventSync:
          if (cc.wait_on_record >= 0) gpu.when_event(cc.wait_on_record, resume(sync_cost));
          else gpu.when_idle(resume(sync_cost));
          return;
        case CallKind::EventRecord: {
          int s = cc.stream >= 0 ? cc.stream : (last_stream_of_thread.count(hh.tid) ? last_stream_of_thread[hh.tid] : 7);
          gpu.record_event(s, cc.correlation);
          break;
        }
        case CallKind::StreamWaitEvent:
          if (cc.stream >= 0 && cc.wait_on_record >= 0) gpu.wait_event(cc.stream, cc.wait_on_record);
          break;
        case CallKind::Other: break;
      }
      step_host();
    });
  };
  eng->at(0, [&] { step_host(); });
  eng->run();

  Ps end = std::max(gpu.last_end(), host_end);
  res.step_time_s = to_s(end);
  res.gpu_busy_s = gpu.busy_s();
  res.peak_memory_bytes = st.peak_memory_bytes;
  if (st.has_measured) {
    const auto& m = st.measured["step_cuda_events"];
    res.has_measured = true;
    res.measured_step_s = m.value("median_ms", 0.0) * 1e-3;
    res.measured_min_s = m.value("min_ms", res.measured_step_s * 1e3) * 1e-3;
    res.measured_max_s = m.value("max_ms", res.measured_step_s * 1e3) * 1e-3;
    res.error_pct = res.measured_step_s > 0 ? (res.step_time_s - res.measured_step_s) / res.measured_step_s * 100 : 0;
    res.measured_peak_memory_bytes = st.measured.value("max_mem_allocated", 0.0);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    res.kernels[i].simulated_s = items[i].standalone_s;
    res.time_by_class_s[res.kernels[i].kernel_class] += items[i].standalone_s;
  }
  if (tl) tl->write(opt.timeline_path);

  res.config = {
      {"bundle", opt.bundle},
      {"files", {{"et", st.et_path}, {"kineto", st.kineto_path}, {"measured", st.measured_path}}},
      {"mode", res.mode},
      {"engine", opt.engine},
      {"hardware", hw.to_json()},
      {"overrides", opt.overrides},
      {"host_model", "one issuing sequence; per-op dispatch cost from hardware host.dispatch table, else op_overhead + launches x launch_cost + children"},
  };
  if (opt.mode == ReplayMode::Transfer) res.config["source_hardware"] = src.to_json();
  res.sim_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  res.host_items = st.host.size();
  res.events = eng->events_processed();
  return res;
}

nlohmann::json ReplayResult::to_json() const {
  nlohmann::json j;
  j["bundle"] = bundle;
  j["hw"] = hw;
  j["mode"] = mode;
  j["step_time_ms"] = step_time_s * 1e3;
  j["gpu_busy_ms"] = gpu_busy_s * 1e3;
  j["gpu_idle_ms"] = std::max(0.0, step_time_s - gpu_busy_s) * 1e3;
  j["host_busy_ms"] = host_busy_s * 1e3;
  j["capture_gpu_duty"] = capture_duty;
  j["clock_correction"] = clock_correction;
  j["gpu_busy_fraction"] = step_time_s > 0 ? gpu_busy_s / step_time_s : 0;
  if (has_measured) {
    j["measured_step_time_ms"] = measured_step_s * 1e3;
    j["measured_min_ms"] = measured_min_s * 1e3;
    j["measured_max_ms"] = measured_max_s * 1e3;
    j["error_pct"] = error_pct;
    j["within_measured_range"] = step_time_s >= measured_min_s && step_time_s <= measured_max_s;
    j["measured_peak_memory_bytes"] = measured_peak_memory_bytes;
  }
  j["peak_memory_bytes"] = peak_memory_bytes;
  nlohmann::json cls = nlohmann::json::object();
  for (auto& [k, v] : time_by_class_s) cls[k] = v * 1e3;
  j["time_by_class_ms"] = cls;
  nlohmann::json mcls = nlohmann::json::object();
  std::map<std::string, double> mby;
  for (auto& k : kernels) mby[k.kernel_class] += k.measured_s;
  for (auto& [k, v] : mby) mcls[k] = v * 1e3;
  j["measured_kernel_time_by_class_ms"] = mcls;
  // Top kernels by simulated time (aggregated by name).
  std::map<std::string, std::tuple<double, double, int, std::string, std::string>> agg;
  for (auto& k : kernels) {
    auto& a = agg[k.name];
    std::get<0>(a) += k.simulated_s;
    std::get<1>(a) += k.measured_s;
    std::get<2>(a) += 1;
    std::get<3>(a) = k.kernel_class;
    std::get<4>(a) = k.bound;
  }
  std::vector<std::pair<std::string, std::tuple<double, double, int, std::string, std::string>>> v(agg.begin(), agg.end());
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) {
    return std::get<0>(a.second) != std::get<0>(b.second) ? std::get<0>(a.second) > std::get<0>(b.second) : a.first < b.first;
  });
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < v.size() && i < 15; ++i) {
    auto& [name, a] = v[i];
    top.push_back({{"name", name}, {"class", std::get<3>(a)}, {"count", std::get<2>(a)},
                   {"simulated_ms", std::get<0>(a) * 1e3}, {"measured_ms", std::get<1>(a) * 1e3},
                   {"bound", std::get<4>(a)}});
  }
  j["top_kernels"] = top;
  // Roofline view: time by bound and the kernels with the most headroom.
  std::map<std::string, double> by_bound;
  for (auto& k : kernels) by_bound[k.bound] += k.measured_s > 0 ? k.measured_s : k.simulated_s;
  nlohmann::json bb = nlohmann::json::object();
  for (auto& [b, t] : by_bound) bb[b] = t * 1e3;
  j["roofline"]["time_by_bound_ms"] = bb;
  // Efficiency headroom by kernel name: time spent below the roofline peak.
  struct Head {
    double time = 0, headroom = 0, flops = 0, bytes = 0, achieved_weighted = 0;
    int count = 0;
    std::string op, bound;
  };
  std::map<std::string, Head> heads;
  for (auto& k : kernels) {
    if (k.bound != "compute" && k.bound != "memory") continue;
    double t = k.measured_s > 0 ? k.measured_s : k.simulated_s;
    Head& h = heads[k.name];
    h.time += t;
    h.headroom += t * (1 - std::min(1.0, k.achieved_fraction));
    h.flops += k.flops;
    h.bytes += k.bytes;
    h.achieved_weighted += t * k.achieved_fraction;
    h.count++;
    h.op = k.op;
    h.bound = k.bound;
  }
  std::vector<std::pair<std::string, Head>> hv(heads.begin(), heads.end());
  std::sort(hv.begin(), hv.end(), [](auto& a, auto& b) {
    return a.second.headroom != b.second.headroom ? a.second.headroom > b.second.headroom : a.first < b.first;
  });
  nlohmann::json head = nlohmann::json::array();
  for (size_t i = 0; i < hv.size() && i < 10; ++i) {
    const Head& h = hv[i].second;
    head.push_back({{"name", hv[i].first}, {"op", h.op}, {"bound", h.bound}, {"count", h.count},
                    {"arithmetic_intensity", h.bytes > 0 ? h.flops / h.bytes : 0},
                    {"achieved_fraction_of_peak", h.time > 0 ? h.achieved_weighted / h.time : 0},
                    {"measured_us", h.time * 1e6}, {"headroom_us", h.headroom * 1e6}});
  }
  j["roofline"]["top_headroom"] = head;
  j["kernel_count"] = kernels.size();
  j["host_items"] = host_items;
  j["events"] = events;
  return j;
}

}  // namespace orrery
