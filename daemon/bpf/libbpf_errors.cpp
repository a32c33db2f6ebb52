#include "bpf/libbpf_errors.h"

#include <cerrno>
#include <cstring>

namespace netlens {

std::string VerifierLogTail(const std::string& log, size_t lines) {
  size_t end = log.find('\0');
  if (end == std::string::npos) end = log.size();
  while (end > 0 && log[end - 1] == '\n') --end;
  size_t start = end;
  for (size_t seen = 0; start > 0 && seen < lines; --start) {
    if (log[start - 1] == '\n') ++seen;
  }
  return log.substr(start, end - start);
}

std::string LibbpfFailure(const std::string& what, int err, const std::string& log) {
  std::string message = what + ": " + std::strerror(err < 0 ? -err : err);
  if (err == -EPERM || err == -EACCES || err == EPERM || err == EACCES)
    message +=
        " (missing privileges? loading needs root or CAP_BPF+CAP_PERFMON; on kernels before "
        "5.11 also CAP_SYS_RESOURCE)";
  const std::string tail = VerifierLogTail(log, 40);
  if (!tail.empty()) message += "\nverifier said:\n" + tail;
  return message;
}

}  // namespace netlens
