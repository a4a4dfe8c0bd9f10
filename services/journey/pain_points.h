// Cross-customer pain-point analytics from incrementally maintained
// aggregates: every applied event adds the change in its customer's
// contribution (journey_state.h PainContributions) to one Redis hash, and
// ListPainPoints ranks touchpoints from that hash alone — never a scan of
// customers.
//
//   std::vector<PainPoint> top = RankPainPoints(model, fields, query);
//
// Field names: "<stage>\x1f<driver key>\x1f<metric>" for a touchpoint and
// "<stage>\x1f*\x1f<metric>" for the population of a stage, with <stage> the
// Stage enum number (the customer's stage as of their latest touchpoint).
// Pure: no gRPC, no Redis.
#ifndef OMNICX_SERVICES_JOURNEY_PAIN_POINTS_H_
#define OMNICX_SERVICES_JOURNEY_PAIN_POINTS_H_

#include <map>
#include <string>
#include <vector>

#include "omnicx/v1/journey.pb.h"
#include "services/journey/journey_model.h"

namespace omnicx::journey {

std::string AggregateField(omnicx::v1::Stage stage,
                           const std::string& driver_key,
                           const std::string& metric);
std::string PopulationField(omnicx::v1::Stage stage, const std::string& metric);

struct PainPointQuery {
  // Unspecified: all.
  omnicx::v1::Channel channel = omnicx::v1::CHANNEL_UNSPECIFIED;
  omnicx::v1::Stage stage = omnicx::v1::STAGE_UNSPECIFIED;
  int limit = 10;
  // Only pain points this team owns (model owners); empty: all.
  std::string owner;
};

// `fields` is the aggregate hash as stored (integer units of
// journey_state.h AggregateFields: churn in percentage points, wait in ms).
// Touchpoints by impact = customers affected × severity, largest first
// (ties: touchpoint, channel, type). Touchpoints with no customer left
// (after merges or erasure) are skipped.
std::vector<omnicx::v1::PainPoint> RankPainPoints(
    const CompiledModel& model, const std::map<std::string, double>& fields,
    const PainPointQuery& query);

}  // namespace omnicx::journey

#endif  // OMNICX_SERVICES_JOURNEY_PAIN_POINTS_H_
