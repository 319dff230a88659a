// Fuzz target: the TOML config file of `isolated serve --config FILE`, read the way the server
// reads it (parseServeOptions: toml++ parsing, [server] keys validated as flag values, [[app]]
// tables with their scripts, routes, crons, vars, secrets and bindings). The input is the file's
// text. It is written into a private directory that also holds two scripts (`a.js`, `b.js`) and
// a secrets file, so that well-formed inputs get past the file checks and reach the deeper ones.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/serve_options.h"
#include "fuzz/fuzz_target.h"

namespace {

// The directory the config file lives in, made once per process and removed at exit.
class FuzzDirectory {
 public:
  FuzzDirectory() {
    // On tmpfs where there is one: ext4 writes back a file truncated and rewritten on close,
    // which made every input cost a disk write.
    std::filesystem::path root = std::filesystem::is_directory("/dev/shm")
                                     ? std::filesystem::path("/dev/shm")
                                     : std::filesystem::temp_directory_path();
    std::string pattern = (root / "isolated-config-fuzz-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
    write("a.js", "export default { fetch() { return new Response('a') } }\n");
    write("b.js", "addEventListener('fetch', e => e.respondWith(new Response('b')))\n");
    write("secrets.json", "{\"TOKEN\": \"t\"}\n");
  }
  ~FuzzDirectory() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  FuzzDirectory(const FuzzDirectory&) = delete;
  FuzzDirectory& operator=(const FuzzDirectory&) = delete;

  std::string write(const std::string& name, std::string_view text) const {
    std::string file = (path_ / name).string();
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const FuzzDirectory directory;  // per process: libFuzzer's entry point has no state
  std::string file =
      directory.write("isolated.toml", std::string_view(reinterpret_cast<const char*>(data), size));
  isolated::EnvLookup noEnv = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  isolated::EnvList noList = [] { return std::vector<std::pair<std::string, std::string>>(); };
  static isolated::ServeOptionParser parser(2);  // built once: see serve_options_fuzz.cc
  (void)parser.parse({"--config", file}, noEnv, noList);
  return 0;
}
