// The settings of one `isolated serve` run, as parsed from flags and environment variables by
// cli/serve_options. Plain data: the supervisor reads it, nothing mutates it after start-up.
#pragma once

#include <cstdint>
#include <string>

#include "common/logger.h"

namespace isolated {

struct ServeConfig {
  // Absolute path of the script to serve.
  std::string scriptPath;
  // Name the script is known by in requests and logs (its file name).
  std::string scriptName;

  std::string listenHost = "127.0.0.1";
  uint16_t listenPort = 8080;

  uint32_t workers = 2;
  // Seconds that SIGTERM waits for requests in flight before stopping the workers anyway.
  uint32_t drainTimeoutSec = 30;

  // Outstanding requests one worker may hold (WORKER_TASK_QUEUE_SIZE).
  uint32_t workerQueueSize = 100;
  // Requests the supervisor holds when every worker is full or none is ready, and how long one
  // may wait there before the client gets 503.
  uint32_t queueSize = 1000;
  uint32_t queueTimeoutMs = 10000;

  uint32_t maxBodyBytes = 32u << 20;
  uint32_t maxHeaderBytes = 16384;
  uint32_t maxUrlBytes = 8192;

  // Ping period and how long a Pong may take before the worker counts as unhealthy.
  uint32_t healthIntervalMs = 30000;
  uint32_t healthTimeoutMs = 5000;

  LogLevel logLevel = LogLevel::kInfo;
  LogFormat logFormat = LogFormat::kText;
};

}  // namespace isolated
