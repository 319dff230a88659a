// Where the server is in its life, as the parts it drives (the apps' lifecycle, the worker pool)
// need to know it. The Supervisor owns the stage; the parts read it through their host
// interfaces (LifecycleHost, PoolHost).
#pragma once

namespace isolated::supervisor {

// kPaused: drained by the operator (`ctl drain`) but running. kEnding: stopping or stopped (the
// workers are being or have been shut down; nothing new starts).
enum class ServerStage { kBooting, kServing, kPaused, kDraining, kEnding };

}  // namespace isolated::supervisor
