// One binding operation, decoded from its JSON arguments, performed on a backend and encoded
// as the reply the worker gets: the JSON shapes of docs/bindings.md ("Wire operations").
// Pure and synchronous: runs on a storage thread, touches nothing but the backend.
#pragma once

#include <cstdint>
#include <string>

#include "supervisor/storage/backend_factory.h"

namespace isolated::storage {

struct BindingReply {
  bool ok = false;
  std::string error;
  std::string payload;       // JSON text
  std::string value;         // bytes read, if any
  bool unavailable = false;  // the backend itself failed (down, timeout), not the script
};

// Never throws: every failure becomes a reply with `error`. `now` is seconds since the epoch.
BindingReply performOp(Backend& backend, const std::string& op, const std::string& args,
                       std::string value, int64_t now);

}  // namespace isolated::storage
