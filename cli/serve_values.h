// Parsers for the values of `isolated serve` flags that need more than a lookup: whole numbers
// in a range, HOST:PORT addresses, and the --var/--secret bindings with their environment
// variables. Each error names where the value came from (Sourced::origin). No state of their
// own.
#pragma once

#include <cxxopts.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "cli/serve_options.h"
#include "common/bindings.h"

namespace isolated::serve_detail {

// A flag's value and where it came from, for error messages.
struct Sourced {
  std::string value;
  std::string origin;  // "--flag" or "VAR (for --flag)" or "default of --flag"
};

struct Fail {
  std::string message;
};

// A whole number from `min` to `max`, written in plain decimal digits.
std::variant<uint64_t, Fail> parseNumber(const Sourced& v, uint64_t min, uint64_t max);

// HOST:PORT, HOST an IP literal (IPv6 in brackets or not) or a host name; the outputs are set
// only on success.
std::optional<Fail> parseHostPort(const Sourced& v, std::string& hostOut, uint16_t& portOut);

// Collects --var/--secret (flags win, per name, over ISOLATED_VAR_/ISOLATED_SECRET_ variables)
// and the two files. Messages never include a value: it may be a secret.
std::optional<Fail> parseBindingSources(const cxxopts::ParseResult& result, const EnvList& envList,
                                        const Sourced& varsFile, const Sourced& secretsFile,
                                        BindingSources& out);

}  // namespace isolated::serve_detail
