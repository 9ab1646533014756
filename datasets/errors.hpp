// Errors raised at the input boundary (files, datasets, options). The CLI maps InputError to
// exit code 2 and prints what(), which names the file or dataset, what was expected and found.
#pragma once

#include <stdexcept>
#include <string>

namespace attn::data {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace attn::data
