// The request corpus: see http_corpus.h.
#include "tests/http_corpus.h"

#include <random>

namespace isolated::http::testing {

std::vector<std::string> seedRequests() {
  return {
      "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n",
      "GET /a/b?c=d&e=f HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: t/1\r\n"
      "Accept: */*\r\n\r\n",
      "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n",
      "DELETE /item/7 HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
      "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
      "PUT /p HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
      "hello world",
      "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
      "PATCH /x HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 0\r\n\r\n",
      "GET /old HTTP/1.0\r\n\r\n",
      "GET /old HTTP/1.0\r\nConnection: keep-alive\r\nHost: a\r\n\r\n",
      "POST /form HTTP/1.0\r\nContent-Length: 3\r\n\r\nq=1",
      "GET http://example.test/abs HTTP/1.1\r\nHost: example.test\r\n\r\n",
      "GET /%20space%2F HTTP/1.1\r\nHost: a\r\nCookie: a=b; c=d\r\nX-Long: " +
          std::string(300, 'v') + "\r\n\r\n",
      "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
  };
}

namespace {

const char kBytes[] = {' ', '\r', '\n', '\0', ':',    '\t',   'a', '0', '-', '+',
                       ';', '/',  '#',  '@',  '\x7f', '\xff', 'Z', '9', ',', '"'};
const char* const kHeaderLines[] = {
    "Transfer-Encoding: chunked\r\n",
    "Content-Length: 5\r\n",
    "Content-Length: 0\r\n",
    "Host: b\r\n",
    "Transfer-Encoding: gzip\r\n",
    "Content-Length: -1\r\n",
    "X: a\r\n b\r\n",
    "Connection: close\r\n",
    "Expect: 100-continue\r\n",
    "Host: a@b\r\n",
    ": empty-name\r\n",
    "X-Y : z\r\n",
    "Content-Length: 1 2\r\n",
    "Transfer-Encoding: chunked, chunked\r\n",
    "X-Ok: fine\r\n",
    "Upgrade: websocket\r\n",
};
const char* const kVersions[] = {"HTTP/1.0", "HTTP/1.1", "HTTP/1.2", "HTTP/2.0", "HTTP/0.9",
                                 "HTTP/11",  "HTTP/1.",  "http/1.1", "HTTP/1.1 "};
const char* const kMethods[] = {"GET",     "POST", "PUT", "DELETE",  "PATCH", "HEAD",
                                "OPTIONS", "FROB", "get", "CONNECT", "TRACE", "G ET"};
const char* const kChunkSizes[] = {"5", "05", "0x5", "-5", "5 ", "ffffffffffffffffff", "", "g"};

size_t pick(std::mt19937& rng, size_t n) {
  return rng() % n;
}

void mutate(std::string& s, std::mt19937& rng) {
  size_t lineStart = s.find("\r\n");
  switch (pick(rng, 9)) {
    case 0:
      if (!s.empty()) s[pick(rng, s.size())] = kBytes[pick(rng, sizeof kBytes)];
      break;
    case 1:
      s.insert(s.begin() + static_cast<long>(pick(rng, s.size() + 1)),
               kBytes[pick(rng, sizeof kBytes)]);
      break;
    case 2:
      if (!s.empty()) s.erase(pick(rng, s.size()), 1);
      break;
    case 3:
      if (lineStart != std::string::npos) {
        s.insert(lineStart + 2, kHeaderLines[pick(rng, std::size(kHeaderLines))]);
      }
      break;
    case 4: {
      // Repeat the first header line.
      size_t next =
          lineStart == std::string::npos ? std::string::npos : s.find("\r\n", lineStart + 2);
      if (next != std::string::npos && next > lineStart + 2) {
        s.insert(next + 2, s.substr(lineStart + 2, next - lineStart));
      }
      break;
    }
    case 5: {
      size_t v = s.find("HTTP/1.");
      if (v != std::string::npos) s.replace(v, 8, kVersions[pick(rng, std::size(kVersions))]);
      break;
    }
    case 6: {
      size_t space = s.find(' ');
      if (space != std::string::npos) s.replace(0, space, kMethods[pick(rng, std::size(kMethods))]);
      break;
    }
    case 7: {
      size_t body = s.find("\r\n\r\n");
      if (body != std::string::npos && s.find("chunked") != std::string::npos) {
        size_t end = s.find("\r\n", body + 4);
        if (end != std::string::npos) {
          s.replace(body + 4, end - body - 4, kChunkSizes[pick(rng, std::size(kChunkSizes))]);
        }
      }
      break;
    }
    case 8: {
      // Change the case of one letter (header names are case-insensitive; methods are not).
      size_t at = pick(rng, s.size());
      if (std::isalpha(static_cast<unsigned char>(s[at]))) s[at] ^= 0x20;
      break;
    }
  }
}

}  // namespace

std::vector<std::string> mutatedCorpus(size_t count, uint32_t seed) {
  std::vector<std::string> seeds = seedRequests();
  std::vector<std::string> out = seeds;
  std::mt19937 rng(seed);
  while (out.size() < count) {
    std::string s = seeds[pick(rng, seeds.size())];
    size_t rounds = 1 + pick(rng, 3);
    for (size_t i = 0; i < rounds; ++i)
      mutate(s, rng);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace isolated::http::testing
