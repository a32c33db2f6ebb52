// The message of a failed libbpf call, for the loaders of the optional eBPF objects (HTTP
// capture, nginx phases): what failed, errno's text, the privileges to fix an EPERM, and the
// tail of the verifier's log when the kernel wrote one.
#pragma once

#include <cstddef>
#include <string>

namespace netlens {

// The last `lines` lines of a verifier log buffer (NUL-terminated, or full).
std::string VerifierLogTail(const std::string& log, size_t lines);

// err: a negative or positive errno; log: the verifier log buffer ("" if none).
std::string LibbpfFailure(const std::string& what, int err, const std::string& log);

}  // namespace netlens
