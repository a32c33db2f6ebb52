#include "traffic_run.h"

#include <chrono>
#include <random>
#include <sstream>
#include <stdexcept>

#ifndef NL_TRAFFIC_BINARY
#error "NL_TRAFFIC_BINARY must be defined by the build (the path of the nl-traffic executable)"
#endif

namespace netlens::test {
namespace {

using namespace std::chrono_literals;
constexpr auto kTimeout = 60s;

std::vector<std::string> Command(const TrafficOptions& options, bool hold) {
  std::vector<std::string> argv = {TrafficBinary(),
                                   "--comm",
                                   options.comm,
                                   "--server-comm",
                                   options.ServerComm(),
                                   "--family",
                                   std::to_string(options.family),
                                   "--connections",
                                   std::to_string(options.connections),
                                   "--rounds",
                                   std::to_string(options.rounds),
                                   "--request",
                                   std::to_string(options.request),
                                   "--response",
                                   std::to_string(options.response)};
  if (options.server_delay_ms > 0) {
    argv.push_back("--server-delay-ms");
    argv.push_back(std::to_string(options.server_delay_ms));
  }
  for (const auto& [flag, value] :
       {std::pair<const char*, std::string>{"--address", options.address},
        {"--port", options.port ? std::to_string(options.port) : ""},
        {"--cgroup", options.cgroup},
        {"--server-netns", options.server_netns}}) {
    if (value.empty()) continue;
    argv.push_back(flag);
    argv.push_back(value);
  }
  if (hold) argv.push_back("--hold");
  if (options.http) argv.push_back("--http");
  return argv;
}

uint64_t Number(const std::string& key, const std::string& value) {
  try {
    size_t end = 0;
    uint64_t number = std::stoull(value, &end);
    if (end == value.size()) return number;
  } catch (const std::exception&) {
  }
  throw std::runtime_error("nl-traffic printed " + key + "=" + value + ": not a number");
}

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

// Applies one "key=value ..." line of nl-traffic's output to report.
void ApplyLine(const std::string& line, TrafficReport& report) {
  if (line == "ready") return;
  if (line == "done") {
    report.done = true;
    return;
  }
  std::istringstream words(line);
  std::string word;
  TrafficConnection* connection = nullptr;
  while (words >> word) {
    size_t equals = word.find('=');
    if (equals == std::string::npos) throw std::runtime_error("nl-traffic printed '" + line + "'");
    std::string key = word.substr(0, equals);
    std::string value = word.substr(equals + 1);
    if (key == "connection") {
      connection = &report.connections.emplace_back();
    } else if (key == "client_port" && connection != nullptr) {
      connection->client_port = static_cast<uint16_t>(Number(key, value));
    } else if (key == "server_port" && connection != nullptr) {
      connection->server_port = static_cast<uint16_t>(Number(key, value));
    } else if (key == "client_pid") {
      report.client_pid = static_cast<pid_t>(Number(key, value));
    } else if (key == "server_pid") {
      report.server_pid = static_cast<pid_t>(Number(key, value));
    } else if (key == "port") {
      report.port = static_cast<uint16_t>(Number(key, value));
    } else if (key == "client_send_calls") {
      report.client_send_calls = Number(key, value);
    } else if (key == "client_recv_calls") {
      report.client_recv_calls = Number(key, value);
    } else if (key == "server_send_calls") {
      report.server_send_calls = Number(key, value);
    } else if (key == "server_recv_calls") {
      report.server_recv_calls = Number(key, value);
    } else if (key == "server_turns_us") {
      for (const std::string& turn : Split(value, ',')) {
        const size_t colon = turn.find(':');
        if (colon == std::string::npos) throw std::runtime_error("nl-traffic printed " + word);
        report.server_turn_low_us.push_back(Number(key, turn.substr(0, colon)));
        report.server_turn_high_us.push_back(Number(key, turn.substr(colon + 1)));
      }
    } else if (key == "client_waits_us") {
      for (const std::string& wait : Split(value, ','))
        report.client_wait_high_us.push_back(Number(key, wait));
    }  // comm, server_comm, family: echoes of the options
  }
}

void ApplyOutput(const std::string& output, TrafficReport& report) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) ApplyLine(line, report);
}

// Throws unless nl-traffic succeeded and reported everything.
void CheckFinished(const Child& child, const Output& output, const TrafficReport& report) {
  if (output.timed_out || !output.status.Success() || !report.done) {
    throw std::runtime_error(child.command() + ": " + (output.timed_out ? "timed out, " : "") +
                             output.status.Describe() + (report.done ? "" : ", no 'done' line") +
                             "\nstdout:\n" + output.out + "\nstderr:\n" + output.err);
  }
}

TrafficCounts Counts(const TrafficOptions& options, uint64_t exchanges, bool client) {
  uint64_t sent = client ? options.request : options.response;
  uint64_t received = client ? options.response : options.request;
  return {.sent_bytes = exchanges * sent,
          .received_bytes = exchanges * received,
          .send_calls = exchanges,
          .receive_calls = exchanges};
}

uint64_t Exchanges(const TrafficOptions& options) {
  return static_cast<uint64_t>(options.connections) * static_cast<uint64_t>(options.rounds);
}

}  // namespace

TrafficCounts ExpectedClientCounts(const TrafficOptions& options) {
  return Counts(options, Exchanges(options), true);
}
TrafficCounts ExpectedServerCounts(const TrafficOptions& options) {
  return Counts(options, Exchanges(options), false);
}
TrafficCounts ExpectedClientCountsPerConnection(const TrafficOptions& options) {
  return Counts(options, static_cast<uint64_t>(options.rounds), true);
}
TrafficCounts ExpectedServerCountsPerConnection(const TrafficOptions& options) {
  return Counts(options, static_cast<uint64_t>(options.rounds), false);
}

std::string UniqueComm() {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  static std::mt19937_64 random(std::random_device{}());
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string comm = "nlt";
  for (int i = 0; i < 6; ++i) comm += kAlphabet[pick(random)];
  return comm;
}

std::string TrafficBinary() { return NL_TRAFFIC_BINARY; }

TrafficReport RunTraffic(const TrafficOptions& options) {
  Child child(Command(options, false), SpawnOptions{});
  Output output = child.Communicate(kTimeout);
  TrafficReport report;
  ApplyOutput(output.out, report);
  CheckFinished(child, output, report);
  return report;
}

HeldTraffic::HeldTraffic(const TrafficOptions& options)
    : child_(std::make_unique<Child>(Command(options, true), SpawnOptions{.stdin_pipe = true})) {
  for (;;) {
    std::optional<std::string> line = child_->ReadLine(kTimeout);
    if (!line) {
      Output output = child_->Communicate(kTimeout);
      throw std::runtime_error(child_->command() + ": ended before 'ready' (" +
                               output.status.Describe() + ")\nstderr:\n" + output.err);
    }
    if (*line == "ready") return;
    ApplyLine(*line, report_);
  }
}

HeldTraffic::~HeldTraffic() {
  try {
    child_->CloseStdin();
    child_->WaitFor(5s);
  } catch (const std::exception&) {
    // ~Child() kills it
  }
}

const TrafficReport& HeldTraffic::Close() {
  child_->WriteStdin("close\n");
  Output output = child_->Communicate(kTimeout);
  ApplyOutput(output.out, report_);
  CheckFinished(*child_, output, report_);
  return report_;
}

}  // namespace netlens::test
