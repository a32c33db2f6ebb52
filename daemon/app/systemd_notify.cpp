#include "app/systemd_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>

namespace netlens::systemd {
namespace {

// STATUS= is one line: a newline would end the field and start a bogus assignment.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

void Send(const std::string& state, const std::string& status) {
  std::string message = state;
  if (!status.empty()) message += (message.empty() ? "" : "\n") + ("STATUS=" + OneLine(status));
  // unset_environment = 0: netlens starts no children, and keeping NOTIFY_SOCKET lets later
  // notifications (RELOADING, STOPPING) reach systemd.
  const int result = sd_notify(0, message.c_str());
  if (result < 0) {
    spdlog::debug("sd_notify({}) failed: {}", message, std::strerror(-result));
  } else if (result > 0) {
    spdlog::debug("sd_notify: {}", message);
  }
}

}  // namespace

void NotifyReady(const std::string& status) { Send("READY=1", status); }
void NotifyReloading(const std::string& status) { Send("RELOADING=1", status); }
void NotifyStopping(const std::string& status) { Send("STOPPING=1", status); }
void NotifyStatus(const std::string& status) { Send("", status); }

bool UnderServiceManager() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && socket[0] != '\0';
}

}  // namespace netlens::systemd
