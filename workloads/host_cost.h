#pragma once
// Host cost of a captured step (kernel-free): the CPU time each op takes to issue, without the
// profiler. The profiled durations in a trace are 5-7x the un-profiled ones, so they are not used;
// instead a host dispatch table (back-to-back microbenchmarks, validation/capture/host_micro.py)
// prices what it measured, and the trace's structure prices the rest:
//   cost(op) = table(op) + its autocast casts (aten::to/_to_copy children: the table measured the
//              op without autocast; not under a cast itself, whose _to_copy the table's
//              aten::to_dtype entry ran) + the zeroed scratch below it (aten::zeros: host_micro.py
//              measures tiny shapes, where PyTorch's kernels need none; channels-last batch norm
//              zeroes cross-block semaphores whenever its grid spans several block rows,
//              Normalization.cuh) when the table has the op, else
//              max(op_overhead + launches x launch_cost + sum of children's costs, optimizer(op))
//   optimizer(op) = a + b x (parameters in the step's tensor lists) for Optimizer.step#AdamW/SGD,
//              from the table's 16- and 128-parameter steps;
// and in a training step (one with a backward pass: an autograd engine node, or in a trace that
// records below the engine, as orrery emulate's, a *_backward aten op) every autograd node the
// forward records adds autograd::record_per_op: recording the autograd graph, measured as an op
// on an input that requires grad minus the same op on one that does not. The nodes are the
// distinct autograd sequence numbers of the forward's ops (ET seq_id, Kineto "Sequence number":
// an op peeks the number the next node takes, so a node's number is charged to the last
// top-level op that carries it); a composite such as linear under autocast records one node per
// cast, view, t and addmm below it (gpt_a: 506 nodes for 240 top-level ops, the 506 non-leaf
// nodes its backward evaluates). A trace without sequence numbers (orrery emulate's, which records
// below autograd and composites) counts each aten op the forward calls from Python (a top-level
// op, or the aten ops under a Python-level wrapper such as DistributedDataParallel.forward).
// (Taking the larger of the table and all children's costs instead over-predicted decode's host
// time by 50% on a VM whose table was measured in the capture's process: a nested op does not pay
// the Python binding that each table entry, called from Python, includes.)
// Which table: the preset's `host.dispatch`, or, when the replay runs on the capture's GPU and the
// bundle has a host_dispatch.json (the host that ran the capture, measured by capture.py), the
// preset's scaled by that host's speed: the median ratio bundle / preset over the entries both have
// (so are op_overhead and launch_cost), plus the entries only the bundle has. Host speed differs
// between machines of the same GPU by 1.4x and more, while single entries of two tables measured
// minutes apart on one machine differ by up to 40%: the median of ~60 ratios is the robust part.
#include <map>
#include <string>
#include <vector>

#include "hw_models/accelerator.h"
#include "workloads/pytorch_trace.h"

namespace orrery {

// The host dispatch table one replay prices host work with.
struct HostTable {
  std::map<std::string, double> dispatch;  // seconds per call, by "op/dtype"
  double op_overhead = 0, launch_cost = 0;  // seconds
  std::string source = "preset";            // "preset" or the bundle's host_dispatch.json path
  double speed_ratio = 1;                   // bundle / preset, median over shared entries
  double autograd_record = 0;               // seconds per forward op of a training step
  int shared = 0;                           // entries both tables have
};

// The preset's table, or (use_bundle and the capture has one) the capture host's.
HostTable host_table_for(const CapturedStep& st, const Accelerator& hw, bool use_bundle);

// Host cost model for one capture on one host table.
class HostCostModel {
 public:
  HostCostModel(const CapturedStep& st, const Accelerator& hw, bool use_bundle_table = false);
  // Host time of op `i` including its children and the launches it makes.
  double op_cost(int i) const;
  // Host time of a host item (top-level op, or a loose runtime call).
  double item_cost(const HostItem& h) const;
  // Which table key (if any) priced op i; "" when none.
  std::string table_key(int i) const;
  const HostTable& table() const { return table_; }

 private:
  double table_cost(int i) const;      // 0 when no entry
  double recursive_cost(int i) const;  // own + launches + children
  double optimizer_cost(int i) const;  // 0 unless an optimizer step the table prices
  // Children of a table-priced op that the table's measurement did not run: autocast's casts
  // (aten::to/_to_copy children: the table measured the op without autocast) and zeroed scratch.
  double unmeasured_children(int i) const;
  // `aten::zeros` anywhere below op i: scratch a kernel zeroes only above the table's tiny shapes
  // (channels-last batch norm's cross-block semaphores when its grid spans several block rows).
  double zeroed_scratch(int i) const;
  int count_recorded(int i) const;     // aten ops at Python level in op i's subtree (op i included)
  // Autograd sequence numbers in op i's subtree: last[seq] = top (the top-level op it lies under).
  void collect_seqs(int i, int top, std::map<std::int64_t, int>& last) const;
  void find_training_forward();         // recorded_ for the top-level ops before the backward
  const CapturedStep& st_;
  HostTable table_;
  std::vector<int> direct_launches_;
  std::vector<int> recorded_;  // per top-level op of a training forward: ops that record autograd
  mutable std::vector<double> memo_;
};

}  // namespace orrery
