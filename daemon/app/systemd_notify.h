// The systemd notification protocol (Type=notify, sd_notify(3)): each call is one datagram to
// $NOTIFY_SOCKET, and does nothing when that is unset (netlens not started by systemd).
// Failures are logged at debug level and otherwise ignored: a lost notification must not stop
// the daemon.
#pragma once

#include <string>

namespace netlens::systemd {

// READY=1: start-up is over (programs attached, port bound, privileges dropped).
void NotifyReady(const std::string& status);
// RELOADING=1 before a SIGHUP reload; NotifyReady() afterwards.
void NotifyReloading(const std::string& status);
// STOPPING=1 at shutdown.
void NotifyStopping(const std::string& status);
// STATUS=... only: the one-line state `systemctl status` shows.
void NotifyStatus(const std::string& status);

// Whether $NOTIFY_SOCKET is set, i.e. a service manager listens.
bool UnderServiceManager();

}  // namespace netlens::systemd
