// logfmt and JSON-lines rendering for Logger.
#include "common/logger.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace isolated {

namespace {

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // Sized for any int year, so the format can never truncate.
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

// Appends `v` between double quotes, escaping quote, backslash and control characters; the two
// formats differ only in how other control characters are written (`controlFormat`).
void appendQuoted(std::string& out, std::string_view v, const char* controlFormat) {
  out += '"';
  for (char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, controlFormat, c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// A logfmt value is quoted only when it holds spaces, quotes, '=', backslashes or control
// characters.
void appendLogfmtValue(std::string& out, std::string_view v) {
  bool needsQuotes = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      needsQuotes = true;
      break;
    }
  }
  if (needsQuotes) {
    appendQuoted(out, v, "\\x%02x");
  } else {
    out += v;
  }
}

void appendJsonString(std::string& out, std::string_view v) {
  appendQuoted(out, v, "\\u%04x");
}

}  // namespace

std::optional<LogLevel> parseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return std::nullopt;
}

std::optional<LogFormat> parseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::string_view logLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string Logger::format(LogLevel level, std::string_view message,
                           std::initializer_list<LogField> fields) const {
  std::string line;
  line.reserve(96 + message.size());
  if (format_ == LogFormat::kJson) {
    line += "{\"ts\":";
    appendJsonString(line, timestamp());
    line += ",\"level\":";
    appendJsonString(line, logLevelName(level));
    line += ",\"msg\":";
    appendJsonString(line, message);
    for (const auto& f : fields) {
      line += ',';
      appendJsonString(line, f.key);
      line += ':';
      appendJsonString(line, f.value);
    }
    line += "}\n";
  } else {
    line += "ts=";
    line += timestamp();
    line += " level=";
    line += logLevelName(level);
    line += " msg=";
    // The message is always quoted so that a reader can find `msg="..."` reliably. A value that
    // needed no quoting has no quote, backslash or control character, so wrapping it is safe.
    std::string quoted;
    appendLogfmtValue(quoted, message);
    if (quoted.empty() || quoted.front() != '"') quoted = '"' + quoted + '"';
    line += quoted;
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      appendLogfmtValue(line, f.value);
    }
    line += '\n';
  }
  return line;
}

void Logger::log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  std::string line = format(level, message, fields);
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Full pipe (EAGAIN) or a broken one: drop the rest rather than block the event loop.
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    off += static_cast<size_t>(n);
  }
}

}  // namespace isolated
