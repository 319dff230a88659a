// Value parsers of `isolated serve` (cli/serve_values.h).
#include "cli/serve_values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace isolated::serve_detail {

namespace {

// NAME=VALUE, NAME non-empty; the value may contain '='.
std::optional<std::pair<std::string, std::string>> splitPair(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return std::nullopt;
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

}  // namespace

std::variant<uint64_t, Fail> parseNumber(const Sourced& v, uint64_t min, uint64_t max) {
  uint64_t n = 0;
  const char* begin = v.value.data();
  const char* end = begin + v.value.size();
  auto [ptr, ec] = std::from_chars(begin, end, n);
  if (v.value.empty() || ec != std::errc() || ptr != end || n < min || n > max) {
    return Fail{v.origin + ": expected a whole number from " + std::to_string(min) + " to " +
                std::to_string(max) + ", got '" + v.value + "'"};
  }
  return n;
}

std::optional<Fail> parseHostPort(const Sourced& v, std::string& hostOut, uint16_t& portOut) {
  const std::string& s = v.value;
  auto colon = s.rfind(':');
  Fail bad{v.origin + ": expected HOST:PORT (for example 127.0.0.1:8080), got '" + s + "'"};
  if (colon == std::string::npos || colon == 0) return bad;
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // An IP literal or a host name; anything else would only fail later, at bind time.
  in6_addr scratch{};
  bool isAddress = inet_pton(AF_INET, host.c_str(), &scratch) == 1 ||
                   inet_pton(AF_INET6, host.c_str(), &scratch) == 1;
  bool isName = !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.';
  });
  if (!isAddress && !isName) return bad;
  auto port = parseNumber({s.substr(colon + 1), v.origin + " port"}, 0, 65535);
  if (auto* f = std::get_if<Fail>(&port)) return *f;
  hostOut = host;
  portOut = static_cast<uint16_t>(std::get<uint64_t>(port));
  return std::nullopt;
}

std::optional<Fail> parseBindingSources(const cxxopts::ParseResult& result, const EnvList& envList,
                                        const Sourced& varsFile, const Sourced& secretsFile,
                                        BindingSources& out) {
  std::vector<std::pair<std::string, std::string>> fromEnvVars;
  std::vector<std::pair<std::string, std::string>> fromEnvSecrets;
  if (envList) {
    for (const auto& [name, value] : envList()) {
      if (name.starts_with(kVarEnvPrefix)) {
        fromEnvVars.emplace_back(name.substr(std::strlen(kVarEnvPrefix)), value);
      } else if (name.starts_with(kSecretEnvPrefix)) {
        fromEnvSecrets.emplace_back(name.substr(std::strlen(kSecretEnvPrefix)), value);
      }
    }
  }
  out.vars = std::move(fromEnvVars);
  out.secrets = std::move(fromEnvSecrets);
  for (const auto& kv : result.arguments()) {
    if (kv.key() != "var" && kv.key() != "secret") continue;
    auto pair = splitPair(kv.value());
    if (!pair) {
      // The text of a malformed --secret may be the secret itself: never echo it.
      return Fail{"--" + kv.key() + ": expected NAME=VALUE" +
                  (kv.key() == "var" ? ", got '" + kv.value() + "'" : std::string())};
    }
    auto& list = kv.key() == "var" ? out.vars : out.secrets;
    list.push_back(std::move(*pair));
  }
  out.varsFile = varsFile.value;
  out.secretsFile = secretsFile.value;
  return std::nullopt;
}

}  // namespace isolated::serve_detail
