// The scenario the aggregation-level tests share: one nl-traffic run of known calls, checked
// against the helper's own report before any netlens series is asserted.
#pragma once

#include "expect.h"
#include "traffic_run.h"

namespace netlens::test {

// 5 connections of 7 rounds, 1,000-byte requests and 30,000-byte responses over `family` (4 or
// 6), by a process with a comm of its own.
inline TrafficOptions LevelTraffic(int family) {
  return TrafficOptions{.comm = UniqueComm(),
                        .family = family,
                        .connections = 5,
                        .rounds = 7,
                        .request = 1000,
                        .response = 30000};
}

// Runs nl-traffic and requires that it made exactly the calls asked of it.
inline TrafficReport RunCheckedTraffic(const TrafficOptions& options) {
  TrafficReport report = RunTraffic(options);
  RequireHelperCalls(options, report);
  return report;
}

}  // namespace netlens::test
