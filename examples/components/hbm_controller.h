#pragma once
// Worked example of a user component model (docs/components.md): an HBM controller whose
// sustained bandwidth falls as more streams (kernels, collective copies) share it, because their
// accesses interleave and conflict in the row buffers.
//
//   efficiency(n) = peak_efficiency / (1 + row_conflict * (n - 1))      n = concurrent streams
//
// The arithmetic is kernel-free (HbmEfficiency, usable as an orrery::comp::Model on any engine);
// HbmController is the same model as a SystemC TLM-2.0 loosely-timed target, as a hardware team
// would write it: b_transport annotates the time a burst takes. Plug it in with a TlmBridge.
#include <algorithm>
#include <cstdint>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "sim/components/component.h"
#include "sim/components/sc_components.h"

namespace hbm_example {

struct HbmParams {
  double peak_efficiency = 0.92;  // refresh and read/write turnaround, one stream
  double row_conflict = 0.15;     // lost per extra concurrent stream
  double burst_latency_s = 0;     // fixed time per transaction (TLM delay only)
};

inline double efficiency(const HbmParams& p, std::size_t streams) {
  double extra = streams > 1 ? static_cast<double>(streams - 1) : 0.0;
  return p.peak_efficiency / (1.0 + p.row_conflict * extra);
}

// Kernel-free: capacity of a GPU's HBM = nominal x efficiency(streams); SMs unchanged.
class HbmEfficiency : public orrery::comp::Model {
 public:
  explicit HbmEfficiency(HbmParams p = {}) : p_(p) {}
  double capacity(const orrery::comp::Load& l) override {
    if (l.resource != "hbm") return l.capacity;
    return l.nominal * efficiency(p_, l.activities);
  }

 private:
  HbmParams p_;
};

// The same controller as a TLM-2.0 target. It reads the load from the orrery LoadExtension when
// the initiator attaches one (the TlmBridge does) and assumes one stream otherwise.
class HbmController : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<HbmController> socket;
  HbmController(sc_core::sc_module_name name, HbmParams p = {}) : sc_core::sc_module(name), socket("socket"), p_(p) {
    socket.register_b_transport(this, &HbmController::b_transport);
  }
  std::uint64_t transactions = 0;

 private:
  void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    ++transactions;
    std::size_t streams = 1;
    double nominal = 3.35e12;  // H100 HBM3 when no load is attached
    if (auto* e = t.get_extension<orrery::comp::LoadExtension>()) {
      streams = std::max<std::size_t>(1, e->load.activities);
      nominal = e->load.nominal;
    }
    double s = p_.burst_latency_s + t.get_data_length() / (nominal * efficiency(p_, streams));
    delay += sc_core::sc_time(s, sc_core::SC_SEC);
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  HbmParams p_;
};

}  // namespace hbm_example
