// Component models (sim/components): the cluster's GPUs, NICs and switches, models attached in
// place of the built-in capacities (kernel-free), the SystemC shells and TLM-2.0 bridge with the
// worked HBM-controller example (examples/components), and the executor's link-utilisation
// counters in the Perfetto timeline.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unistd.h>

#include "examples/components/hbm_controller.h"
#include "examples/components/overlap_workload.h"
#include "sim/components/component.h"
#include "sim/components/sc_components.h"
#include "sim/error.h"
#include "sim/executor.h"
#include "sim/network.h"
#include "support/errors.h"
#include "topology/topology.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace components_test {

using namespace orrery;
using orrery::syn::error_of;

namespace {

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

struct Rig {
  topo::System sys = topo::load_system("dgx-h100");
  Accelerator hw = load_accelerator(sys.accelerator);
  wg::Workload w = hbm_example::overlap_workload(8, 6);
  ExecResult go(EventCore& core, ExecOptions opt = {}) {
    std::vector<RankHardware> rh(w.ranks.size(), RankHardware{&hw, 1.0});
    return execute(w, sys, rh, core, opt);
  }
};

// Returns the nominal capacity unchanged, counting how often it was asked.
struct Identity : comp::Model {
  int calls = 0;
  std::set<std::string> kinds;
  double capacity(const comp::Load& l) override {
    ++calls;
    kinds.insert(comp::kind_name(l.kind));
    return l.nominal;
  }
};

std::string run_cmd(const std::string& cmd) {
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, f)) out += buf;
  int rc = pclose(f);
  return "rc=" + std::to_string(rc) + "\n" + out;
}

double makespan_of(const std::string& out) {
  auto p = out.find("makespan_s ");
  return p == std::string::npos ? -1 : std::stod(out.substr(p + 11));
}

}  // namespace

TEST(Components, HubListsEveryGpuNicAndSwitch) {
  topo::System sys = topo::load_system("dgx-h100");
  EventCore core;
  net::Network n(sys.topo, core);
  comp::Hub hub(n, core);
  std::map<std::string, int> count;
  for (auto& c : hub.components()) ++count[comp::kind_name(c.kind)];
  topo::Summary s = sys.topo.summary();
  EXPECT_EQ(count["gpu"], s.gpus);
  EXPECT_EQ(count["nic"], s.nics);
  EXPECT_EQ(count["switch"], s.switches + s.nvswitches);
  EXPECT_EQ(core.fluid().resource_count(), 0u);  // nothing created until a model is attached
  EXPECT_FALSE(hub.has_models());
}

TEST(Components, AttachNamesTheComponentAndRefusesSharedResources) {
  topo::System sys = topo::load_system("h100-cluster", 2);
  EventCore core;
  net::Network n(sys.topo, core);
  comp::Hub hub(n, core);
  auto m = std::make_shared<Identity>();
  std::string e = error_of([&] { hub.attach("no-such-gpu", m); });
  EXPECT_TRUE(contains(e, "component: no-such-gpu:")) << e;
  std::string gpu0 = sys.topo.vertex(sys.topo.gpus[0]).name;
  EXPECT_EQ(hub.attach(gpu0, m), 1);
  EXPECT_EQ(hub.attach("nic", m), sys.topo.summary().nics);
  // A switch's egress link into a NIC is already the NIC's: one model per resource.
  e = error_of([&] { hub.attach("switch", m); });
  EXPECT_TRUE(contains(e, "already has a model")) << e;
}

TEST(Components, BadModelCapacityIsOneError) {
  struct Zero : comp::Model {
    double capacity(const comp::Load&) override { return 0; }
  };
  Rig r;
  EventCore core;
  ExecOptions opt;
  opt.components = [](comp::Hub& h) { h.attach("gpu", std::make_shared<Zero>()); };
  std::string e = error_of([&] { r.go(core, opt); });
  EXPECT_TRUE(contains(e, "component: ")) << e;
  EXPECT_TRUE(contains(e, "must be finite and greater than zero")) << e;
}

// Kernel-free: an identity model changes nothing; the HBM controller model slows the overlapped
// steps (kernels and collective copies share HBM), and a lone kernel by its peak efficiency only.
TEST(Components, KernelFreeModelReplacesTheBuiltInCapacity) {
  Rig r;
  EventCore c0, c1, c2;
  double base = r.go(c0).makespan_s;
  auto id = std::make_shared<Identity>();
  ExecOptions o1;
  o1.components = [&](comp::Hub& h) {
    h.attach("gpu", id);
    h.attach("switch", id);  // dgx-h100: one node, its NVSwitches (no NICs)
  };
  EXPECT_DOUBLE_EQ(r.go(c1, o1).makespan_s, base);
  EXPECT_GT(id->calls, 0);
  EXPECT_TRUE(id->kinds.count("gpu"));
  EXPECT_TRUE(id->kinds.count("switch"));
  ExecOptions o2;
  o2.components = [](comp::Hub& h) { h.attach("gpu", std::make_shared<hbm_example::HbmEfficiency>()); };
  double slowed = r.go(c2, o2).makespan_s;
  EXPECT_GT(slowed, base * 1.005);
  EXPECT_EQ(hbm_example::efficiency({}, 1), 0.92);
  EXPECT_NEAR(hbm_example::efficiency({}, 3), 0.92 / 1.3, 1e-12);
}

// SystemC (this test runs the kernel, in its own process): every component is an sc_module, the
// TLM-2.0 controller behind the bridge is woken through the shells' sc_events, and the answer
// equals the kernel-free model's on the event engine.
TEST(Components, SystemCShellsAndTlmControllerMatchTheKernelFreeModel) {
  Rig r;
  EventCore ev;
  ExecOptions ko;
  ko.components = [](comp::Hub& h) { h.attach("gpu", std::make_shared<hbm_example::HbmEfficiency>()); };
  double kernel_free = r.go(ev, ko).makespan_s;

  auto sc = make_engine("systemc");
  auto* ctrl = new hbm_example::HbmController("hbm_controller");
  auto bridge = std::make_shared<comp::TlmBridge>("hbm_bridge");
  bridge->socket.bind(ctrl->socket);
  comp::Hub* seen = nullptr;
  ExecOptions so;
  so.components = [&](comp::Hub& h) {
    h.attach("gpu", bridge);
    seen = &h;
  };
  ExecResult res = r.go(*sc, so);
  EXPECT_NEAR(res.makespan_s, kernel_free, 1e-5 * kernel_free);
  EXPECT_GT(ctrl->transactions, 0u);
  EXPECT_EQ(ctrl->transactions, bridge->transactions());
  ASSERT_NE(seen, nullptr);
  // The shells: one sc_module per GPU, NIC and switch under "cluster", GPUs woken by sc_events.
  sc_core::sc_object* cluster = sc_core::sc_find_object("cluster");
  ASSERT_NE(cluster, nullptr);
  std::map<std::string, int> kinds;
  std::uint64_t gpu_wakeups = 0;
  for (auto* o : cluster->get_child_objects()) {
    auto* m = dynamic_cast<comp::ComponentModule*>(o);
    if (!m) continue;
    ++kinds[m->kind()];
    if (std::string(m->kind()) == "orrery_gpu") gpu_wakeups += m->wakeups();
  }
  topo::Summary s = r.sys.topo.summary();
  EXPECT_EQ(kinds["orrery_gpu"], s.gpus);
  EXPECT_EQ(kinds["orrery_nic"], s.nics);
  EXPECT_EQ(kinds["orrery_switch"], s.switches + s.nvswitches);
  EXPECT_GT(gpu_wakeups, 0u);
}

// The worked example as a user runs it: both engines agree, and the controller slows the step.
TEST(Components, WorkedExampleProgram) {
  std::string bin = ORRERY_EXAMPLE_HBM;
  std::string a = run_cmd(bin + " --engine systemc --model hbm");
  std::string b = run_cmd(bin + " --engine event --model hbm");
  std::string c = run_cmd(bin + " --engine systemc --model builtin");
  ASSERT_TRUE(contains(a, "rc=0") && contains(b, "rc=0") && contains(c, "rc=0")) << a << b << c;
  EXPECT_TRUE(contains(a, "tlm_transactions")) << a;
  EXPECT_NEAR(makespan_of(a), makespan_of(b), 1e-5 * makespan_of(b));
  EXPECT_GT(makespan_of(a), 1.005 * makespan_of(c));
  EXPECT_TRUE(contains(run_cmd(bin + " --model nope"), "--model: nope: expected builtin or hbm"));
}

// Link-utilisation counters: "ph":"C" tracks for the hottest links (at most the configured
// number), values in [0, 1], and a link that carried the all-reduces is busy part of the time.
TEST(Components, TimelineHasLinkUtilisationCounters) {
  Rig r;
  EventCore core;
  Timeline tl;
  tl.link_counters = 5;
  ExecOptions o;
  o.timeline = &tl;
  ExecResult res = r.go(core, o);
  nlohmann::json j = tl.to_json();
  int pid = -1;
  for (auto& e : j["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "process_name" && e["args"]["name"] == "link utilisation") pid = e["pid"];
  ASSERT_GE(pid, 0);
  std::map<std::string, std::vector<double>> series;
  for (auto& e : j["traceEvents"]) {
    if (e["ph"] != "C") continue;
    if (e["pid"] != pid) continue;
    std::string name = e["name"];
    double v = e["args"][name];
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
    series[name].push_back(v);
  }
  EXPECT_EQ(series.size(), 5u);
  ASSERT_FALSE(res.hottest_links.empty());
  ASSERT_TRUE(series.count(res.hottest_links[0].name)) << res.hottest_links[0].name;
  auto& hot = series[res.hottest_links[0].name];
  double mx = *std::max_element(hot.begin(), hot.end());
  EXPECT_GT(mx, 0.2);       // saturated while an all-reduce runs
  EXPECT_EQ(hot.back(), 0);  // idle at the end
  std::set<double> distinct(hot.begin(), hot.end());
  EXPECT_GE(distinct.size(), 2u);
  Timeline none;
  none.link_counters = 0;
  EventCore c2;
  o.timeline = &none;
  r.go(c2, o);
  EXPECT_FALSE(contains(none.to_json().dump(), "link utilisation"));
}

namespace {
double iteration_of(const std::string& out) {
  auto p = out.find("iteration_time_s");
  return p == std::string::npos ? -1 : std::stod(out.substr(out.find_first_not_of(' ', p + 16)));
}
}  // namespace

// The example as a plugin from the command line: `--component gpu=LIB.so` on train (SystemC:
// the TLM controller; event engine: the kernel-free model; the same answer), and its errors.
TEST(Components, PluginFromTheCommandLine) {
  std::string bin = ORRERY_BINARY, plugin = ORRERY_HBM_PLUGIN;
  std::string train = bin + " train --model llama3-8b --system dgx-h100 --tp 8 --dp 1 --micro-batch 1 --global-batch 2 --seq 2048";
  std::string base = run_cmd(train + " --engine systemc");
  std::string sc = run_cmd(train + " --engine systemc --component gpu=" + plugin);
  std::string ev = run_cmd(train + " --engine event --component gpu=" + plugin);
  ASSERT_TRUE(contains(base, "rc=0") && contains(sc, "rc=0") && contains(ev, "rc=0")) << base << sc << ev;
  double b = iteration_of(base), s = iteration_of(sc), e = iteration_of(ev);
  EXPECT_GT(s, b) << sc;
  EXPECT_NEAR(s, e, 2e-3 * e);  // printed to 4 digits
  std::string bad = run_cmd(train + " --component gpu");
  EXPECT_TRUE(contains(bad, "orrery train: error: --component: gpu: expected TARGET=LIB.so")) << bad;
  bad = run_cmd(train + " --component gpu=/nonexistent/lib.so");
  EXPECT_TRUE(contains(bad, "--component: gpu=/nonexistent/lib.so: cannot load the plugin library")) << bad;
  bad = run_cmd(train + " --component nosuch=" + plugin);
  EXPECT_TRUE(contains(bad, "orrery train: error: component: nosuch: no GPU, NIC or switch")) << bad;
}

}  // namespace components_test
