#include "kernels/flash_backend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include <c10/core/GradMode.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/graph_task.h>

#include "kernels/detail/flash_block0.hpp"
#include "kernels/detail/singleton_merge.hpp"
#include "kernels/detail/ttt_rows.hpp"
#include "kernels/mutants.hpp"
#include "kernels/registry.hpp"

namespace attn::kern {
namespace {

using detail::Block0Kernel;
using detail::MergeImpl;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Everything the Function needs besides the differentiable inputs.
struct FlashArgs {
  int64_t t = 0;
  double scale = 0.0;
  std::vector<int64_t> rows;  ///< valid rows n_b
  Block0Kernel block0 = Block0Kernel::composed;
  MergeImpl merge = MergeImpl::composed;
  FlashOptions::Defect defect = FlashOptions::Defect::none;  ///< mutants only
  std::string* variant = nullptr;  ///< filled by forward when set
};

using Defect = FlashOptions::Defect;

/// The merge-internal hooks of a defect (the others act in FlashTttFunction or in apply()).
detail::MergeDefects merge_defects(Defect d) {
  detail::MergeDefects m;
  m.accumulate_in_input_dtype = d == Defect::bf16_merge;
  m.dk_first_group_head = d == Defect::dk_first_group_head;
  m.keep_invalid_rows = d == Defect::unmasked_invalid_rows;
  m.scores_in_input_dtype = d == Defect::bf16_singleton_scores;
  return m;
}

/// The scale the singleton scores use: 1 for the unscaled-singletons mutant, whose backward is
/// then the exact gradient of its (wrong) forward.
double singleton_scale(const FlashArgs& a) {
  return a.defect == Defect::unscaled_singletons ? 1.0 : a.scale;
}

// The autograd graph of one step (t >= 1), built so that no backward node returns more than
// one block's gradients at a time (the peak memory of a T-step training backward then holds
// one block's dk and dv beyond the accumulated gradients, not 2 t of them). Two shapes:
//
// Per step (apply() without FlashSharedBlocks):
//   x_m = SingletonGradFunction(k_m, v_m)    m = 1..t   (forward: an empty tensor)
//   out, lse = FlashTttFunction(q, k_0, v_0, x_1..x_t)
// FlashTttFunction computes block 0 and the merge (reading k_m, v_m from the step's shared
// state) and, in its backward, dq (block 0 + singletons) and dk_0, dv_0; it hands grad_out to
// the shared state and an empty gradient to each x_m. Autograd then runs SingletonGradFunction
// m, which returns dk_m and dv_m (one merge launch per block). The engine runs a node's
// successors before older nodes (by sequence number), so block m's gradients are accumulated
// before the previous step starts.
//
// Shared blocks (apply() with FlashSharedBlocks, the training step):
//   x_m = SharedBlockFunction(k_m, v_m)      m = 1..T-1, ONE node per block for all steps
//   out_t, lse_t = FlashTttFunction(q_t, k_0, v_0, x_1..x_t)   per step t
// Each step's backward computes dq and, for every block m whose edge the current graph task
// needs, writes its dk_m, dv_m contribution into block m's BlockAccumulator (the first step of
// the graph task overwrites it, later ones add: with the fused CUDA merge all in ONE launch
// over q, grad_out, out and lse; composed: block by block). The engine runs SharedBlockFunction
// m only after every step of the graph task that reads x_m (dependency counting), and it hands
// the accumulated dk_m, dv_m to autograd once. No step holds fresh block gradients beyond the
// one buffer per block that autograd would hold anyway.

/// One singleton block's gradients accumulated over the steps of one backward pass.
struct BlockAccumulator : torch::CustomClassHolder {
  at::Tensor dk, dv;  ///< [B, Hkv, L, D] input dtype (acc type of the composed merge's inputs)
  int64_t task = -1;  ///< the graph task (get_current_graph_task_id) that wrote dk, dv
};

/// One step's state, shared by its nodes. Tensors are detached aliases: holding the step's own
/// output with its autograd history here would form a reference cycle through the nodes.
/// Version checks happen where the tensors are also saved: q, k_0, v_0, out and lse in
/// FlashTttFunction, k_m and v_m in SingletonGradFunction.
struct StepState : torch::CustomClassHolder {
  FlashArgs args;
  detail::Block0Forward block0;     ///< kernel state for the block-0 backward
  std::vector<at::Tensor> k, v;     ///< blocks 0..t (block 0 unused here)
  at::Tensor q, out, out_for_delta, lse;
  at::Tensor g;                     ///< grad_out as received (invalid rows are not read), set by the backward
  int64_t pending = 0;              ///< singleton nodes still to run in this backward
  /// Shared blocks: the accumulator of each block m = 1..t (index m; empty otherwise).
  std::vector<c10::intrusive_ptr<BlockAccumulator>> acc;
  bool shared() const { return !acc.empty(); }
};

at::IValue capsule(const c10::intrusive_ptr<StepState>& s) { return at::IValue::make_capsule(s); }

StepState& state_of(AutogradContext* ctx) {
  return *static_cast<StepState*>(ctx->saved_data["state"].toCapsule().get());
}

/// Inputs: k_m, v_m of one singleton block. Output: an empty tensor that carries block m's
/// gradient edge into FlashTttFunction.
struct SingletonGradFunction : torch::autograd::Function<SingletonGradFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& k_m, const at::Tensor& v_m,
                            const c10::intrusive_ptr<StepState>& state, int64_t m) {
    state->k[size_t(m)] = k_m.detach();
    state->v[size_t(m)] = v_m.detach();
    ctx->save_for_backward({k_m, v_m});
    ctx->saved_data["state"] = capsule(state);
    ctx->saved_data["m"] = m;
    return at::empty({0}, k_m.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list /*grads*/) {
    StepState& st = state_of(ctx);
    const int64_t m = ctx->saved_data["m"].toInt();
    const variable_list saved = ctx->get_saved_variables();  // the version check of k_m, v_m
    TORCH_CHECK(st.g.defined(), "flash: the gradient of singleton block ", m,
                " was requested without the step's backward");
    const FlashArgs& a = st.args;
    const detail::BlockGrads gr = detail::merge_backward_block(
        a.merge, m, st.q, st.k, st.v, st.g, st.out_for_delta, st.lse, a.rows, singleton_scale(a),
        merge_defects(a.defect));
    if (--st.pending <= 0) st.g = at::Tensor();  // the last block of this backward
    return {gr.dk, gr.dv, at::Tensor(), at::Tensor()};
  }
};

/// Inputs: k_m, v_m of one singleton block, shared by every step of a training step that reads
/// it. Output: an empty tensor that carries block m's gradient edge into each step's
/// FlashTttFunction. Backward: the block's accumulated dk_m, dv_m (BlockAccumulator).
struct SharedBlockFunction : torch::autograd::Function<SharedBlockFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& k_m, const at::Tensor& v_m,
                            const c10::intrusive_ptr<BlockAccumulator>& acc, int64_t m) {
    ctx->save_for_backward({k_m, v_m});
    ctx->saved_data["acc"] = at::IValue::make_capsule(acc);
    ctx->saved_data["m"] = m;
    return at::empty({0}, k_m.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list /*grads*/) {
    const variable_list saved = ctx->get_saved_variables();  // the version check of k_m, v_m
    auto& acc = *static_cast<BlockAccumulator*>(ctx->saved_data["acc"].toCapsule().get());
    at::Tensor dk, dv;
    if (acc.task == torch::autograd::get_current_graph_task_id() && acc.dk.defined()) {
      dk = std::move(acc.dk);
      dv = std::move(acc.dv);
    } else {
      // No step of this graph task wrote the block. Not expected (the engine runs this node
      // only after a step that needs its edge), but zero is then the right gradient.
      dk = at::zeros_like(saved[0]);
      dv = at::zeros_like(saved[1]);
    }
    acc.dk = at::Tensor();
    acc.dv = at::Tensor();
    acc.task = -1;
    return {dk, dv, at::Tensor(), at::Tensor()};
  }
};

/// Inputs: [q, k_0, v_0, x_1..x_t]. Outputs: out (input dtype) and lse (accumulation type).
struct FlashTttFunction : torch::autograd::Function<FlashTttFunction> {
  static variable_list forward(AutogradContext* ctx, at::TensorList inputs,
                               const c10::intrusive_ptr<StepState>& state) {
    StepState& st = *state;
    const FlashArgs& a = st.args;
    const at::Tensor& q = inputs[0];
    st.k[0] = inputs[1].detach();
    st.v[0] = inputs[2].detach();
    st.block0 = detail::block0_forward(a.block0, q, st.k[0], st.v[0], a.rows, a.scale);
    // The lse-log2 mutant: a kernel's base-2 LSE (lse * log2(e)) taken for a natural one.
    const at::Tensor lse0_for_merge = a.defect == Defect::lse_log2_as_ln
                                          ? st.block0.lse0 * (1.0 / std::log(2.0))
                                          : st.block0.lse0;
    // Only the own-LSE and block0-delta mutants read block 0's own output after the merge, so
    // the merge may overwrite it otherwise.
    const bool keep_out0 = a.defect == Defect::block0_own_lse ||
                           a.defect == Defect::block0_own_lse_unweighted ||
                           a.defect == Defect::singleton_delta_from_block0;
    const detail::MergeForward merged =
        detail::merge_forward(a.merge, q, st.k, st.v, st.block0.out0, lse0_for_merge, a.rows,
                              singleton_scale(a), merge_defects(a.defect), !keep_out0);
    if (!keep_out0) st.block0.out0 = at::Tensor();
    if (a.variant) {
      std::string bwd;
      if (a.merge == MergeImpl::fused_cuda && a.t >= 1)
        bwd = st.shared() ? "; singleton backward=one launch per step"
                          : "; singleton backward=one launch per block";
      *a.variant = "block0=" + detail::to_string(a.block0) + " (lse " + st.block0.lse_layout +
                   "); merge=" + detail::to_string(a.merge) + bwd +
                   (a.defect != Defect::none ? "; MUTANT " + to_string(a.defect) : "");
    }

    st.q = q.detach();
    st.out = merged.out.detach();
    // The bf16-merged-lse mutant: the backward reads the merged LSE rounded to the input dtype
    // (bf16 in training; the forward's lse output keeps full precision).
    const at::Tensor lse_for_backward =
        a.defect == Defect::bf16_merged_lse
            ? merged.lse.to(q.scalar_type()).to(merged.lse.scalar_type())
            : merged.lse;
    st.lse = lse_for_backward.detach();
    // The block0-delta mutant: the singletons take delta = g . out0, block 0's own output.
    st.out_for_delta = a.defect == Defect::singleton_delta_from_block0
                           ? st.block0.out0.to(q.scalar_type())
                           : st.out;
    ctx->save_for_backward({q, inputs[1], inputs[2], merged.out, lse_for_backward});
    ctx->saved_data["state"] = capsule(state);
    ctx->mark_non_differentiable({merged.lse});
    return {merged.out, merged.lse};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    StepState& st = state_of(ctx);
    const FlashArgs& a = st.args;
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k0 = saved[1], &v0 = saved[2], &out = saved[3], &lse = saved[4];
    const int64_t L = q.size(2);

    // The contract ignores grad_out on invalid rows (the last t rows of every sequence at
    // least). Instead of a zeroed copy of grad_out, block 0 gets lse = +inf there, so
    // p_ij = exp(a_ij - lse_i) = 0 and the rows contribute exactly nothing (out = 0 there makes
    // delta_i = 0 as well); the singleton code skips invalid rows itself.
    const bool all_valid =
        std::all_of(a.rows.begin(), a.rows.end(), [L](int64_t n) { return n == L; });
    const at::Tensor valid = detail::valid_row_mask(a.rows, L, q.device());  // [B, 1, L]
    at::Tensor g = grads[0].defined() ? grads[0] : at::zeros_like(out);

    // Block 0 under the merged normaliser: p_ij = exp(a_ij - lse_i), delta_i = g_i . out_i.
    const detail::Block0Forward& b0 = st.block0;
    detail::Block0Grads g0;
    if (a.defect == Defect::block0_own_lse || a.defect == Defect::block0_own_lse_unweighted) {
      // The shipped bug: block 0's own out and LSE. Autograd through the merge hands block 0's
      // output the gradient w0 g (w0 = exp(lse0 - lse)) and its LSE a gradient the kernel's
      // backward ignored; the unweighted variant also drops w0. grad_out is zeroed on invalid
      // rows (the bug fed no +inf there).
      if (!all_valid) g = g.masked_fill(valid.logical_not().unsqueeze(-1), 0.0);
      at::Tensor g_block0 = g;
      if (a.defect == Defect::block0_own_lse) {
        const at::Tensor w0 = at::exp(b0.lse0.to(lse.scalar_type()) - lse);
        g_block0 = (g.to(lse.scalar_type()) * w0.unsqueeze(-1)).to(q.scalar_type());
      }
      g0 = detail::block0_backward(b0, q, k0, v0, g_block0, b0.out0.to(q.scalar_type()), b0.lse0,
                                   a.scale);
    } else {
      const at::Tensor lse_b0 =
          all_valid ? lse : at::where(valid, lse, std::numeric_limits<double>::infinity());
      g0 = detail::block0_backward(b0, q, k0, v0, g, out, lse_b0, a.scale);
    }
    const at::ScalarType dtype = q.scalar_type();
    variable_list r;
    if (st.shared()) {
      r.push_back(shared_singleton_backward(ctx, st, g, lse, g0.dq));
    } else {
      if (a.defect == Defect::no_singleton_dq)
        r.push_back(g0.dq.to(dtype));
      else
        r.push_back(detail::merge_backward_dq(a.merge, q, st.k, st.v, g, st.out_for_delta, lse,
                                              a.rows, singleton_scale(a), g0.dq,
                                              merge_defects(a.defect)));
      // The singleton nodes take grad_out from the state.
      st.g = g;
      st.pending = a.t;
    }
    r.push_back(g0.dk.to(dtype));
    r.push_back(g0.dv.to(dtype));
    // The blocks' edges get an empty gradient (their nodes find dk_m, dv_m themselves).
    for (int64_t m = 1; m <= a.t; ++m) r.push_back(at::empty({0}, k0.options()));
    r.emplace_back();  // the state
    return r;
  }

  /// Shared blocks: dq of the step, and every needed block's dk_m, dv_m written (first step of
  /// this graph task) or added into its BlockAccumulator.
  static at::Tensor shared_singleton_backward(AutogradContext* ctx, StepState& st,
                                              const at::Tensor& g, const at::Tensor& lse,
                                              const at::Tensor& dq0) {
    const FlashArgs& a = st.args;
    const at::ScalarType dtype = st.q.scalar_type();
    const int64_t task = torch::autograd::get_current_graph_task_id();
    std::vector<bool> needed(size_t(a.t + 1), false), accumulate(size_t(a.t + 1), false);
    for (int64_t m = 1; m <= a.t; ++m) {
      // Input 2 + m is x_m; an edge the graph task does not need is skipped.
      needed[size_t(m)] = ctx->needs_input_grad(size_t(2 + m));
      const BlockAccumulator& acc = *st.acc[size_t(m)];
      accumulate[size_t(m)] = acc.task == task && acc.dk.defined() && acc.dv.defined();
    }
    if (a.merge == MergeImpl::fused_cuda) {
      // Fused: dq and every block in one launch, straight into the blocks' buffers.
      detail::BlockGradBuffers buf;
      for (int64_t m = 1; m <= a.t; ++m) {
        BlockAccumulator& acc = *st.acc[size_t(m)];
        if (needed[size_t(m)] && !accumulate[size_t(m)]) {
          acc.dk = grad_buffer_like(st.k[size_t(m)]);
          acc.dv = grad_buffer_like(st.v[size_t(m)]);
          acc.task = task;
        }
        buf.dk.push_back(needed[size_t(m)] ? acc.dk : at::Tensor());
        buf.dv.push_back(needed[size_t(m)] ? acc.dv : at::Tensor());
        buf.accumulate.push_back(accumulate[size_t(m)]);
      }
      return detail::merge_backward_step_fused(st.q, st.k, st.v, g, st.out_for_delta, lse, a.rows,
                                               singleton_scale(a), dq0, buf);
    }
    // Composed (the CPU, mutants): the per-block computation of the per-step graph, each
    // block's contribution added into its buffer as autograd would add it.
    at::Tensor dq = a.defect == Defect::no_singleton_dq
                        ? dq0.to(dtype)
                        : detail::merge_backward_dq(a.merge, st.q, st.k, st.v, g, st.out_for_delta,
                                                    lse, a.rows, singleton_scale(a), dq0,
                                                    merge_defects(a.defect));
    for (int64_t m = 1; m <= a.t; ++m) {
      if (!needed[size_t(m)]) continue;
      const detail::BlockGrads gr = detail::merge_backward_block(
          a.merge, m, st.q, st.k, st.v, g, st.out_for_delta, lse, a.rows, singleton_scale(a),
          merge_defects(a.defect));
      BlockAccumulator& acc = *st.acc[size_t(m)];
      if (accumulate[size_t(m)]) {
        acc.dk.add_(gr.dk);
        acc.dv.add_(gr.dv);
      } else {
        acc.dk = gr.dk;
        acc.dv = gr.dv;
        acc.task = task;
      }
    }
    return dq;
  }

  /// A gradient buffer for block tensor x: x's layout when its last dimension is contiguous
  /// (what the fused kernel needs), else contiguous.
  static at::Tensor grad_buffer_like(const at::Tensor& x) {
    at::Tensor b = at::empty_like(x);
    return b.stride(-1) == 1 ? b : at::empty(x.sizes(), x.options());
  }
};

}  // namespace

// ---- FlashSharedBlocks ----

struct FlashSharedBlocks::Impl {
  struct Block {
    at::Tensor x;  ///< SharedBlockFunction's output; its grad_fn is the block's one node
    c10::intrusive_ptr<BlockAccumulator> acc;
    /// Identity of the k_m, v_m the node was built on (weak: the ctx keeps no tensor alive).
    using WeakImpl = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;
    std::optional<WeakImpl> k, v;
    int64_t k_version = 0, v_version = 0;
  };
  std::vector<Block> blocks;  ///< index m - 1; x undefined: block m not seen yet

  /// Block m's edge for a step reading k_m, v_m; creates the block's node at its first use.
  at::Tensor edge(int64_t m, const at::Tensor& k_m, const at::Tensor& v_m,
                  c10::intrusive_ptr<BlockAccumulator>* acc) {
    if (int64_t(blocks.size()) < m) blocks.resize(size_t(m));
    Block& b = blocks[size_t(m - 1)];
    if (b.x.defined()) {
      const auto same = [](const std::optional<Block::WeakImpl>& w, const at::Tensor& x,
                           int64_t version) {
        if (!w) return false;
        const auto locked = w->lock();
        return locked.defined() && locked.get() == x.unsafeGetTensorImpl() && x._version() == version;
      };
      TORCH_CHECK(same(b.k, k_m, b.k_version) && same(b.v, v_m, b.v_version),
                  "flash: FlashSharedBlocks: singleton block ", m,
                  " is not the tensor (or was modified in place since) the step that first read "
                  "it was given; pass the same k[m], v[m] tensors to every step of one training "
                  "step, and use a new FlashSharedBlocks for each training step");
    } else {
      b.acc = c10::make_intrusive<BlockAccumulator>();
      b.x = SharedBlockFunction::apply(k_m, v_m, b.acc, m);
      b.k.emplace(k_m.getIntrusivePtr());
      b.v.emplace(v_m.getIntrusivePtr());
      b.k_version = k_m._version();
      b.v_version = v_m._version();
    }
    *acc = b.acc;
    return b.x;
  }
};

FlashSharedBlocks::FlashSharedBlocks() : impl_(std::make_unique<Impl>()) {}
FlashSharedBlocks::~FlashSharedBlocks() = default;

int64_t FlashSharedBlocks::shared_blocks() const {
  return int64_t(std::count_if(impl_->blocks.begin(), impl_->blocks.end(),
                               [](const Impl::Block& b) { return b.x.defined(); }));
}

// ---- FlashBackend ----

FlashBackend::FlashBackend(FlashOptions options, std::string name)
    : options_(options), name_(std::move(name)) {}

std::string FlashBackend::description() const {
  if (options_.defect != Defect::none) return "MUTANT of flash: " + describe(options_.defect);
  const std::string rest = " + fp32 singleton merge; custom backward with the merged LSE";
  switch (options_.block0) {
    case FlashOptions::Block0::fa2:
      return "flash with FA2 on block 0 (on the CPU the CPU flash kernel, as flash)" + rest;
    case FlashOptions::Block0::cudnn: return "flash with cuDNN on block 0 (CUDA only)" + rest;
    case FlashOptions::Block0::composed: return "flash with composed ATen ops on block 0" + rest;
    case FlashOptions::Block0::varlen: return "flash with FA2 varlen on block 0" + rest;
    case FlashOptions::Block0::automatic: break;
  }
  return "flash kernel on block 0 (returns LSE; CUDA: cuDNN where available, else FA2)" + rest;
}

Support FlashBackend::supports(const data::CaseConfig& config, const at::Device& device) const {
  if (config.H % config.Hkv != 0)
    return {false, "unsupported: H " + std::to_string(config.H) + " is not a multiple of Hkv " +
                       std::to_string(config.Hkv)};
  if (options_.block0 == FlashOptions::Block0::cudnn && !device.is_cuda())
    return {false, "unsupported: the cuDNN block-0 kernel runs on CUDA only"};
  if (device.is_cuda() && options_.block0 != FlashOptions::Block0::composed) {
    if (config.dtype != data::DType::bf16)
      return {false, "unsupported: dtype " + data::to_string(config.dtype) +
                         " on cuda (the flash kernel takes bf16 and f16 only)"};
    if (config.D % 8 != 0)
      return {false, "unsupported: head_dim " + std::to_string(config.D) +
                         " is not a multiple of 8 (flash kernel)"};
    if (config.D > 256)
      return {false, "unsupported: head_dim " + std::to_string(config.D) +
                         " is above 256 (flash kernel)"};
  }
  if (device.is_cuda() && !cuda_available())
    return {false, "unsupported: no CUDA device in this process"};
  if (device.is_cuda() && options_.block0 == FlashOptions::Block0::cudnn && config.L >= 2) {
    std::string why;
    if (!detail::cudnn_block0_available(device, at::kBFloat16, config.B, config.H, config.L,
                                        config.D, &why))
      return {false, "unsupported: cuDNN block-0 kernel: " + why};
  }
  return {};
}

std::vector<at::Tensor> FlashBackend::apply(const at::Tensor& q, const std::vector<at::Tensor>& k,
                                            const std::vector<at::Tensor>& v,
                                            const std::vector<int64_t>& valid_len, double scale,
                                            const FlashOptions& options, std::string* variant,
                                            FlashSharedBlocks* shared) {
  TORCH_CHECK(!k.empty() && k.size() == v.size(), "flash: need t + 1 k and v blocks");
  const Defect defect = options.defect;
  const int64_t t_case = int64_t(k.size()) - 1;
  if (defect != Defect::none) {
    // Mutants that read the wrong cache, as differentiable views of the inputs (autograd
    // takes their backward to the true blocks, as in a training script with that bug).
    std::vector<at::Tensor> kk(k), vv(v);
    FlashOptions rest = options;
    rest.defect = Defect::none;
    rest.merge = FlashOptions::Merge::composed;  // the fused kernels stay out of every mutant
    if (defect == Defect::drop_newest_block && t_case > 0) {
      kk.pop_back();
      vv.pop_back();
    } else if (defect == Defect::gqa_tiled && k[0].size(1) != q.size(1)) {
      const int64_t G = q.size(1) / k[0].size(1);
      for (auto& x : kk) x = x.repeat({1, G, 1, 1});
      for (auto& x : vv) x = x.repeat({1, G, 1, 1});
    } else if (defect == Defect::singleton_prev_position) {
      const int64_t L = q.size(2);
      const at::Tensor prev = at::arange(L, at::TensorOptions().dtype(at::kLong).device(q.device()))
                                  .sub_(1)
                                  .clamp_min_(0);
      for (size_t m = 1; m < kk.size(); ++m) {
        kk[m] = kk[m].index_select(2, prev);
        vv[m] = vv[m].index_select(2, prev);
      }
    } else {
      rest.defect = defect;  // acts inside the Function
    }
    if (rest.defect == Defect::none) {
      // The mutant's views are new tensors at every call: no sharing across steps.
      std::vector<at::Tensor> res =
          apply_rows(q, kk, vv, valid_len, t_case, scale, rest, variant, nullptr);
      if (variant) *variant += "; MUTANT " + to_string(defect);
      return res;
    }
    return apply_rows(q, kk, vv, valid_len, t_case, scale, rest, variant, shared);
  }
  return apply_rows(q, k, v, valid_len, t_case, scale, options, variant, shared);
}

std::vector<at::Tensor> FlashBackend::apply_rows(const at::Tensor& q,
                                                 const std::vector<at::Tensor>& k,
                                                 const std::vector<at::Tensor>& v,
                                                 const std::vector<int64_t>& valid_len,
                                                 int64_t t_case, double scale,
                                                 const FlashOptions& options,
                                                 std::string* variant, FlashSharedBlocks* shared) {
  FlashArgs a;
  a.t = int64_t(k.size()) - 1;
  a.scale = scale;
  a.defect = options.defect;
  // Valid rows follow the case's t, also when a mutant passes fewer blocks.
  a.rows = detail::valid_rows(valid_len, q.size(2),
                              a.defect == Defect::varlen_full_length ? 0 : t_case);
  detail::Block0Preference pref = detail::Block0Preference::automatic;
  switch (options.block0) {
    case FlashOptions::Block0::automatic: pref = detail::Block0Preference::automatic; break;
    case FlashOptions::Block0::composed: pref = detail::Block0Preference::composed; break;
    case FlashOptions::Block0::varlen: pref = detail::Block0Preference::varlen; break;
    case FlashOptions::Block0::fa2: pref = detail::Block0Preference::fa2; break;
    case FlashOptions::Block0::cudnn: pref = detail::Block0Preference::cudnn; break;
  }
  TORCH_CHECK(options.block0 != FlashOptions::Block0::cudnn || q.is_cuda(),
              "flash: the cuDNN block-0 kernel runs on CUDA only");
  a.block0 = detail::choose_block0(q, valid_len, a.rows, pref);
  switch (a.defect != Defect::none ? FlashOptions::Merge::composed : options.merge) {
    case FlashOptions::Merge::composed: a.merge = MergeImpl::composed; break;
    case FlashOptions::Merge::fused_cuda: a.merge = MergeImpl::fused_cuda; break;
    case FlashOptions::Merge::automatic:
      a.merge = detail::fused_merge_available(q, k[0].size(1), a.t) ? MergeImpl::fused_cuda
                                                                     : MergeImpl::composed;
      break;
  }
  a.variant = variant;
  auto state = c10::make_intrusive<StepState>();
  state->args = a;
  state->k.resize(k.size());
  state->v.resize(v.size());
  std::vector<at::Tensor> inputs{q, k[0], v[0]};
  // Shared blocks only where a graph is recorded (without one there is no backward to share).
  if (shared && a.t >= 1 && c10::GradMode::is_enabled()) {
    state->acc.resize(size_t(a.t + 1));
    for (int64_t m = 1; m <= a.t; ++m) {
      state->k[size_t(m)] = k[size_t(m)].detach();
      state->v[size_t(m)] = v[size_t(m)].detach();
      inputs.push_back(shared->impl().edge(m, k[size_t(m)], v[size_t(m)], &state->acc[size_t(m)]));
    }
  } else {
    for (int64_t m = 1; m <= a.t; ++m)
      inputs.push_back(SingletonGradFunction::apply(k[size_t(m)], v[size_t(m)], state, m));
  }
  return FlashTttFunction::apply(at::TensorList(inputs), state);
}

TorchOutputs FlashBackend::run(const TorchCase& c) const {
  c10::AutoGradMode grad_mode(true);
  const int64_t t = c.config.t;
  std::vector<at::Tensor> leaves{c.q.detach().requires_grad_(true)};
  std::vector<at::Tensor> k, v;
  for (int64_t m = 0; m <= t; ++m) k.push_back(c.k[m].detach().requires_grad_(true));
  for (int64_t m = 0; m <= t; ++m) v.push_back(c.v[m].detach().requires_grad_(true));
  leaves.insert(leaves.end(), k.begin(), k.end());
  leaves.insert(leaves.end(), v.begin(), v.end());

  TorchOutputs o;
  // One step of a training step: its blocks through the shared-block graph (the training path).
  FlashSharedBlocks shared;
  const std::vector<at::Tensor> res =
      apply(leaves[0], k, v, c.valid_len_host, c.scale, options_, &o.variant, &shared);
  // allow_unused: the drop-newest mutant never reads block t (its gradient is then zero).
  auto grads = torch::autograd::grad({res[0]}, leaves, {c.grad_out}, /*retain_graph=*/std::nullopt,
                                     /*create_graph=*/false, /*allow_unused=*/true);
  for (size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].defined()) grads[i] = at::zeros_like(leaves[i]);
  o.out = res[0].detach();
  o.lse = res[1].detach();
  o.dq = grads[0];
  for (int64_t m = 0; m <= t; ++m) o.dk.push_back(grads[size_t(1 + m)]);
  for (int64_t m = 0; m <= t; ++m) o.dv.push_back(grads[size_t(2 + t + m)]);
  return o;
}

}  // namespace attn::kern
