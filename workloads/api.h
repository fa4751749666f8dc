#pragma once
// Keyword API of the simulators, shared by `orrery sweep` and the Python module: options as a JSON
// object whose keys are the CLI flags without dashes, '-' spelled '_' (tp, micro_batch,
// global_batch, sequence_parallel, ...); GPU / system / power what-ifs either as lists
// ("set": ["hbm_bandwidth=4.8TB/s"]) or one key each ("set.hbm_bandwidth": "4.8TB/s",
// "sys_set.nvlink_bandwidth": "50GB/s", "power_set.pue": 1.3). Values are numbers, strings or
// booleans. Unknown keys are an Error naming the key. Results are JSON objects: scalar metrics at
// the top (iteration_time_s, mfu, energy_j, cost_usd, ...) and tables as arrays of row objects
// (pandas.DataFrame(result["rows"])). Every run goes through the library (run_training,
// replay_bundle, simulate_collective, search_plans) with the event engine.
#include <string>

#include <nlohmann/json.hpp>

namespace orrery::api {

nlohmann::json train(const nlohmann::json& kw);
nlohmann::json replay(const nlohmann::json& kw);
// One size ("bytes": 1e9 or "1G") or a nccl-tests sweep ("minbytes"/"maxbytes"/"stepfactor", also
// "b"/"e"/"f"): the summary of the largest size at the top, every size in "rows".
nlohmann::json collective(const nlohmann::json& kw);
nlohmann::json plan(const nlohmann::json& kw);
// command: "train", "replay", "collective", "plan".
nlohmann::json run(const std::string& command, const nlohmann::json& kw);

}  // namespace orrery::api
