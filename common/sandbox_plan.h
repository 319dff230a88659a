// What the sandbox does to a worker process between fork and exec (sandbox/child_setup.h), as
// resolved once at start-up by sandbox::prepareWorkerSandbox: the user to become, the
// namespaces the kernel allows, the resource limits. Plain data so that the child, which may
// only make async-signal-safe calls, reads it without allocating.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace isolated {

struct SandboxPlan {
  // Off (--sandbox off): the child only closes inherited descriptors.
  bool enabled = false;
  // Root only: become uid/gid (supplementary groups: gid alone). The bounding set is dropped
  // while still root, since that needs CAP_SETPCAP.
  bool setIdentity = false;
  uid_t uid = 0;
  gid_t gid = 0;
  // CLONE_NEW* flags for the clone() that starts the child. As root these are the
  // pid/net/ipc/mount namespaces; as non-root CLONE_NEWUSER is among them and owns the others.
  int cloneFlags = 0;
  // Root: a user namespace made after becoming uid (made as root, it would keep kuid 0 and its
  // file ownership).
  bool userNamespaceAfterIdentity = false;
  // Resource limits, soft = hard. 0 for nproc: left as inherited (no per-worker user
  // namespace to count threads in, and the user's other processes would count).
  uint64_t nofile = 64;
  uint64_t nproc = 0;
};

}  // namespace isolated
