// The app configuration a `deploy` control request describes (docs/control-protocol.md): the
// request's fields laid over what the app has now. Pure (it reads no file and opens no backend:
// the supervisor checks the script is readable, the routes against the other apps, the names
// against the loaded env, and opens the backends when it makes the deployment); any thread.
//
// Keeping and replacing: for an existing app, a field the request leaves out keeps the app's
// current value (routes, environment, crons, limits, and each kind of binding). A binding field
// the request gives (`kv`, `databases`, `storage`, `services`: arrays of "NAME=URL" or
// "NAME=APP") replaces the app's bindings of that kind, and only of that kind; an empty array
// removes them. `vars` add to or replace variables by name; `secrets_file` replaces the file.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <variant>

#include "common/app_config.h"

namespace isolated::supervisor {

// `current`: the app's config when it exists (nullptr for a new app). `appExists`: whether the
// server has an app of that name, for service bindings (the app being deployed may name
// itself). An error message says which field or flag is wrong and why.
std::variant<AppConfig, std::string> deployRequestConfig(
    const nlohmann::json& request, const AppConfig* current,
    const std::function<bool(const std::string&)>& appExists);

}  // namespace isolated::supervisor
