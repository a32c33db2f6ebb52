// Kubernetes pod names and namespaces by pod uid, from the kubelet's pod log
// directory (/var/log/pods/NAMESPACE_PODNAME_UID), read again when a uid is
// missing, at most every few seconds, and bounded.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace netlens {

struct PodName {
  std::string k8s_namespace;
  std::string name;
};

// "default_web-7d4b9c_8a1e2b3c-..." -> {uid, {namespace, name}}; nullopt if not of that shape.
std::optional<std::pair<std::string, PodName>> ParsePodDirectoryName(const std::string& entry);

class PodDirectory {
 public:
  using Clock = std::chrono::steady_clock;
  PodDirectory(std::string directory, size_t capacity);

  // nullopt when the uid is not (yet) in the directory.
  std::optional<PodName> Lookup(const std::string& uid, Clock::time_point now);
  size_t size() const { return pods_.size(); }

 private:
  void Rescan();

  std::string directory_;
  size_t capacity_;
  std::map<std::string, PodName> pods_;
  std::optional<Clock::time_point> scanned_at_;
};

}  // namespace netlens
