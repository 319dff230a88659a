// Measures the HTTP/1.1 request parsers packaged in Debian 12 on the same inputs, to choose the
// one the supervisor's connection layer (supervisor/http/) uses. Figures go to docs/http-layer.md.
// Build and run (needs libhttp-parser-dev, libhtp-dev and node-llhttp, which ships llhttp's
// generated C sources; only this measurement uses the last two):
//   L=/usr/share/llhttp; cc -O2 -I/usr/share/include/llhttp bench/http_parser_candidates*.c
//     $L/llhttp.c $L/api.c $L/http.c -lhttp_parser $(pkg-config --cflags --libs htp) -o /tmp/hpc
//   /tmp/hpc
#include <htp/htp.h>
#include <http_parser.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

// wrk's request, and a browser-like one with a dozen headers.
static const char kSmall[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
static const char kBrowser[] =
    "GET /api/items?page=2&sort=name HTTP/1.1\r\n"
    "Host: example.test\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: none\r\n"
    "Cache-Control: max-age=0\r\n"
    "\r\n";

// In http_parser_candidates_llhttp.c: llhttp's header clashes with http_parser.h.
double benchLlhttp(const char* req, int iterations);
const char* llhttpVersion(void);

double now(void);
double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int count;
static int onComplete(http_parser* p) {
  (void)p;
  count++;
  return 0;
}
static int onData(http_parser* p, const char* at, size_t n) {
  (void)p, (void)at, (void)n;
  return 0;
}

static double benchHttpParser(const char* req, int iterations) {
  http_parser_settings s;
  memset(&s, 0, sizeof s);
  s.on_url = onData;
  s.on_header_field = onData;
  s.on_header_value = onData;
  s.on_message_complete = onComplete;
  http_parser p;
  http_parser_init(&p, HTTP_REQUEST);
  size_t len = strlen(req);
  count = 0;
  double t0 = now();
  for (int i = 0; i < iterations; i++) http_parser_execute(&p, &s, req, len);
  double t = now() - t0;
  if (count != iterations) fprintf(stderr, "http-parser: %d of %d parsed\n", count, iterations);
  return t / iterations * 1e9;
}

static int htpComplete(htp_tx_t* tx) {
  (void)tx;
  count++;
  return HTP_OK;
}

static double benchHtp(const char* req, int iterations) {
  htp_cfg_t* cfg = htp_config_create();
  htp_config_set_server_personality(cfg, HTP_SERVER_APACHE_2);
  htp_config_register_request_complete(cfg, htpComplete);
  htp_connp_t* connp = htp_connp_create(cfg);
  htp_connp_open(connp, "127.0.0.1", 1000, "127.0.0.1", 80, NULL);
  size_t len = strlen(req);
  // libhtp keeps every transaction of a connection until it is closed, so a fresh connection
  // parser is made every 1,000 requests (included in the figure: it is part of using it).
  count = 0;
  double t0 = now();
  for (int i = 0; i < iterations; i++) {
    if (i % 1000 == 999) {
      htp_connp_destroy_all(connp);
      connp = htp_connp_create(cfg);
      htp_connp_open(connp, "127.0.0.1", 1000, "127.0.0.1", 80, NULL);
    }
    htp_connp_req_data(connp, NULL, req, len);
  }
  double t = now() - t0;
  htp_connp_destroy_all(connp);
  htp_config_destroy(cfg);
  if (count != iterations) fprintf(stderr, "libhtp: %d of %d parsed\n", count, iterations);
  return t / iterations * 1e9;
}

int main(void) {
  const int n = 1000000;
  printf("request             http-parser 2.9.4   llhttp %s   %s\n", llhttpVersion(),
         htp_get_version());
  printf("wrk (%3zu bytes)      %8.0f ns      %8.0f ns     %8.0f ns\n", strlen(kSmall),
         benchHttpParser(kSmall, n), benchLlhttp(kSmall, n), benchHtp(kSmall, n / 10));
  printf("browser (%3zu bytes)  %8.0f ns      %8.0f ns     %8.0f ns\n", strlen(kBrowser),
         benchHttpParser(kBrowser, n), benchLlhttp(kBrowser, n), benchHtp(kBrowser, n / 10));
  return 0;
}
