// The only place the event engine touches SystemC: one SC_METHOD woken by a timed sc_event.
#include <exception>
#include <systemc>

#include "sim/engine.h"
#include "sim/error.h"

namespace orrery {

struct SystemCEngine::Module : public sc_core::sc_module {
  EventCore* core;
  sc_core::sc_event wake;
  SC_HAS_PROCESS(Module);
  Module(sc_core::sc_module_name name, EventCore* c) : sc_core::sc_module(name), core(c) {
    SC_METHOD(tick);
    sensitive << wake;
    dont_initialize();
  }
  std::exception_ptr failure;
  // Runs one step of the model; an exception (a model error, a time out of range) stops the
  // kernel and is rethrown after sc_start() returns, so SystemC never turns it into its own
  // multi-line report and the user sees the one orrery line.
  template <class Fn>
  void guarded(Fn fn) {
    try {
      fn();
    } catch (...) {
      failure = std::current_exception();
      sc_core::sc_stop();
    }
  }
  void notify_next(Ps now) {
    Ps next = core->next_time();
    if (next >= 0) wake.notify(sc_core::sc_time(static_cast<double>(next - now), sc_core::SC_PS));
  }
  void tick() {
    Ps now = static_cast<Ps>(sc_core::sc_time_stamp().value());
    guarded([&] {
      core->process_at_public(now);
      notify_next(now);
    });
  }
  void start_of_simulation() override {
    guarded([&] { notify_next(0); });
  }
};

namespace {
bool g_engine_made = false;
}

SystemCEngine::SystemCEngine() {
  if (g_engine_made)
    throw Error("internal: SystemC cannot run two simulations in one process (one engine per process)");
  g_engine_made = true;
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  // (the kernel's "Info: /OSCI/SystemC: Simulation stopped by user." when a model error stops it:
  // the error is the one line the user sees)
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  // Kernel errors are thrown (and become one orrery line in run()), not printed as reports.
  sc_core::sc_report_handler::set_actions(sc_core::SC_ERROR, sc_core::SC_THROW);
  sc_core::sc_report_handler::set_actions(sc_core::SC_FATAL, sc_core::SC_THROW);
  sc_core::sc_set_time_resolution(1, sc_core::SC_PS);
  module_ = new Module("orrery_engine", this);
}

SystemCEngine::~SystemCEngine() = default;

void SystemCEngine::fail(std::exception_ptr e) {
  if (!module_->failure) module_->failure = e;
  sc_core::sc_stop();
}

void SystemCEngine::reschedule() {
  module_->notify_next(static_cast<Ps>(sc_core::sc_time_stamp().value()));
}

void SystemCEngine::run() {
  try {
    sc_core::sc_start();
  } catch (const sc_core::sc_report& r) {
    throw Error(std::string("SystemC kernel: ") + r.get_msg());
  }
  if (module_->failure) std::rethrow_exception(module_->failure);
}

}  // namespace orrery

// libsystemc's own main() calls sc_main; orrery has its own main() and drives the kernel through
// sc_start(), so this entry point is never used, but the shared library needs the symbol.
int sc_main(int, char**) { return 0; }
