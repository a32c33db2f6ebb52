// The two sides of nl-traffic (client and server process) and their label sets per level.
#pragma once

#include <string>

#include "exposition.h"
#include "traffic_run.h"

namespace netlens::test {

struct Side {
  std::string role;       // "client" or "server", for messages
  std::string direction;  // "active" or "passive"
  Labels process;         // {pid, comm}
  TrafficCounts counts;   // everything the side moved
  TrafficCounts per_connection;
};

Side ClientSide(const TrafficOptions& options, const TrafficReport& report);
Side ServerSide(const TrafficOptions& options, const TrafficReport& report);

// process labels + direction.
Labels DirectionLabels(const Side& side);
// process labels + {direction, family, remote_address, service_port}; the service port is the
// server's listening port on both sides.
Labels RemoteLabels(const Side& side, const TrafficOptions& options, const TrafficReport& report);
// process labels + {direction, family, local_address, local_port, remote_address, remote_port}.
Labels ConnectionLabels(const Side& side, const TrafficOptions& options,
                        const TrafficReport& report, const TrafficConnection& connection);

}  // namespace netlens::test
