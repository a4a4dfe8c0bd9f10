#include "services/journey/aggregate_delta.h"

#include "absl/strings/str_cat.h"
#include "omnicx/journey/v1/state.pb.h"

namespace omnicx::journey {
namespace {

void Add(AggregateFields& to, const std::string& field, int64_t d) {
  if (d == 0) return;
  auto [it, inserted] = to.emplace(field, d);
  if (inserted) return;
  it->second += d;
  if (it->second == 0) to.erase(it);
}

}  // namespace

std::string EncodeDelta(const AggregateFields& pain,
                        const std::vector<FunnelMove>& moves,
                        const std::vector<FunnelMove>& retracted) {
  omnicx::journey::v1::AggregateDelta delta;
  for (const auto& [field, d] : pain) {
    if (d != 0) (*delta.mutable_pain())[field] += d;
  }
  for (const auto& [day, field] : moves) {
    (*delta.mutable_funnel())[absl::StrCat(day, "|", field)] += 1;
  }
  for (const auto& [day, field] : retracted) {
    auto& n = (*delta.mutable_funnel())[absl::StrCat(day, "|", field)];
    if (--n == 0) delta.mutable_funnel()->erase(absl::StrCat(day, "|", field));
  }
  if (delta.pain().empty() && delta.funnel().empty()) return "";
  return delta.SerializeAsString();
}

absl::Status AddDelta(absl::string_view record, FoldedDeltas* sum) {
  omnicx::journey::v1::AggregateDelta delta;
  if (!delta.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return absl::DataLossError("aggregate delta record is corrupt");
  }
  for (const auto& [field, d] : delta.pain()) Add(sum->pain, field, d);
  for (const auto& [key, d] : delta.funnel()) {
    const size_t bar = key.find('|');
    if (bar == std::string::npos) {
      return absl::DataLossError("aggregate delta funnel field is corrupt");
    }
    AggregateFields& day = sum->funnel[key.substr(0, bar)];
    Add(day, key.substr(bar + 1), d);
    if (day.empty()) sum->funnel.erase(key.substr(0, bar));
  }
  return absl::OkStatus();
}

}  // namespace omnicx::journey
