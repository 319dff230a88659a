// loadBindings: files and inline pairs merge, names are validated, and errors name the source
// but never a secret's value.
#include "common/bindings.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace isolated {
namespace {

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/isolated-bindings-XXXXXX";
    int fd = mkstemp(name);
    close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(BindingsTest, MergesFilesAndInlinePairs) {
  TempFile vars(R"({"GREETING": "hi", "LIMITS": {"n": 3}, "FLAG": true, "OVERRIDDEN": "file"})");
  TempFile secrets(R"({"API_KEY": "s3cr3t"})");
  BindingSources sources;
  sources.varsFile = vars.path();
  sources.secretsFile = secrets.path();
  sources.vars = {{"OVERRIDDEN", "flag"}, {"EXTRA", "x"}};
  sources.secrets = {{"TOKEN", "t"}};
  std::string error;
  auto bindings = loadBindings(sources, error);
  ASSERT_TRUE(bindings) << error;
  ASSERT_EQ(bindings->size(), 7u);
  auto find = [&](const std::string& name) {
    for (const auto& b : *bindings)
      if (b.name == name) return b;
    ADD_FAILURE() << name;
    return Binding{};
  };
  EXPECT_EQ(find("GREETING").value, "hi");
  EXPECT_FALSE(find("GREETING").json);
  EXPECT_EQ(find("LIMITS").value, R"({"n":3})");
  EXPECT_TRUE(find("LIMITS").json);
  EXPECT_EQ(find("FLAG").value, "true");
  EXPECT_EQ(find("OVERRIDDEN").value, "flag");
  EXPECT_TRUE(find("API_KEY").secret);
  EXPECT_TRUE(find("TOKEN").secret);
  EXPECT_FALSE(find("EXTRA").secret);
}

TEST(BindingsTest, RejectsBadNamesAndClashes) {
  std::string error;
  BindingSources bad;
  bad.vars = {{"1ABC", "x"}};
  EXPECT_FALSE(loadBindings(bad, error));
  EXPECT_NE(error.find("--var: '1ABC' is not a valid binding name"), std::string::npos) << error;
  bad.vars = {{"class", "x"}};
  EXPECT_FALSE(loadBindings(bad, error));
  bad.vars = {{"A-B", "x"}};
  EXPECT_FALSE(loadBindings(bad, error));
  BindingSources clash;
  clash.vars = {{"KEY", "x"}};
  clash.secrets = {{"KEY", "y"}};
  EXPECT_FALSE(loadBindings(clash, error));
  EXPECT_EQ(error, "--secret: 'KEY' is defined both as a variable and as a secret");
  EXPECT_TRUE(isBindingName("$ok_1"));
  EXPECT_FALSE(isBindingName(""));
}

TEST(BindingsTest, FileErrorsArePreciseAndHideSecretValues) {
  std::string error;
  TempFile notJson("{\"A\": \"s3cr3t\",}");
  BindingSources s1;
  s1.secretsFile = notJson.path();
  EXPECT_FALSE(loadBindings(s1, error));
  EXPECT_EQ(error.find("--secrets-file " + notJson.path() + ": not valid JSON (at byte "), 0u)
      << error;
  EXPECT_EQ(error.find("s3cr3t"), std::string::npos);

  TempFile array("[1, 2]");
  BindingSources s2;
  s2.varsFile = array.path();
  EXPECT_FALSE(loadBindings(s2, error));
  EXPECT_EQ(error, "--vars-file " + array.path() +
                       ": expected a JSON object of NAME: value, got "
                       "a array");

  TempFile nonString(R"({"N": 5})");
  BindingSources s3;
  s3.secretsFile = nonString.path();
  EXPECT_FALSE(loadBindings(s3, error));
  EXPECT_EQ(error, "--secrets-file " + nonString.path() +
                       ": secret 'N' must be a string, got a "
                       "number");

  BindingSources s4;
  s4.varsFile = "/nonexistent/vars.json";
  EXPECT_FALSE(loadBindings(s4, error));
  EXPECT_EQ(error.find("--vars-file /nonexistent/vars.json: "), 0u) << error;
}

TEST(BindingsTest, BoundsTotalSize) {
  BindingSources big;
  big.vars = {{"A", std::string(kMaxBindingBytes, 'x')}};
  std::string error;
  EXPECT_FALSE(loadBindings(big, error));
  EXPECT_NE(error.find("more than the limit of 1048576"), std::string::npos) << error;
}

}  // namespace
}  // namespace isolated
