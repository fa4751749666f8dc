#pragma once
// The per-rank workload graph: what every front end (PyTorch capture, Chakra, the LLM training
// generator) produces and the one cluster executor (sim/executor.h) runs on the hardware and
// fabric models. Kernel-free: plain data plus validation.
//
// One RankGraph per simulated rank: nodes in program order, each on a stream of that rank's
// GPU, with dependencies on earlier nodes of the same rank. A node on a stream also follows the
// previous node of that stream (CUDA in-order stream semantics). Node kinds map one to one onto
// Chakra's node types:
//   Compute     COMP_NODE          a kernel or fused block: standalone time on its GPU and the
//                                  share of SMs / HBM it uses at that speed (costed by the front end)
//   Collective  COMM_COLL_NODE     op, bytes (nccl-tests convention), group; `repeat` identical
//                                  collectives back to back (latency paid each time)
//   Send, Recv  COMM_SEND/RECV     point to point, matched by (src, dst, tag); rendezvous
//   Delay       METADATA / host    time that occupies no device resource (host work, dispatch)
//   Alloc, Free MEM_LOAD/STORE     memory accounting (bytes), no time
// A node on a negative stream is host-side: a Collective/Send/Recv there holds no GPU stream
// (a CPU collective, e.g. gloo), and Delays chained on one such stream model a host thread.
// Groups are global rank lists. Symmetry: when the front end simulates one rank per class of
// provably identical ranks, `Group::mirrors` and `Node::mirror_pairs` list the images of the
// group / of the point-to-point transfer, which the executor runs in lockstep on the fabric so
// the links carry the whole job's traffic.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "workloads/collective.h"
#include "workloads/interned_name.h"

namespace orrery::wg {

enum class Kind { Compute, Collective, Send, Recv, Delay, Alloc, Free };
const char* kind_name(Kind k);

struct Node {
  Kind kind = Kind::Compute;
  int stream = 0;
  coll::Op op = coll::Op::AllReduce;
  int group = -1;           // Collective: index into Workload::groups
  int repeat = 1;           // Collective: identical collectives back to back
  int peer = -1;            // Send: destination rank; Recv: source rank
  int mirror_pairs = -1;    // Send: index into Workload::p2p_mirrors (symmetry), -1 none
  bool graph_node = false;  // Compute: a CUDA graph launch's kernel after its first: it follows the
                            // previous one by graph_node_gap, not kernel_gap (capture replay)
  Name name;                // interned (workloads/interned_name.h): a million nodes name a few
  Name cls;                 // hundred things; report class: gemm, attention, ..., tp, cp, ep, pp, dp
  double time_s = 0;        // Compute: standalone time on this rank's GPU; Delay: duration
  double sm_share = 1.0;    // Compute: fraction of the SMs at that speed
  double hbm_share = 0.0;   // Compute: fraction of HBM bandwidth at that speed
  double h2d_share = 0.0, d2h_share = 0.0;  // Compute (a copy): fraction of the host link per direction
  double flops = 0;         // Compute: for reports
  double bytes = 0;         // Compute: HBM bytes; Collective/Send/Recv: message; Alloc/Free: size
  std::int64_t tag = 0;     // Send/Recv
  double issue_delay_s = 0; // on a GPU stream: issued this long after deps[0] (its host launch
                            // point) completes: a kernel launch's latency (capture replay)
  std::vector<std::int32_t> deps;  // earlier nodes of the same rank
};

struct RankGraph {
  int rank = 0;  // global rank
  std::vector<Node> nodes;
  // A replica shares the nodes of Workload::ranks[copy_of] (itself no replica; `nodes` stays
  // empty): the same work, with each collective's group g replaced by group_map's (g, own) pair
  // where there is one. Memory then grows with distinct ranks, not with the world size.
  int copy_of = -1;
  std::vector<std::pair<int, int>> group_map;  // sorted by the first (the shared node's group)
};

struct Group {
  std::string name;                       // "tp", "dp", "pp", ... (reports)
  std::vector<int> ranks;                 // global ranks, in collective order
  std::vector<std::vector<int>> mirrors;  // symmetric images run in lockstep (symmetry only)
};

struct Workload {
  std::string name;
  int world = 0;                    // ranks of the job
  std::vector<Group> groups;
  std::vector<RankGraph> ranks;     // simulated ranks (all of them, or one per symmetry class)
  std::vector<std::vector<std::pair<int, int>>> p2p_mirrors;  // images of a Send (src, dst)
  bool symmetric = false;           // ranks hold one representative per class

  // Index of the group with these ranks (and name), creating it.
  int group(const std::string& name, const std::vector<int>& ranks);
  std::size_t node_count() const;
  // Rank i's nodes (a replica's: the shared ones) and the group of its collective node n.
  const std::vector<Node>& nodes_of(std::size_t i) const;
  int group_of(std::size_t i, const Node& n) const;
  // Rank i as a graph of its own (a replica's nodes copied with their groups replaced).
  RankGraph materialized(std::size_t i) const;
  // Structure check: deps point to earlier nodes, groups/peers exist, every simulated member of a
  // group reaches the same collectives in the same order with the same op and size, every Send
  // has a Recv. Throws Error "where: rank R node N (name): what".
  void validate(const std::string& where) const;

 private:
  std::map<std::pair<std::string, std::vector<int>>, int> group_index_;
};

}  // namespace orrery::wg
