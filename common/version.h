// The program's version, reported by --version, the worker Hello and (later) the control socket.
#pragma once

namespace isolated {
inline constexpr const char* kVersion = "0.1.0";
}
