// prometheus-cpp's Exposer (civetweb) with the options from argv, for hostile.py (README.md).
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <iostream>
int main(int argc, char** argv) {
  std::vector<std::string> opts(argv + 1, argv + argc);
  prometheus::Exposer exposer(opts);
  auto registry = std::make_shared<prometheus::Registry>();
  auto& fam = prometheus::BuildCounter().Name("probe_total").Help("h").Register(*registry);
  for (int i = 0; i < 200; ++i) fam.Add({{"i", std::to_string(i)}}).Increment(i);
  exposer.RegisterCollectable(registry);
  std::cerr << "ready\n";
  pause();
}
