// Environment bindings for the script: plain variables (--var, --vars-file) and secrets
// (--secret, --secrets-file). The supervisor loads them at start and again on every reload
// (files are re-read), and hands them to each worker over its channel (ipc Configure), never
// on a command line or in an environment. A script sees them as `env` (module syntax) or as
// globals (service-worker syntax), so every name must be a JavaScript identifier.
//
// Secrets are values like any other to the worker; the supervisor keeps them out of logs,
// status output and process arguments. Errors name the source and the binding, never a value.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace isolated {

struct Binding {
  std::string name;
  // A string variable or secret: the text itself. A JSON variable (a non-string value in
  // --vars-file): its JSON text, parsed again in the worker.
  std::string value;
  bool json = false;
  bool secret = false;
};

// Where the bindings come from: inline pairs (flags and ISOLATED_VAR_* / ISOLATED_SECRET_*
// variables, in order) and optional JSON files. Inline pairs win over file entries of the same
// kind; a name may not be both a variable and a secret.
struct BindingSources {
  std::vector<std::pair<std::string, std::string>> vars;
  // Inline variables whose value is JSON text (a config file's non-string `vars` entries).
  std::vector<std::pair<std::string, std::string>> jsonVars;
  std::vector<std::pair<std::string, std::string>> secrets;
  std::string varsFile;
  std::string secretsFile;
  bool operator==(const BindingSources&) const = default;
};

// Bounds, so that a worker's Configure message stays small and every worker's copy is cheap.
constexpr size_t kMaxBindings = 1000;
constexpr size_t kMaxBindingNameBytes = 256;
constexpr size_t kMaxBindingBytes = 1u << 20;  // names and values of all bindings together

// Whether `name` is an ASCII JavaScript identifier that is not a reserved word.
bool isBindingName(const std::string& name);

// Reads the files and merges everything, sorted by name. On failure returns nullopt with
// `error` set to a message that names the file or flag and the binding.
std::optional<std::vector<Binding>> loadBindings(const BindingSources& sources, std::string& error);

}  // namespace isolated
