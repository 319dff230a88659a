// The Prometheus text of the supervisor's histograms: bounds and sums are written as the
// shortest text that reads back as the same number, counts as integers.
#include <gtest/gtest.h>

#include <string>

#include "supervisor/request_metrics.h"

namespace isolated::supervisor {
namespace {

TEST(RequestMetricsTest, HistogramTextUsesTheShortestNumbers) {
  Histogram histogram({0.0005, 0.001, 2.5, 10});
  histogram.observe(0.0003);
  histogram.observe(3);
  std::string out;
  histogram.render(out, "x_seconds", "app=\"a\"");
  EXPECT_EQ(out,
            "x_seconds_bucket{app=\"a\",le=\"0.0005\"} 1\n"
            "x_seconds_bucket{app=\"a\",le=\"0.001\"} 1\n"
            "x_seconds_bucket{app=\"a\",le=\"2.5\"} 1\n"
            "x_seconds_bucket{app=\"a\",le=\"10\"} 2\n"
            "x_seconds_bucket{app=\"a\",le=\"+Inf\"} 2\n"
            "x_seconds_sum{app=\"a\"} 3.0003\n"
            "x_seconds_count{app=\"a\"} 2\n");
}

TEST(RequestMetricsTest, SumsKeepEveryDigitTheyNeed) {
  Histogram histogram({1});
  histogram.observe(0.1);
  histogram.observe(0.2);  // 0.30000000000000004 in binary floating point
  std::string out;
  histogram.render(out, "y");
  EXPECT_NE(out.find("y_sum 0.30000000000000004\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace isolated::supervisor
