// Loading and validating the script's variables and secrets.
#include "common/bindings.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <map>

#include "common/read_file.h"

namespace isolated {

namespace {

// ECMAScript reserved words and the strict-mode ones: none can be a global binding name.
constexpr std::array kReserved = {
    "await",    "break",   "case",       "catch",     "class",     "const",  "continue",
    "debugger", "default", "delete",     "do",        "else",      "enum",   "export",
    "extends",  "false",   "finally",    "for",       "function",  "if",     "implements",
    "import",   "in",      "instanceof", "interface", "let",       "new",    "null",
    "package",  "private", "protected",  "public",    "return",    "static", "super",
    "switch",   "this",    "throw",      "true",      "try",       "typeof", "var",
    "void",     "while",   "with",       "yield",     "arguments", "eval",   "undefined"};

bool identStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

// Adds one binding, checking its name and the kind clash; `origin` names where it came from.
bool add(std::map<std::string, Binding>& out, Binding binding, const std::string& origin,
         std::string& error) {
  if (!isBindingName(binding.name)) {
    error = origin + ": '" + binding.name.substr(0, kMaxBindingNameBytes) +
            "' is not a valid binding name (a JavaScript identifier of at most " +
            std::to_string(kMaxBindingNameBytes) + " ASCII characters, not a reserved word)";
    return false;
  }
  auto it = out.find(binding.name);
  if (it != out.end() && it->second.secret != binding.secret) {
    error = origin + ": '" + binding.name + "' is defined both as a variable and as a secret";
    return false;
  }
  out[binding.name] = std::move(binding);
  return true;
}

// Reads a JSON object file. Secrets must be strings; variables may be any JSON value.
bool addFile(std::map<std::string, Binding>& out, const std::string& path, bool secret,
             std::string& error) {
  const std::string origin = std::string(secret ? "--secrets-file " : "--vars-file ") + path;
  std::string readError;
  auto text = readFile(path, readError);
  if (!text) {
    error = origin + ": " + readError;
    return false;
  }
  if (text->size() > kMaxBindingBytes * 2) {
    error = origin + ": the file is larger than " + std::to_string(kMaxBindingBytes * 2) + " bytes";
    return false;
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(*text);
  } catch (const nlohmann::json::parse_error& e) {
    // The parser's message quotes no input for secrets files beyond a position, but keep it
    // to the byte offset to be sure no secret text reaches a log.
    error = origin + ": not valid JSON (at byte " + std::to_string(e.byte) + ")";
    return false;
  }
  if (!doc.is_object()) {
    error = origin + ": expected a JSON object of NAME: value, got a " + doc.type_name();
    return false;
  }
  for (auto& [name, value] : doc.items()) {
    Binding binding{name, {}, false, secret};
    if (value.is_string()) {
      binding.value = value.get<std::string>();
    } else if (secret) {
      error = origin + ": secret '" + name + "' must be a string, got a " + value.type_name();
      return false;
    } else {
      binding.value = value.dump();
      binding.json = true;
    }
    if (!add(out, std::move(binding), origin, error)) return false;
  }
  return true;
}

}  // namespace

bool isBindingName(const std::string& name) {
  if (name.empty() || name.size() > kMaxBindingNameBytes) return false;
  if (!identStart(static_cast<unsigned char>(name[0]))) return false;
  for (unsigned char c : name) {
    if (!identStart(c) && !(c >= '0' && c <= '9')) return false;
  }
  return std::find(kReserved.begin(), kReserved.end(), name) == kReserved.end();
}

std::optional<std::vector<Binding>> loadBindings(const BindingSources& sources,
                                                 std::string& error) {
  std::map<std::string, Binding> merged;
  if (!sources.varsFile.empty() && !addFile(merged, sources.varsFile, false, error)) {
    return std::nullopt;
  }
  if (!sources.secretsFile.empty() && !addFile(merged, sources.secretsFile, true, error)) {
    return std::nullopt;
  }
  for (const auto& [name, value] : sources.vars) {
    if (!add(merged, Binding{name, value, false, false}, "--var", error)) return std::nullopt;
  }
  for (const auto& [name, value] : sources.jsonVars) {
    if (!add(merged, Binding{name, value, true, false}, "vars", error)) return std::nullopt;
  }
  for (const auto& [name, value] : sources.secrets) {
    if (!add(merged, Binding{name, value, false, true}, "--secret", error)) return std::nullopt;
  }
  if (merged.size() > kMaxBindings) {
    error = "too many bindings: " + std::to_string(merged.size()) + " (at most " +
            std::to_string(kMaxBindings) + ")";
    return std::nullopt;
  }
  size_t total = 0;
  std::vector<Binding> out;
  out.reserve(merged.size());
  for (auto& [name, binding] : merged) {
    total += name.size() + binding.value.size();
    out.push_back(std::move(binding));
  }
  if (total > kMaxBindingBytes) {
    error = "the bindings take " + std::to_string(total) + " bytes, more than the limit of " +
            std::to_string(kMaxBindingBytes) + " (names and values together)";
    return std::nullopt;
  }
  return out;
}

}  // namespace isolated
