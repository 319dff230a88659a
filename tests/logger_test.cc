// Logger: logfmt and JSON-lines rendering and escaping, level filtering, writing to an fd.
#include "common/logger.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/unique_fd.h"

namespace isolated {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A strict reader for one logfmt line (newline stripped): `key=value` pairs separated by single
// spaces; a quoted value may use \" \\ \n \r \t \xNN and nothing else. nullopt if malformed.
std::optional<Pairs> parseLogfmt(std::string_view line) {
  Pairs out;
  size_t i = 0;
  while (i < line.size()) {
    size_t eq = line.find('=', i);
    if (eq == std::string_view::npos || eq == i) return std::nullopt;
    std::string key(line.substr(i, eq - i));
    if (key.find_first_of(" \"") != std::string::npos) return std::nullopt;
    i = eq + 1;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) return std::nullopt;
        char c = line[i++];
        if (c == '"') break;
        if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
        if (c != '\\') {
          value += c;
          continue;
        }
        if (i >= line.size()) return std::nullopt;
        char e = line[i++];
        switch (e) {
          case '"':
            value += '"';
            break;
          case '\\':
            value += '\\';
            break;
          case 'n':
            value += '\n';
            break;
          case 'r':
            value += '\r';
            break;
          case 't':
            value += '\t';
            break;
          case 'x': {
            if (i + 2 > line.size()) return std::nullopt;
            int hi = hexDigit(line[i]);
            int lo = hexDigit(line[i + 1]);
            if (hi < 0 || lo < 0) return std::nullopt;
            value += static_cast<char>(hi * 16 + lo);
            i += 2;
            break;
          }
          default:
            return std::nullopt;
        }
      }
    } else {
      size_t end = line.find(' ', i);
      if (end == std::string_view::npos) end = line.size();
      value = std::string(line.substr(i, end - i));
      if (value.find_first_of("\"=") != std::string::npos) return std::nullopt;
      i = end;
    }
    out.emplace_back(std::move(key), std::move(value));
    if (i < line.size()) {
      if (line[i] != ' ') return std::nullopt;
      ++i;
      if (i == line.size()) return std::nullopt;
    }
  }
  return out;
}

// A strict JSON string reader at `s[i]` (which must be '"'); advances `i` past it.
std::optional<std::string> parseJsonString(std::string_view s, size_t& i) {
  if (i >= s.size() || s[i] != '"') return std::nullopt;
  ++i;
  std::string out;
  for (;;) {
    if (i >= s.size()) return std::nullopt;
    char c = s[i++];
    if (c == '"') return out;
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;  // JSON forbids raw controls.
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i >= s.size()) return std::nullopt;
    char e = s[i++];
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        if (i + 4 > s.size()) return std::nullopt;
        int code = 0;
        for (int k = 0; k < 4; ++k) {
          int d = hexDigit(s[i + k]);
          if (d < 0) return std::nullopt;
          code = code * 16 + d;
        }
        i += 4;
        if (code >= 0x80) return std::nullopt;  // Not needed by these tests.
        out += static_cast<char>(code);
        break;
      }
      default:
        return std::nullopt;
    }
  }
}

// A strict reader for a flat JSON object of string values, followed by exactly one '\n'.
std::optional<Pairs> parseJsonLine(std::string_view line) {
  if (line.empty() || line.back() != '\n') return std::nullopt;
  line.remove_suffix(1);
  Pairs out;
  size_t i = 0;
  if (line.empty() || line[i++] != '{') return std::nullopt;
  if (i < line.size() && line[i] == '}')
    return i + 1 == line.size() ? std::optional(out) : std::nullopt;
  for (;;) {
    auto key = parseJsonString(line, i);
    if (!key || i >= line.size() || line[i++] != ':') return std::nullopt;
    auto value = parseJsonString(line, i);
    if (!value || i >= line.size()) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
    char c = line[i++];
    if (c == '}') break;
    if (c != ',') return std::nullopt;
  }
  if (i != line.size()) return std::nullopt;
  return out;
}

std::optional<std::string> lookup(const Pairs& pairs, const std::string& key) {
  for (const auto& [k, v] : pairs) {
    if (k == key) return v;
  }
  return std::nullopt;
}

// "2024-01-02T03:04:05.678Z"
bool looksLikeTimestamp(const std::string& ts) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (ts.size() != shape.size()) return false;
  for (size_t i = 0; i < ts.size(); ++i) {
    if (shape[i] == 'd' ? !isdigit(static_cast<unsigned char>(ts[i])) : ts[i] != shape[i]) {
      return false;
    }
  }
  return true;
}

// Strips the single trailing newline of a text line, failing the test if it is not there.
std::string withoutNewline(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "more than one line: " << line;
  return line.substr(0, line.size() - 1);
}

// Values that stress the escaping in both formats.
const std::vector<std::string>& trickyValues() {
  static const std::vector<std::string> values = {
      "plain",        "two words",         "",          "say \"hi\"",
      "line1\nline2", "cr\rtab\t",         "key=value", "back\\slash and space",
      "ctrl\x01\x1f", "utf8 h\xc3\xa9llo", "\"",        "trailing\\ ",
  };
  return values;
}

TEST(LoggerTest, TextLineShape) {
  Logger logger(LogLevel::kDebug, LogFormat::kText);
  std::string line = logger.format(LogLevel::kWarn, "disk low", {{"free", 12}, {"unit", "MB"}});
  std::string body = withoutNewline(line);
  EXPECT_EQ(body.rfind("ts=", 0), 0u) << body;
  EXPECT_NE(body.find(" level=warn msg=\"disk low\" free=12 unit=MB"), std::string::npos) << body;
  auto pairs = parseLogfmt(body);
  ASSERT_TRUE(pairs) << body;
  ASSERT_EQ(pairs->size(), 5u);
  EXPECT_EQ((*pairs)[0].first, "ts");
  EXPECT_TRUE(looksLikeTimestamp((*pairs)[0].second)) << (*pairs)[0].second;
  EXPECT_EQ((*pairs)[1], (std::pair<std::string, std::string>("level", "warn")));
  EXPECT_EQ((*pairs)[2], (std::pair<std::string, std::string>("msg", "disk low")));
  EXPECT_EQ((*pairs)[3], (std::pair<std::string, std::string>("free", "12")));
  EXPECT_EQ((*pairs)[4], (std::pair<std::string, std::string>("unit", "MB")));
}

TEST(LoggerTest, TextAlwaysQuotesMessage) {
  Logger logger(LogLevel::kDebug, LogFormat::kText);
  EXPECT_NE(logger.format(LogLevel::kInfo, "started", {}).find(" msg=\"started\""),
            std::string::npos);
  EXPECT_NE(logger.format(LogLevel::kInfo, "", {}).find(" msg=\"\""), std::string::npos);
}

TEST(LoggerTest, TextEscapesSpecificCharacters) {
  Logger logger(LogLevel::kDebug, LogFormat::kText);
  std::string line = logger.format(
      LogLevel::kInfo, "m", {{"a", "say \"hi\""}, {"b", "x\ny"}, {"c", "has space"}, {"d", ""}});
  EXPECT_NE(line.find(" a=\"say \\\"hi\\\"\""), std::string::npos) << line;
  EXPECT_NE(line.find(" b=\"x\\ny\""), std::string::npos) << line;
  EXPECT_NE(line.find(" c=\"has space\""), std::string::npos) << line;
  EXPECT_NE(line.find(" d=\"\""), std::string::npos) << line;
}

TEST(LoggerTest, TextFieldValuesRoundTrip) {
  Logger logger(LogLevel::kDebug, LogFormat::kText);
  for (const auto& value : trickyValues()) {
    std::string line = logger.format(LogLevel::kInfo, "m", {{"v", value}});
    auto pairs = parseLogfmt(withoutNewline(line));
    ASSERT_TRUE(pairs) << "value '" << value << "' gave unparseable line: " << line;
    EXPECT_EQ(lookup(*pairs, "v"), value) << line;
  }
}

TEST(LoggerTest, TextMessagesRoundTrip) {
  Logger logger(LogLevel::kDebug, LogFormat::kText);
  for (const auto& message : trickyValues()) {
    std::string line = logger.format(LogLevel::kInfo, message, {});
    auto pairs = parseLogfmt(withoutNewline(line));
    ASSERT_TRUE(pairs) << "message '" << message << "' gave unparseable line: " << line;
    EXPECT_EQ(lookup(*pairs, "msg"), message) << line;
  }
}

TEST(LoggerTest, TextMessageWithOnlyABackslash) {
  // The message is quoted even when it needs no quoting, so a backslash in it must be escaped:
  // `msg="C:\dir"` is not the message C:\dir, and `msg="end\"` does not even close its quote.
  Logger logger(LogLevel::kDebug, LogFormat::kText);
  EXPECT_NE(logger.format(LogLevel::kInfo, "C:\\dir", {}).find(" msg=\"C:\\\\dir\""),
            std::string::npos)
      << logger.format(LogLevel::kInfo, "C:\\dir", {});
  std::string line = logger.format(LogLevel::kInfo, "end\\", {{"next", "1"}});
  auto pairs = parseLogfmt(withoutNewline(line));
  ASSERT_TRUE(pairs) << line;
  EXPECT_EQ(lookup(*pairs, "msg"), "end\\") << line;
  EXPECT_EQ(lookup(*pairs, "next"), "1") << line;
}

TEST(LoggerTest, JsonLineShape) {
  Logger logger(LogLevel::kDebug, LogFormat::kJson);
  std::string line = logger.format(LogLevel::kError, "boom", {{"code", 7}, {"who", "me"}});
  auto pairs = parseJsonLine(line);
  ASSERT_TRUE(pairs) << line;
  ASSERT_EQ(pairs->size(), 5u);
  EXPECT_EQ((*pairs)[0].first, "ts");
  EXPECT_TRUE(looksLikeTimestamp((*pairs)[0].second)) << line;
  EXPECT_EQ((*pairs)[1], (std::pair<std::string, std::string>("level", "error")));
  EXPECT_EQ((*pairs)[2], (std::pair<std::string, std::string>("msg", "boom")));
  EXPECT_EQ((*pairs)[3], (std::pair<std::string, std::string>("code", "7")));
  EXPECT_EQ((*pairs)[4], (std::pair<std::string, std::string>("who", "me")));
}

TEST(LoggerTest, JsonEscaping) {
  Logger logger(LogLevel::kDebug, LogFormat::kJson);
  std::string line = logger.format(LogLevel::kInfo, "q\"b\\n\nc\x01", {{"k\"ey", "v\\\"\t\x1f"}});
  EXPECT_NE(line.find("\"msg\":\"q\\\"b\\\\n\\nc\\u0001\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"k\\\"ey\":\"v\\\\\\\"\\t\\u001f\""), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
}

TEST(LoggerTest, JsonRoundTrip) {
  Logger logger(LogLevel::kDebug, LogFormat::kJson);
  for (const auto& value : trickyValues()) {
    std::string line = logger.format(LogLevel::kInfo, value, {{"v", value}});
    auto pairs = parseJsonLine(line);
    ASSERT_TRUE(pairs) << "value '" << value << "' gave invalid JSON: " << line;
    EXPECT_EQ(lookup(*pairs, "msg"), value) << line;
    EXPECT_EQ(lookup(*pairs, "v"), value) << line;
  }
}

TEST(LoggerTest, NumericFields) {
  Logger logger(LogLevel::kDebug, LogFormat::kText);
  std::string line =
      logger.format(LogLevel::kInfo, "m", {{"i", -3}, {"u", 42u}, {"big", uint64_t{1} << 40}});
  EXPECT_NE(line.find(" i=-3 u=42 big=1099511627776"), std::string::npos) << line;
}

TEST(LoggerTest, EnabledFiltersBelowLevel) {
  Logger warn(LogLevel::kWarn, LogFormat::kText);
  EXPECT_FALSE(warn.enabled(LogLevel::kDebug));
  EXPECT_FALSE(warn.enabled(LogLevel::kInfo));
  EXPECT_TRUE(warn.enabled(LogLevel::kWarn));
  EXPECT_TRUE(warn.enabled(LogLevel::kError));

  Logger debug(LogLevel::kDebug, LogFormat::kText);
  EXPECT_TRUE(debug.enabled(LogLevel::kDebug));
  Logger error(LogLevel::kError, LogFormat::kJson);
  EXPECT_FALSE(error.enabled(LogLevel::kWarn));
  EXPECT_TRUE(error.enabled(LogLevel::kError));
}

TEST(LoggerTest, ParseLevelAndFormat) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    EXPECT_EQ(parseLogLevel(logLevelName(level)), level) << logLevelName(level);
  }
  EXPECT_EQ(parseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(parseLogLevel(""), std::nullopt);
  EXPECT_EQ(parseLogLevel("verbose"), std::nullopt);
  EXPECT_EQ(parseLogLevel("warning"), std::nullopt);
  EXPECT_EQ(parseLogLevel("info "), std::nullopt);

  EXPECT_EQ(parseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(parseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(parseLogFormat(""), std::nullopt);
  EXPECT_EQ(parseLogFormat("logfmt-ish"), std::nullopt);
}

class LoggerPipeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    readEnd_.reset(p[0]);
    writeEnd_.reset(p[1]);
  }

  // Everything written so far (the pipe is non-blocking, so this never waits).
  std::string readAll() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(readEnd_.get(), buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  UniqueFd readEnd_;
  UniqueFd writeEnd_;
};

TEST_F(LoggerPipeTest, LogWritesOneLine) {
  Logger logger(LogLevel::kInfo, LogFormat::kText, writeEnd_.get());
  logger.info("hello there", {{"id", 5}});
  std::string out = readAll();
  auto pairs = parseLogfmt(withoutNewline(out));
  ASSERT_TRUE(pairs) << out;
  EXPECT_EQ(lookup(*pairs, "level"), "info");
  EXPECT_EQ(lookup(*pairs, "msg"), "hello there");
  EXPECT_EQ(lookup(*pairs, "id"), "5");
}

TEST_F(LoggerPipeTest, FilteredLevelsWriteNothing) {
  Logger logger(LogLevel::kWarn, LogFormat::kJson, writeEnd_.get());
  logger.debug("d");
  logger.info("i");
  EXPECT_EQ(readAll(), "");
  logger.warn("w");
  logger.error("e");
  std::string out = readAll();
  size_t split = out.find('\n');
  ASSERT_NE(split, std::string::npos) << out;
  auto first = parseJsonLine(out.substr(0, split + 1));
  auto second = parseJsonLine(out.substr(split + 1));
  ASSERT_TRUE(first) << out;
  ASSERT_TRUE(second) << out;
  EXPECT_EQ(lookup(*first, "level"), "warn");
  EXPECT_EQ(lookup(*first, "msg"), "w");
  EXPECT_EQ(lookup(*second, "level"), "error");
  EXPECT_EQ(lookup(*second, "msg"), "e");
}

TEST_F(LoggerPipeTest, LogMatchesFormat) {
  Logger logger(LogLevel::kDebug, LogFormat::kJson, writeEnd_.get());
  logger.log(LogLevel::kDebug, "same", {{"k", "v"}});
  std::string out = readAll();
  std::string formatted = logger.format(LogLevel::kDebug, "same", {{"k", "v"}});
  // Only the timestamps may differ.
  auto a = parseJsonLine(out);
  auto b = parseJsonLine(formatted);
  ASSERT_TRUE(a) << out;
  ASSERT_TRUE(b) << formatted;
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 1; i < a->size(); ++i)
    EXPECT_EQ((*a)[i], (*b)[i]);
}

TEST(LoggerTest, WriteFailureIsDropped) {
  // A logger whose fd is closed must neither throw nor crash.
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ::close(p[0]);
  ::close(p[1]);
  Logger logger(LogLevel::kDebug, LogFormat::kText, p[1]);
  EXPECT_NO_THROW(logger.error("nowhere to go"));
}

}  // namespace
}  // namespace isolated
