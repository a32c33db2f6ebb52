#include "metrics/counter_ledger.h"

namespace netlens {

std::string SeriesKeyOf(const std::vector<std::string>& labels) {
  std::string key;
  for (const auto& value : labels) {
    key += value;
    key += '\x1f';  // cannot occur in label values: they are sanitised or numeric
  }
  return key;
}

}  // namespace netlens
