// Python module `orrery`: replay, train, collective, plan and sweep with the CLI's options as
// keyword arguments (workloads/api.h); results are dicts whose tables (lists of row dicts) load
// straight into pandas.DataFrame. Bad input raises ValueError with orrery's one-line message.
#include <pybind11/pybind11.h>

#include "sim/error.h"
#include "workloads/api.h"
#include "workloads/sweep.h"

namespace py = pybind11;

namespace {

// Keywords become JSON for the API. NaN and infinity are not JSON (json.dumps would write NaN,
// which the parser refuses with its own message): the keyword that holds one is named instead.
nlohmann::json to_json(const py::object& o, const std::string& where = "keywords") {
  py::object dumps = py::module_::import("json").attr("dumps");
  try {
    return nlohmann::json::parse(dumps(o, py::arg("allow_nan") = false).cast<std::string>());
  } catch (const py::error_already_set&) {
  }
  if (py::isinstance<py::dict>(o))
    for (auto item : o.cast<py::dict>()) {
      try {
        dumps(item.second, py::arg("allow_nan") = false);
      } catch (const py::error_already_set&) {
        throw orrery::make_error(where, py::str(item.first).cast<std::string>(),
                                 py::repr(item.second).cast<std::string>() + " is not a finite number, string, list or dict");
      }
    }
  throw orrery::make_error(where, "", "not JSON-serialisable (NaN, infinity or an object)");
}
py::object to_py(const nlohmann::json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

py::object call(const char* command, const py::kwargs& kw) {
  nlohmann::json opts = to_json(kw, command);
  nlohmann::json r;
  {
    py::gil_scoped_release nogil;
    r = orrery::api::run(command, opts);
  }
  return to_py(r);
}

// sweep(spec, output, jobs=1, csv=None, report=None): spec is a dict (the sweep file's JSON) or a
// path. Returns {"rows": [...], "points", "done", "skipped", "failed", "csv", "report"}.
py::object sweep(const py::object& spec, const std::string& output, int jobs, py::object csv, py::object report) {
  orrery::sweep::Spec s = py::isinstance<py::str>(spec) ? orrery::sweep::load_spec(spec.cast<std::string>())
                                                        : orrery::sweep::parse_spec(to_json(spec), "sweep spec");
  std::vector<orrery::sweep::Point> pts = orrery::sweep::make_points(s);
  orrery::sweep::RunOptions o;
  o.output = output;
  o.jobs = jobs;
  o.progress = false;
  orrery::sweep::RunStats st;
  std::vector<nlohmann::json> rows;
  {
    py::gil_scoped_release nogil;
    st = orrery::sweep::run(s, pts, o);
    rows = orrery::sweep::read_results(output);
  }
  nlohmann::json j = {{"rows", rows}, {"points", pts.size()}, {"done", st.done}, {"skipped", st.skipped}, {"failed", st.failed}};
  if (!csv.is_none()) { orrery::sweep::write_csv(s, rows, csv.cast<std::string>()); j["csv"] = csv.cast<std::string>(); }
  if (!report.is_none()) { orrery::sweep::write_report(s, rows, report.cast<std::string>()); j["report"] = report.cast<std::string>(); }
  return to_py(j);
}

}  // namespace

PYBIND11_MODULE(orrery, m) {
  m.doc() = "orrery: simulate accelerator clusters (keyword options = the CLI flags without dashes, '-' as '_')";
  py::register_exception<orrery::Error>(m, "Error", PyExc_ValueError);
  m.def("train", [](const py::kwargs& kw) { return call("train", kw); },
        "One training iteration: train(model='llama3-8b', system='dgx-h100', nodes=1, tp=1, pp=1, dp=8, "
        "global_batch=64, micro_batch=1, ...). Returns iteration_time_s, mfu, breakdown, energy_j, cost_usd, ... "
        "and tables memory_per_stage, layer_kernels.");
  m.def("replay", [](const py::kwargs& kw) { return call("replay", kw); },
        "Replay a capture bundle: replay(bundle='examples/bundles/gpt_b', hw='h100', mode='roofline', ...). "
        "Table: kernels.");
  m.def("collective", [](const py::kwargs& kw) { return call("collective", kw); },
        "Collective(s): collective(op='all_reduce', system='dgx-h100', minbytes='8', maxbytes='1G', stepfactor=2). "
        "Table: rows (one per size).");
  m.def("plan", [](const py::kwargs& kw) { return call("plan", kw); },
        "Plan search: plan(model='llama3-70b', system='dgx-h100', gpus=64, global_batch=128, top=5). Table: plans.");
  m.def("sweep", &sweep, py::arg("spec"), py::arg("output"), py::arg("jobs") = 1, py::arg("csv") = py::none(),
        py::arg("report") = py::none(),
        "Run a sweep (dict like a sweep file, or its path); results stream to `output` (JSONL, resumable). Table: rows.");
}
