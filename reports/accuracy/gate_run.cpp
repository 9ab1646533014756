#include "reports/accuracy/gate_run.hpp"

namespace attn::report {

int GateRun::judged_tensors() const {
  int n = 0;
  for (const auto& c : cases)
    if (c.comparison) n += c.comparison->judged();
  return n;
}

int GateRun::failed_tensors() const {
  int n = 0;
  for (const auto& c : cases)
    if (c.comparison) n += int(c.comparison->failed_tensors().size());
  return n;
}

int GateRun::failed_cases() const {
  int n = 0;
  for (const auto& c : cases) n += c.comparison && !c.comparison->passed;
  return n;
}

int GateRun::error_cases() const {
  int n = 0;
  for (const auto& c : cases) n += !c.comparison;
  return n;
}

int GateRun::exit_code() const {
  const bool errors = error_cases() > 0, failures = failed_cases() > 0;
  return errors && failures ? 3 : errors ? 2 : failures ? 1 : 0;
}

}  // namespace attn::report
