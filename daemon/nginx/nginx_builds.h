// The nginx builds whose struct offsets netlens knows (issue 17): the table kept in the repo
// (daemon/nginx/builds/*.yaml, written by scripts/nginx/gen-offsets.sh and compiled into the
// daemon), builds the config adds (nginx_phases.builds, the same shape), and how a binary is
// told to be one of them.
//
// A binary is a build when its file holds both the build's version string ("nginx/1.22.1") and
// its module signature ("8,4,8,0011..."; NGX_MODULE_SIGNATURE, which encodes the configure
// options that change struct layouts), each as a NUL-terminated string. A binary that matches
// none is never probed: wrong offsets would give wrong numbers, so it is named in the log and
// in netlens_nginx_binaries{build="unknown"}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ebpf/nginx/phases.h"

namespace YAML {
class Node;
}

namespace netlens::nginx {

// An instruction inside ngx_http_free_request where the probe costs less than at its entry
// (the function starts with `push`, which the kernel single-steps: about 7 us; a branch there is
// emulated), past the status' last change and before the log phase, with r in a register. Kept
// per build, by hand (daemon/nginx/builds/README.md); the daemon probes it only where the
// binary's bytes there are these bytes, else the function's entry.
struct ProbeSite {
  uint32_t offset = 0;                              // from the function's first byte
  std::string bytes;                                // the instruction's first bytes there
  nl_nginx_request_at request = NL_NGINX_AT_ENTRY;  // where r is
};

struct NginxBuild {
  std::string version;       // "1.22.1"
  std::string signature;     // NGX_MODULE_SIGNATURE
  std::string origin;        // where it was read: "builds/nginx-1.22.1-debian12-amd64.yaml:2:3"
  nl_nginx_build offsets{};  // cached_time_delta is per binary: 0 here
  std::optional<ProbeSite> site;
};

// The builds of daemon/nginx/builds/ (parsed once).
const std::vector<NginxBuild>& KnownBuilds();

// A YAML list of builds (gen-offsets.sh's output: version, signature, offsets with every field
// of nl_nginx_build but cached_time_delta); errors are ConfigError "SOURCE:LINE:COLUMN: ...".
std::vector<NginxBuild> ParseBuilds(const std::string& source, const YAML::Node& list);

struct BinaryIdentity {
  std::string version;          // from "nginx/X.Y.Z" in the file; empty if none found
  std::optional<size_t> build;  // index into the builds given
};

// image: the whole executable file.
BinaryIdentity IdentifyBinary(std::string_view image, const std::vector<NginxBuild>& builds);

}  // namespace netlens::nginx
