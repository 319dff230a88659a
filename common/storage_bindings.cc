// Parsing of --kv / --database / --storage NAME=URL.
#include "common/storage_bindings.h"

#include <filesystem>
#include <set>

#include "common/app_config.h"
#include "common/bindings.h"

namespace isolated {

const char* storageKindName(StorageKind kind) {
  switch (kind) {
    case StorageKind::kKv:
      return "kv";
    case StorageKind::kDatabase:
      return "database";
    case StorageKind::kStorage:
      return "storage";
  }
  return "?";
}

namespace {

// `baseDir` empty: the working directory. `refuseRelative`: a relative path is an error instead.
std::optional<StorageBindingSpec> parse(StorageKind kind, const std::string& text,
                                        std::string& error, const std::string& baseDir,
                                        bool refuseRelative) {
  std::string flag = std::string("--") + storageKindName(kind);
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    error = flag + " expects NAME=URL, got \"" + redactStorageUrl(text) + "\"";
    return std::nullopt;
  }
  StorageBindingSpec spec;
  spec.kind = kind;
  spec.name = text.substr(0, eq);
  std::string url = text.substr(eq + 1);
  if (!isBindingName(spec.name)) {
    error = flag + ": \"" + spec.name + "\" is not a JavaScript identifier";
    return std::nullopt;
  }
  auto starts = [&](const char* prefix) { return url.rfind(prefix, 0) == 0; };
  if (starts("postgres://") || starts("postgresql://")) {
    spec.backend = StorageBackend::kPostgres;
    spec.location = url;
  } else if (starts("file:")) {
    spec.backend = StorageBackend::kDirectory;
    spec.location = url.substr(5);
  } else if (starts("sqlite:")) {
    spec.backend = StorageBackend::kSqlite;
    spec.location = url.substr(7);
  } else if (url.find("://") != std::string::npos) {
    error = flag + " " + spec.name + ": unknown URL scheme in \"" + redactStorageUrl(url) +
            "\" (sqlite:PATH, file:DIR or postgres://...)";
    return std::nullopt;
  } else {
    spec.backend = StorageBackend::kSqlite;
    spec.location = url;
  }
  if (kind == StorageKind::kStorage && spec.backend != StorageBackend::kDirectory) {
    error = flag + " " + spec.name + ": object storage needs a directory (file:DIR)";
    return std::nullopt;
  }
  if (kind != StorageKind::kStorage && spec.backend == StorageBackend::kDirectory) {
    error = flag + " " + spec.name +
            ": a directory (file:) serves only --storage; use sqlite:" + "PATH or postgres://...";
    return std::nullopt;
  }
  if (spec.backend != StorageBackend::kPostgres) {
    if (spec.location.empty()) {
      error = flag + " " + spec.name + ": the path is empty";
      return std::nullopt;
    }
    std::filesystem::path path(spec.location);
    if (path.is_relative() && refuseRelative) {
      error = flag + " " + spec.name + ": the path \"" + spec.location +
              "\" is relative; give an absolute path";
      return std::nullopt;
    }
    std::error_code ignored;
    if (path.is_relative() && !baseDir.empty()) path = std::filesystem::path(baseDir) / path;
    spec.location = std::filesystem::absolute(path, ignored).lexically_normal().string();
  }
  return spec;
}

}  // namespace

std::optional<StorageBindingSpec> parseStorageBinding(StorageKind kind, const std::string& text,
                                                      std::string& error,
                                                      const std::string& baseDir) {
  return parse(kind, text, error, baseDir, false);
}

std::optional<StorageBindingSpec> parseAbsoluteStorageBinding(StorageKind kind,
                                                              const std::string& text,
                                                              std::string& error) {
  return parse(kind, text, error, "", true);
}

std::string storageBindingUrl(const StorageBindingSpec& spec) {
  switch (spec.backend) {
    case StorageBackend::kSqlite:
      return "sqlite:" + spec.location;
    case StorageBackend::kDirectory:
      return "file:" + spec.location;
    case StorageBackend::kPostgres:
      return spec.location;
  }
  return spec.location;
}

std::optional<ServiceBindingSpec> parseServiceBinding(const std::string& text, std::string& error) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    error = "--service expects NAME=APP, got \"" + text + "\"";
    return std::nullopt;
  }
  ServiceBindingSpec spec{text.substr(0, eq), text.substr(eq + 1)};
  if (!isBindingName(spec.name)) {
    error = "--service: \"" + spec.name + "\" is not a JavaScript identifier";
    return std::nullopt;
  }
  if (!isAppName(spec.app)) {
    error = "--service " + spec.name + ": \"" + spec.app +
            "\" is not a valid app name (letters, digits, '-' and '_', starting with a letter "
            "or digit, at most 63)";
    return std::nullopt;
  }
  return spec;
}

std::optional<std::string> bindingNameClash(const std::vector<StorageBindingSpec>& storage,
                                            const std::vector<ServiceBindingSpec>& services,
                                            const std::vector<Binding>& env) {
  std::set<std::string> names;
  for (const auto& binding : env)
    names.insert(binding.name);
  for (const auto& spec : storage) {
    if (!names.insert(spec.name).second) {
      return std::string(storageKindName(spec.kind)) + " binding " + spec.name +
             ": the name is already used in the app's env";
    }
  }
  for (const auto& spec : services) {
    if (!names.insert(spec.name).second) {
      return "service binding " + spec.name + ": the name is already used in the app's env";
    }
  }
  return std::nullopt;
}

std::string redactStorageUrl(const std::string& location) {
  size_t scheme = location.find("://");
  if (scheme == std::string::npos) return location;
  size_t at = location.find('@', scheme + 3);
  if (at == std::string::npos) return location;
  size_t colon = location.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return location;
  return location.substr(0, colon + 1) + "***" + location.substr(at);
}

}  // namespace isolated
