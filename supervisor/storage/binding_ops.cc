// The wire operations of the KV, D1 and R2 bindings on top of the backend interfaces.
#include "supervisor/storage/binding_ops.h"

#include <chrono>
#include <cmath>

#include "ipc/protocol.h"

namespace isolated::storage {

namespace {

using nlohmann::json;

std::string stringArg(const json& args, const char* name, bool required = true) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) {
    if (required) throw StorageError(std::string("missing argument \"") + name + "\"");
    return "";
  }
  if (!it->is_string()) throw StorageError(std::string("\"") + name + "\" must be a string");
  return it->get<std::string>();
}

uint32_t limitArg(const json& args, uint32_t max) {
  auto it = args.find("limit");
  if (it == args.end() || it->is_null()) return max;
  if (!it->is_number() || it->get<double>() < 1 ||
      std::floor(it->get<double>()) != it->get<double>()) {
    throw StorageError("list(): limit must be a positive integer");
  }
  double limit = it->get<double>();
  if (limit > max) {
    throw StorageError("list(): limit may be at most " + std::to_string(max));
  }
  return static_cast<uint32_t>(limit);
}

json infoJson(const ObjectInfo& info) {
  return {{"key", info.key},
          {"size", info.size},
          {"etag", info.etag},
          {"uploaded", info.uploadedMs},
          {"httpMetadata", info.httpMetadata},
          {"customMetadata", info.customMetadata}};
}

int64_t expirationOf(const json& args, int64_t now) {
  int64_t expiration = 0;
  if (auto it = args.find("expiration"); it != args.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() <= 0) {
      throw StorageError(
          "KV put(): expiration must be a positive number of seconds since the "
          "epoch");
    }
    expiration = static_cast<int64_t>(it->get<double>());
  }
  if (auto it = args.find("expirationTtl"); it != args.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() <= 0) {
      throw StorageError("KV put(): expirationTtl must be a positive number of seconds");
    }
    expiration = now + static_cast<int64_t>(it->get<double>());
  }
  return expiration;
}

BindingReply kvOp(KvStore& kv, const std::string& op, const json& args, std::string value,
                  int64_t now) {
  BindingReply reply;
  reply.ok = true;
  if (op == "get") {
    auto entry = kv.get(stringArg(args, "key"), now);
    json out = {{"found", entry.has_value()}};
    if (entry) {
      out["expiration"] = entry->expiration;
      out["metadata"] = entry->metadata.empty() ? json(nullptr) : json::parse(entry->metadata);
      reply.value = std::move(entry->value);
    }
    reply.payload = out.dump();
  } else if (op == "put") {
    KvEntry entry{std::move(value), "", expirationOf(args, now)};
    if (auto it = args.find("metadata"); it != args.end() && !it->is_null()) {
      entry.metadata = it->dump();
    }
    kv.put(stringArg(args, "key"), entry, now);
    reply.payload = "null";
  } else if (op == "delete") {
    kv.remove(stringArg(args, "key"));
    reply.payload = "null";
  } else if (op == "list") {
    KvList list = kv.list(stringArg(args, "prefix", false), limitArg(args, kKvMaxListLimit),
                          stringArg(args, "cursor", false), now);
    json keys = json::array();
    for (const auto& key : list.keys) {
      json item = {{"name", key.name}};
      if (key.expiration != 0) item["expiration"] = key.expiration;
      if (!key.metadata.empty()) item["metadata"] = json::parse(key.metadata, nullptr, false);
      keys.push_back(std::move(item));
    }
    json out = {{"keys", std::move(keys)}, {"list_complete", list.complete}};
    if (!list.complete) out["cursor"] = list.cursor;
    reply.payload = out.dump();
  } else {
    throw StorageError("KV has no operation \"" + op + "\"");
  }
  return reply;
}

BindingReply sqlOp(SqlDatabase& sql, const std::string& op, const json& args) {
  BindingReply reply;
  reply.ok = true;
  if (op == "batch") {
    auto it = args.find("statements");
    if (it == args.end() || !it->is_array()) throw StorageError("D1: statements missing");
    std::vector<SqlStatement> statements;
    for (const auto& item : *it) {
      if (!item.is_object()) throw StorageError("D1: a statement must be an object");
      statements.push_back(
          {stringArg(item, "sql"), item.contains("params") ? item["params"] : json::array()});
    }
    json results = json::array();
    for (auto& result : sql.batch(statements)) {
      results.push_back({{"columns", result.columns},
                         {"rows", std::move(result.rows)},
                         {"meta",
                          {{"duration", result.durationMs},
                           {"changes", result.changes},
                           {"last_row_id", result.lastRowId},
                           {"rows_read", result.rowsRead},
                           {"rows_written", result.rowsWritten},
                           {"changed_db", result.changes > 0}}}});
    }
    reply.payload = json{{"results", std::move(results)}}.dump();
    if (reply.payload.size() > ipc::kBindingMaxPayloadBytes) {
      throw StorageError("D1_ERROR: the result is over " +
                         std::to_string(ipc::kBindingMaxPayloadBytes >> 20) + " MiB");
    }
  } else if (op == "exec") {
    auto started = std::chrono::steady_clock::now();
    uint32_t count = sql.exec(stringArg(args, "sql"));
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    reply.payload = json{{"count", count}, {"duration", ms}}.dump();
  } else {
    throw StorageError("D1 has no operation \"" + op + "\"");
  }
  return reply;
}

BindingReply objectOp(ObjectStore& store, const std::string& op, const json& args,
                      std::string value) {
  BindingReply reply;
  reply.ok = true;
  if (op == "put") {
    json http = args.contains("httpMetadata") && !args["httpMetadata"].is_null()
                    ? args["httpMetadata"]
                    : json::object();
    json custom = args.contains("customMetadata") && !args["customMetadata"].is_null()
                      ? args["customMetadata"]
                      : json::object();
    reply.payload = infoJson(store.put(stringArg(args, "key"), value, http, custom)).dump();
  } else if (op == "get") {
    auto found = store.get(stringArg(args, "key"));
    if (found) {
      reply.payload = infoJson(found->first).dump();
      reply.value = std::move(found->second);
    } else {
      reply.payload = "null";
    }
  } else if (op == "head") {
    auto info = store.head(stringArg(args, "key"));
    reply.payload = info ? infoJson(*info).dump() : "null";
  } else if (op == "delete") {
    auto it = args.find("keys");
    if (it == args.end() || !it->is_array()) throw StorageError("R2 delete(): keys missing");
    if (it->size() > 1000) throw StorageError("R2 delete(): at most 1000 keys at once");
    std::vector<std::string> keys;
    for (const auto& key : *it) {
      if (!key.is_string()) throw StorageError("R2 delete(): keys must be strings");
      keys.push_back(key.get<std::string>());
    }
    store.remove(keys);
    reply.payload = "null";
  } else if (op == "list") {
    ObjectList list =
        store.list(stringArg(args, "prefix", false), limitArg(args, kObjectMaxListLimit),
                   stringArg(args, "cursor", false), stringArg(args, "delimiter", false));
    json objects = json::array();
    for (const auto& info : list.objects)
      objects.push_back(infoJson(info));
    json out = {{"objects", std::move(objects)},
                {"delimitedPrefixes", list.delimitedPrefixes},
                {"truncated", list.truncated}};
    if (list.truncated) out["cursor"] = list.cursor;
    reply.payload = out.dump();
  } else {
    throw StorageError("R2 has no operation \"" + op + "\"");
  }
  return reply;
}

}  // namespace

BindingReply performOp(Backend& backend, const std::string& op, const std::string& args,
                       std::string value, int64_t now) {
  try {
    json parsed = json::parse(args.empty() ? std::string("{}") : args);
    if (!parsed.is_object()) throw StorageError("the arguments must be a JSON object");
    if (backend.kv) return kvOp(*backend.kv, op, parsed, std::move(value), now);
    if (backend.sql) return sqlOp(*backend.sql, op, parsed);
    return objectOp(*backend.objects, op, parsed, std::move(value));
  } catch (const StorageUnavailable& error) {
    return {false, error.what(), "", "", true};
  } catch (const StorageError& error) {
    return {false, error.what(), "", "", false};
  } catch (const json::exception& error) {
    return {false, std::string("bad arguments: ") + error.what(), "", "", false};
  } catch (const std::exception& error) {
    return {false, std::string("storage failure: ") + error.what(), "", "", true};
  }
}

}  // namespace isolated::storage
