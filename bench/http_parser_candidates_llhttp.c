// llhttp's half of bench/http_parser_candidates.c (its header clashes with http_parser.h).
#include <llhttp.h>
#include <stdio.h>
#include <string.h>

extern int count;
double now(void);
double benchLlhttp(const char* req, int iterations);
const char* llhttpVersion(void);

static int llComplete(llhttp_t* p) {
  (void)p;
  count++;
  return 0;
}
static int llData(llhttp_t* p, const char* at, size_t n) {
  (void)p, (void)at, (void)n;
  return 0;
}

double benchLlhttp(const char* req, int iterations) {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_url = llData;
  s.on_header_field = llData;
  s.on_header_value = llData;
  s.on_message_complete = llComplete;
  llhttp_t p;
  llhttp_init(&p, HTTP_REQUEST, &s);
  size_t len = strlen(req);
  count = 0;
  double t0 = now();
  for (int i = 0; i < iterations; i++) llhttp_execute(&p, req, len);
  double t = now() - t0;
  if (count != iterations) fprintf(stderr, "llhttp: %d of %d parsed\n", count, iterations);
  return t / iterations * 1e9;
}

const char* llhttpVersion(void) {
  static char text[16];
  snprintf(text, sizeof text, "%d.%d.%d", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR,
           LLHTTP_VERSION_PATCH);
  return text;
}
