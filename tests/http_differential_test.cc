// Differential test of the HTTP/1.1 layer against llhttp (Node's parser): a corpus of 1,200
// valid and mutated requests (tests/http_corpus.h) goes to both, one connection per request;
// both must accept and reject the same requests and agree on the method, target, headers and
// body of each accepted one. Where RFC 9112 requires a rejection that llhttp does not make, the
// disagreement is named in knownDisagreement() and checked to be exactly that (see
// docs/http-layer.md).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "supervisor/http/request_checks.h"
#include "tests/http_corpus.h"
#include "tests/http_test_support.h"

namespace isolated::http {
namespace {

struct Outcome {
  char result = 'I';  // A accepted, R rejected, I incomplete
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;
};

std::string toHex(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string fromHex(std::string_view s) {
  std::string out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Node reports header bytes as latin1-decoded strings, which JSON carries as UTF-8: back to bytes.
std::string latin1(const std::string& utf8) {
  std::string out;
  for (size_t i = 0; i < utf8.size(); ++i) {
    auto c = static_cast<unsigned char>(utf8[i]);
    if ((c & 0xe0) == 0xc0 && i + 1 < utf8.size()) {
      out.push_back(static_cast<char>(((c & 0x1f) << 6) | (utf8[++i] & 0x3f)));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::vector<Outcome> runNode(const std::vector<std::string>& corpus, int waitMs = 1000) {
  std::string path = ::testing::TempDir() + "http_corpus.hex";
  {
    std::ofstream file(path);
    for (const std::string& r : corpus)
      file << toHex(r) << '\n';
  }
  std::string command =
      std::string("node ") + HTTP_DIFFERENTIAL_SCRIPT + " " + path + " " + std::to_string(waitMs);
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), pclose);
  std::vector<Outcome> out(corpus.size());
  if (!pipe) return out;
  std::string line;
  char buffer[65536];
  std::string all;
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe.get())) > 0)
    all.append(buffer, n);
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    auto j = nlohmann::json::parse(all.substr(start, end - start));
    start = end + 1;
    Outcome& o = out.at(j["i"].get<size_t>());
    o.result = j["r"].get<std::string>()[0];
    if (o.result == 'A') {
      o.method = latin1(j["method"]);
      o.target = latin1(j["target"]);
      o.body = fromHex(j["body"].get<std::string>());
      for (auto& h : j["headers"])
        o.headers.emplace_back(latin1(h[0]), latin1(h[1]));
    }
  }
  return out;
}

// Runs every request on its own socketpair, all served concurrently by one server.
std::vector<Outcome> runLayer(const std::vector<std::string>& corpus) {
  event::Dispatcher dispatcher;
  testing::RecordingHandler handler;
  HttpLimits limits;
  HttpServer server(dispatcher, handler, limits, UniqueFd());
  std::vector<UniqueFd> clients;
  for (size_t i = 0; i < corpus.size(); ++i) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) abort();
    clients.emplace_back(fds[0]);
    sockaddr_storage peer{};
    peer.ss_family = AF_UNIX;
    uint64_t tag = i;
    std::memcpy(reinterpret_cast<char*>(&peer) + 8, &tag, sizeof tag);
    server.adopt(UniqueFd(fds[1]), peer);
    ::send(fds[0], corpus[i].data(), corpus[i].size(), MSG_NOSIGNAL);
  }
  std::vector<Outcome> out(corpus.size());
  std::vector<std::string> received(corpus.size());
  std::vector<bool> eof(corpus.size());
  auto quietSince = std::chrono::steady_clock::now();
  auto deadline = quietSince + std::chrono::seconds(20);
  // Done after a whole pass makes no progress and none has for 300 ms (checked after the pass,
  // so a process descheduled for a while still looks at what arrived meanwhile).
  while (std::chrono::steady_clock::now() < deadline) {
    dispatcher.runReady();
    bool progress = false;
    for (size_t i = 0; i < clients.size(); ++i) {
      char buffer[4096];
      ssize_t n = ::recv(clients[i].get(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) {
        received[i].append(buffer, static_cast<size_t>(n));
        progress = true;
      } else if (n == 0 && !eof[i]) {
        eof[i] = true;
        progress = true;
      }
    }
    if (progress) {
      quietSince = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - quietSince > std::chrono::milliseconds(300)) {
      break;
    } else {
      ::poll(nullptr, 0, 2);
    }
  }
  std::vector<bool> seenFirst(corpus.size());
  for (auto& seen : handler.seen()) {
    size_t i = seen->peerTag;
    if (seenFirst[i]) continue;
    seenFirst[i] = true;
    if (seen->gone || (!seen->bodyEnded && seen->request)) continue;
    Outcome& o = out[i];
    o.result = 'A';
    o.method = seen->method;
    o.target = seen->target;
    o.headers = seen->headers;
    o.body = seen->body;
  }
  for (size_t i = 0; i < corpus.size(); ++i) {
    if (out[i].result == 'A') continue;
    bool errorAnswer =
        received[i].starts_with("HTTP/1.1 4") || received[i].starts_with("HTTP/1.1 5");
    if (errorAnswer || eof[i]) out[i].result = 'R';
  }
  return out;
}

std::string describe(const Outcome& o) {
  std::string s(1, o.result);
  if (o.result != 'A') return s;
  s += " " + o.method + " " + o.target + " [";
  for (auto& [n, v] : o.headers)
    s += n + ": " + v + "; ";
  return s + "] body " + std::to_string(o.body.size()) + ":" + toHex(o.body);
}

// Where this layer rejects and llhttp accepts because RFC 9112/9110 require the rejection (or
// leave the choice, and this layer takes the strict one), the reason; empty when the request
// shows none of them.
// The header lines of a raw request (up to its blank line), as name and value with the
// whitespace around the value removed: enough to name a disagreement, not a parser.
std::vector<std::pair<std::string, std::string>> rawFields(std::string_view request) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t at = request.find("\r\n");
  while (at != std::string_view::npos) {
    size_t end = request.find("\r\n", at + 2);
    if (end == std::string_view::npos || end == at + 2) break;
    std::string_view line = request.substr(at + 2, end - at - 2);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      out.emplace_back(line.substr(0, colon), value);
    }
    at = end;
  }
  return out;
}

// Where this layer rejects a request llhttp accepts (or still waits on), because RFC 9112/9110
// require the rejection or leave the choice and this layer takes the strict one: the reason.
// Empty when the request shows none of them.
std::string knownDisagreement(const std::string& request, const Outcome& mine,
                              const Outcome& node) {
  if (mine.result != 'R' || node.result == 'R') return {};
  if (request.starts_with("CONNECT ")) return "CONNECT refused (501); llhttp makes a tunnel";
  std::string_view requestLine(request.data(), request.find('\n'));
  if (requestLine.find("HTTP/1.0") == std::string_view::npos &&
      requestLine.find("HTTP/1.1") == std::string_view::npos) {
    return "version other than 1.0/1.1 (505)";
  }
  int hosts = 0;
  for (auto& [name, value] : rawFields(request)) {
    bool isHost = strcasecmp(name.c_str(), "host") == 0;
    hosts += isHost;
    if (isHost && !isValidHost(value)) return "invalid Host";
    if (!isToken(name)) return "header name not a token";
    if (strcasecmp(name.c_str(), "expect") == 0 && strcasecmp(value.c_str(), "100-continue") != 0) {
      return "unknown expectation (417)";
    }
    if (strcasecmp(name.c_str(), "transfer-encoding") == 0) {
      if (requestLine.find("HTTP/1.0") != std::string_view::npos) {
        return "Transfer-Encoding in an HTTP/1.0 request";
      }
      if (!isChunkedOnly(value)) return "transfer coding other than chunked";
    }
  }
  if (hosts > 1) return "more than one Host";
  if (node.result == 'A' && !isValidTarget(node.target, node.method == "OPTIONS")) {
    return "request-target form";
  }
  size_t headEnd = request.find("\r\n\r\n");
  std::string_view head(request.data(),
                        headEnd == std::string::npos ? request.size() : headEnd + 4);
  if (!headLinesValid(head)) return "obs-fold or whitespace-led line";
  return {};
}

TEST(HttpDifferentialTest, AgreesWithLlhttpOnAMutatedCorpus) {
  std::vector<std::string> corpus = testing::mutatedCorpus(1200, 11);
  std::vector<Outcome> node = runNode(corpus);
  std::vector<Outcome> mine = runLayer(corpus);
  // "Incomplete" from Node means it gave no verdict within its wait, which on a starved machine
  // can be a slow answer rather than llhttp waiting for more bytes. Requests where that would
  // be an unexplained disagreement are asked again, alone and with a longer wait, so that a
  // slow run never passes for a difference between the parsers.
  for (int round = 0; round < 2; ++round) {
    std::vector<size_t> again;
    for (size_t i = 0; i < corpus.size(); ++i) {
      if (node[i].result == 'I' && describe(mine[i]) != describe(node[i]) &&
          knownDisagreement(corpus[i], mine[i], node[i]).empty()) {
        again.push_back(i);
      }
    }
    if (again.empty()) break;
    std::vector<std::string> subset;
    for (size_t i : again)
      subset.push_back(corpus[i]);
    std::vector<Outcome> retried = runNode(subset, 3000 * (round + 1));
    for (size_t k = 0; k < again.size(); ++k)
      node[again[k]] = retried[k];
  }
  std::map<std::string, int> explained;
  int agreed = 0, unexplained = 0;
  std::map<char, int> classes;
  for (size_t i = 0; i < corpus.size(); ++i) {
    classes[node[i].result]++;
    std::string a = describe(mine[i]), b = describe(node[i]);
    if (a == b) {
      ++agreed;
      continue;
    }
    std::string why = knownDisagreement(corpus[i], mine[i], node[i]);
    if (!why.empty()) {
      ++explained[why];
      continue;
    }
    if (++unexplained <= 200) {
      ADD_FAILURE() << "request " << i << " " << nlohmann::json(toHex(corpus[i])).dump()
                    << "\n  layer:  " << a << "\n  llhttp: " << b;
    }
  }
  std::string summary;
  for (auto& [why, count] : explained)
    summary += "  " + why + ": " + std::to_string(count) + "\n";
  std::cout << "agreed " << agreed << " of " << corpus.size() << " (llhttp: " << classes['A']
            << " accepted, " << classes['R'] << " rejected, " << classes['I']
            << " incomplete); documented disagreements:\n"
            << summary;
  EXPECT_EQ(unexplained, 0);
  EXPECT_GT(classes['A'], 200);
  EXPECT_GT(classes['R'], 200);
}

}  // namespace
}  // namespace isolated::http
