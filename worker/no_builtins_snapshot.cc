// The empty built-ins snapshot, linked only into isolated_mksnapshot: the tool that makes the
// real one cannot embed it. StartupSnapshot::builtIn() reports that there is none.
#include <string_view>

namespace isolated::worker {

extern const std::string_view kBuiltinsSnapshot;
const std::string_view kBuiltinsSnapshot;

}  // namespace isolated::worker
