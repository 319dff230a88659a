// Fuzz target: `isolated serve` flag parsing (parseServeOptions). The input is split at NUL
// bytes into arguments; lines of the form NAME=VALUE after a lone "--env" argument become
// environment variables, so flags and their ISOLATED_* fallbacks are both exercised.
#include <map>
#include <string>
#include <vector>

#include "cli/serve_options.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string current;
  bool inEnv = false;
  auto finish = [&] {
    if (current == "--env") {
      inEnv = true;
    } else if (inEnv) {
      auto eq = current.find('=');
      if (eq != std::string::npos) env[current.substr(0, eq)] = current.substr(eq + 1);
    } else {
      args.push_back(current);
    }
    current.clear();
  };
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      finish();
    } else {
      current += static_cast<char>(data[i]);
    }
  }
  if (!current.empty()) finish();
  isolated::EnvLookup lookup = [&env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  isolated::EnvList list = [&env] {
    return std::vector<std::pair<std::string, std::string>>(env.begin(), env.end());
  };
  // One flag table for the run (building it costs far more than a parse; parses do not affect
  // each other).
  static isolated::ServeOptionParser parser(2);
  (void)parser.parse(args, lookup, list);
  return 0;
}
