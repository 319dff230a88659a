// The binding flags of `isolated ctl deploy`: --kv, --database and --storage NAME=URL and
// --service NAME=APP, repeatable, as the config file's `kv`, `databases`, `storage` and
// `services` keys. ctl makes relative paths absolute against its own working directory and
// otherwise sends the text as given: the server validates every binding (so a bad one is the
// server's refusal, exit 1, with the same message a JSON client gets). Pure, unit-tested.
#pragma once

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace isolated {

// What the flags said, kind by kind. A kind with at least one flag replaces the app's bindings
// of that kind; a kind with none keeps them (docs/bindings.md).
struct DeployBindingFlags {
  std::vector<std::string> kv;
  std::vector<std::string> databases;
  std::vector<std::string> storage;
  std::vector<std::string> services;
  bool any() const {
    return !kv.empty() || !databases.empty() || !storage.empty() || !services.empty();
  }
};

void addDeployBindingOptions(cxxopts::OptionAdder& adder);

// The flags of `result`, in order, with relative SQLite and directory paths made absolute.
DeployBindingFlags deployBindingFlags(const cxxopts::ParseResult& result);

// Adds the request's "kv", "databases", "storage" and "services" arrays for the kinds named.
void addDeployBindings(const DeployBindingFlags& flags, nlohmann::json& request);

}  // namespace isolated
