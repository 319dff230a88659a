// Source manifests for script snapshots: see snapshot_sources.h.
#include "worker/snapshot_sources.h"

#include <openssl/evp.h>

#include <sstream>

#include "common/read_file.h"

namespace isolated::worker {

namespace {

std::string sha256Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0F]);
  }
  return hex;
}

}  // namespace

std::string describeSources(const std::map<std::string, std::string>& sources) {
  std::string manifest;
  for (const auto& [path, text] : sources)
    manifest += sha256Hex(text) + " " + path + "\n";
  return manifest;
}

bool sourcesUnchanged(const std::string& manifest, std::string& whyNot) {
  std::istringstream lines(manifest);
  size_t files = 0;
  for (std::string line; std::getline(lines, line);) {
    auto space = line.find(' ');
    if (space == std::string::npos) {
      whyNot = "the snapshot's source list is malformed";
      return false;
    }
    std::string path = line.substr(space + 1);
    std::string error;
    auto text = readFile(path, error);
    if (!text || sha256Hex(*text) != line.substr(0, space)) {
      whyNot = path + " changed since the snapshot was made";
      return false;
    }
    ++files;
  }
  if (files == 0) {
    whyNot = "the snapshot's source list is empty";
    return false;
  }
  return true;
}

}  // namespace isolated::worker
