// Dense explicit-mask form. Deliberately plain: concatenate the cache, build the boolean mask,
// masked softmax with max subtraction (std::exp, element by element), textbook backward
// dS = P o (dP - rowsum(P o dP)). Shares nothing with structured_reference.cpp.
#include "references/dense_reference.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <limits>

namespace attn::ref {

namespace {

using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const Mat>;

}  // namespace

std::vector<bool> dense_mask(const TttInputs& in, int64_t b) {
  const int64_t L = in.shape.L, t = in.shape.t, C = (t + 1) * L;
  const int64_t n = valid_rows(in, b);
  std::vector<bool> mask(static_cast<size_t>(L * C), false);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j <= i; ++j) mask[static_cast<size_t>(i * C + j)] = true;
    for (int64_t m = 1; m <= t; ++m) mask[static_cast<size_t>(i * C + m * L + i)] = true;
  }
  return mask;
}

TttResult dense_reference(const TttInputs& in) {
  validate(in);
  const TttShape& sh = in.shape;
  const int64_t L = sh.L, D = sh.D, T = sh.blocks(), C = T * L;
  const double s = in.scale;
  TttResult res = TttResult::zeros(sh);

  for (int64_t b = 0; b < sh.B; ++b) {
    const std::vector<bool> mask = dense_mask(in, b);
    for (int64_t h = 0; h < sh.H; ++h) {
      const int64_t kvh = h / sh.group();
      const int64_t q_off = (b * sh.H + h) * L * D;
      const int64_t kv_off = (b * sh.Hkv + kvh) * L * D;

      // Concatenated cache [(t + 1) L, D].
      Mat K(C, D), V(C, D);
      for (int64_t m = 0; m < T; ++m) {
        K.middleRows(m * L, L) = ConstMap(in.k[static_cast<size_t>(m)] + kv_off, L, D);
        V.middleRows(m * L, L) = ConstMap(in.v[static_cast<size_t>(m)] + kv_off, L, D);
      }
      const Mat Q = ConstMap(in.q + q_off, L, D);

      // Masked softmax.
      const Mat S = s * Q * K.transpose();
      Mat P = Mat::Zero(L, C);
      Eigen::VectorXd lse = Eigen::VectorXd::Zero(L);
      for (int64_t i = 0; i < L; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t c = 0; c < C; ++c)
          if (mask[static_cast<size_t>(i * C + c)]) mx = std::max(mx, S(i, c));
        if (mx == -std::numeric_limits<double>::infinity()) continue;  // no key: invalid row
        double z = 0.0;
        for (int64_t c = 0; c < C; ++c)
          if (mask[static_cast<size_t>(i * C + c)]) {
            P(i, c) = std::exp(S(i, c) - mx);
            z += P(i, c);
          }
        P.row(i) /= z;
        lse(i) = mx + std::log(z);
      }
      const Mat O = P * V;
      Eigen::Map<Mat>(res.out.data() + q_off, L, D) = O;
      Eigen::Map<Eigen::VectorXd>(res.lse.data() + (b * sh.H + h) * L, L) = lse;

      if (in.grad_out == nullptr) continue;

      // Textbook backward.
      const Mat G = ConstMap(in.grad_out + q_off, L, D);
      const Mat dP = G * V.transpose();
      const Eigen::VectorXd rs = P.cwiseProduct(dP).rowwise().sum();
      const Mat dS = P.cwiseProduct(dP - rs.replicate(1, C));
      Eigen::Map<Mat>(res.dq.data() + q_off, L, D) = s * dS * K;
      const Mat dK = s * dS.transpose() * Q;
      const Mat dV = P.transpose() * G;
      for (int64_t m = 0; m < T; ++m) {
        Eigen::Map<Mat>(res.dk[static_cast<size_t>(m)].data() + kv_off, L, D) +=
            dK.middleRows(m * L, L);
        Eigen::Map<Mat>(res.dv[static_cast<size_t>(m)].data() + kv_off, L, D) +=
            dV.middleRows(m * L, L);
      }
    }
  }
  return res;
}

}  // namespace attn::ref
