// The limits every backend enforces, with errors that name the limit, and the object listing
// roll-up shared by backends that enumerate their keys.
#include <string>

#include "supervisor/storage/kv_store.h"
#include "supervisor/storage/object_store.h"
#include "supervisor/storage/sql_database.h"

namespace isolated::storage {

void checkKvKey(const std::string& key) {
  if (key.empty()) throw StorageError("KV: the key is empty");
  if (key.size() > kKvMaxKeyBytes) {
    throw StorageError("KV: the key is " + std::to_string(key.size()) +
                       " bytes; keys are at most " + std::to_string(kKvMaxKeyBytes) + " bytes");
  }
  if (key == "." || key == "..") throw StorageError("KV: the key may not be \".\" or \"..\"");
}

void checkKvEntry(const KvEntry& entry, int64_t now) {
  if (entry.value.size() > kKvMaxValueBytes) {
    throw StorageError("KV: the value is " + std::to_string(entry.value.size()) +
                       " bytes; values are at most " + std::to_string(kKvMaxValueBytes >> 20) +
                       " MiB");
  }
  if (entry.metadata.size() > kKvMaxMetadataBytes) {
    throw StorageError("KV: the metadata is " + std::to_string(entry.metadata.size()) +
                       " bytes serialised; metadata is at most " +
                       std::to_string(kKvMaxMetadataBytes) + " bytes");
  }
  if (entry.expiration != 0 && entry.expiration <= now) {
    throw StorageError("KV: the expiration " + std::to_string(entry.expiration) +
                       " is not in the future (now is " + std::to_string(now) + ")");
  }
}

void checkSqlBatch(const std::vector<SqlStatement>& statements) {
  if (statements.empty()) throw StorageError("D1: no statement to run");
  if (statements.size() > kSqlMaxStatements) {
    throw StorageError("D1: a batch holds at most " + std::to_string(kSqlMaxStatements) +
                       " statements");
  }
  for (const auto& statement : statements) {
    if (statement.sql.size() > kSqlMaxTextBytes) {
      throw StorageError("D1: a statement is at most " + std::to_string(kSqlMaxTextBytes >> 10) +
                         " KiB of SQL");
    }
    if (!statement.params.is_array()) throw StorageError("D1: parameters must be an array");
    if (statement.params.size() > kSqlMaxParams) {
      throw StorageError("D1: a statement binds at most " + std::to_string(kSqlMaxParams) +
                         " parameters");
    }
  }
}

void checkObjectKey(const std::string& key) {
  if (key.empty()) throw StorageError("R2: the key is empty");
  if (key.size() > kObjectMaxKeyBytes) {
    throw StorageError("R2: the key is " + std::to_string(key.size()) +
                       " bytes; keys are at most " + std::to_string(kObjectMaxKeyBytes) + " bytes");
  }
  if (key.find('\0') != std::string::npos) throw StorageError("R2: the key contains NUL");
}

void checkObjectMetadata(const nlohmann::json& httpMetadata, const nlohmann::json& customMetadata) {
  for (const auto* metadata : {&httpMetadata, &customMetadata}) {
    if (!metadata->is_object()) throw StorageError("R2: metadata must be an object of strings");
    for (const auto& [name, value] : metadata->items()) {
      if (!value.is_string()) {
        throw StorageError("R2: metadata value \"" + name + "\" is not a string");
      }
    }
  }
  if (customMetadata.dump().size() > kObjectMaxMetadataBytes) {
    throw StorageError("R2: customMetadata is over " + std::to_string(kObjectMaxMetadataBytes) +
                       " bytes serialised");
  }
}

ObjectList rollUp(std::vector<ObjectInfo> sorted, const std::string& prefix, uint32_t limit,
                  const std::string& cursor, const std::string& delimiter) {
  ObjectList list;
  size_t returned = 0;
  for (auto& object : sorted) {
    if (object.key.compare(0, prefix.size(), prefix) != 0) continue;
    std::string entry = object.key;
    bool rolled = false;
    if (!delimiter.empty()) {
      size_t at = object.key.find(delimiter, prefix.size());
      if (at != std::string::npos) {
        entry = object.key.substr(0, at + delimiter.size());
        rolled = true;
      }
    }
    // A rolled-up prefix sorts at its first key; the cursor names the prefix itself, so every
    // key under it is skipped when resuming.
    if (!cursor.empty() && (entry <= cursor || (rolled && entry == cursor))) continue;
    if (rolled && !list.delimitedPrefixes.empty() && list.delimitedPrefixes.back() == entry) {
      continue;
    }
    if (returned == limit) {
      list.truncated = true;
      break;
    }
    ++returned;
    list.cursor = entry;
    if (rolled) {
      list.delimitedPrefixes.push_back(std::move(entry));
    } else {
      list.objects.push_back(std::move(object));
    }
  }
  if (!list.truncated) list.cursor.clear();
  return list;
}

}  // namespace isolated::storage
