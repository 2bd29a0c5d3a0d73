// Running a command the way the converter does (arguments in, output and
// error streams captured), for in-process command tests.
#ifndef TESTS_SUPPORT_RUN_COMMAND_H_
#define TESTS_SUPPORT_RUN_COMMAND_H_

#include <sstream>
#include <string>

#include "absl/status/status.h"

namespace hp::testing {

// What a command printed, and what it returned.
struct Ran {
  absl::Status status;
  std::string out;
  std::string err;
};

template <typename Args, typename Run>
Ran RunCommand(Run run, const Args& args) {
  std::ostringstream out;
  std::ostringstream err;
  Ran ran;
  ran.status = run(args, out, err);
  ran.out = out.str();
  ran.err = err.str();
  return ran;
}

}  // namespace hp::testing

#endif  // TESTS_SUPPORT_RUN_COMMAND_H_
