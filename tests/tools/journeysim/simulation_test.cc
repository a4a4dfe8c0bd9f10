#include "tools/journeysim/simulation.h"

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace omnicx::journeysim {
namespace {

using ::omnicx::status::StatusIs;
using ::omnicx::v1::Channel;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);  // 2026-11-18

SimulationConfig SmallConfig() {
  SimulationConfig c;
  c.customers = 2000;
  c.events = 80000;
  c.now = kNow;
  c.run_id = "t1";
  return c;
}

Population SimulateWithSeed(const SimulationConfig& config, uint64_t seed) {
  std::mt19937_64 rng(seed);
  return Simulate(config, rng);
}

std::string Serialized(const Population& p) {
  std::string out;
  for (const auto& e : p.events) out += e.SerializeAsString();
  return out;
}

std::string TruthText(const Population& p) {
  std::ostringstream out;
  WriteGroundTruth(p, out);
  return out.str();
}

// One population shared by the statistical tests (built once).
const Population& Planted() {
  static const Population* p = [] {
    SimulationConfig c = SmallConfig();
    c.planted.push_back({"delivery", 0.35});
    return new Population(SimulateWithSeed(c, 42));
  }();
  return *p;
}

TEST(SimulationTest, SameSeedGivesByteIdenticalEventsAndGroundTruth) {
  SimulationConfig c = SmallConfig();
  c.customers = 300;
  c.events = 12000;
  c.planted.push_back({"checkout", 0.3});
  const Population a = SimulateWithSeed(c, 7);
  const Population b = SimulateWithSeed(c, 7);
  ASSERT_GT(a.events.size(), 1000u);
  EXPECT_EQ(Serialized(a), Serialized(b));
  EXPECT_EQ(TruthText(a), TruthText(b));
  const Population other = SimulateWithSeed(c, 8);
  EXPECT_NE(Serialized(a), Serialized(other));
  EXPECT_NE(TruthText(a), TruthText(other));
}

TEST(SimulationTest, EventsAreObservedOrderedUniqueAndIdentified) {
  const Population& p = Planted();
  const int64_t now = absl::ToUnixSeconds(kNow);
  std::set<std::string> ids;
  int64_t previous = 0, anonymous = 0;
  for (const auto& e : p.events) {
    EXPECT_LE(e.occurred_at().seconds(), now);
    EXPECT_GE(e.occurred_at().seconds(), now - 300 * 86400 - 86400);
    EXPECT_GE(e.occurred_at().seconds(), previous);
    previous = e.occurred_at().seconds();
    EXPECT_TRUE(ids.insert(e.event_id()).second) << e.event_id();
    EXPECT_NE(e.channel(), omnicx::v1::CHANNEL_UNSPECIFIED);
    if (e.customer().has_anonymous_id()) {
      ++anonymous;
      ASSERT_EQ(e.identities_size(), 1);
      EXPECT_EQ(e.identities(0).type(), "phone");
    }
  }
  EXPECT_GT(anonymous, 1000);
  std::set<std::string> phones;
  for (const auto& c : p.customers) {
    EXPECT_TRUE(phones.insert(c.phone).second);
    EXPECT_THAT(c.phone, ::testing::MatchesRegex("\\+1555[0-9]{7}"));
  }
  EXPECT_EQ(phones.size(), 2000u);
}

TEST(SimulationTest, EventTargetIsMetWithinAQuarter) {
  const double n = static_cast<double>(Planted().events.size());
  EXPECT_GT(n, 0.75 * 80000);
  EXPECT_LT(n, 1.25 * 80000);
}

// Share of a persona's events on the given channels.
double ChannelShare(const Population& p, Persona persona,
                    std::set<Channel> channels) {
  int64_t in = 0, all = 0;
  for (size_t k = 0; k < p.events.size(); ++k) {
    if (p.customers[p.event_customer[k]].persona != persona) continue;
    ++all;
    in += channels.count(p.events[k].channel());
  }
  return all == 0 ? 0 : static_cast<double>(in) / all;
}

TEST(SimulationTest, EachPersonaHasItsChannelMix) {
  using namespace omnicx::v1;  // NOLINT
  const Population& p = Planted();
  const std::set<Channel> digital = {CHANNEL_WEB, CHANNEL_MOBILE_APP,
                                     CHANNEL_EMAIL};
  EXPECT_GT(ChannelShare(p, Persona::kDigitalFirst, digital), 0.90);
  EXPECT_GT(ChannelShare(p, Persona::kDigitalFirst, {CHANNEL_MOBILE_APP}),
            0.25);
  EXPECT_GT(ChannelShare(p, Persona::kBranchLoyal, {CHANNEL_BRANCH}), 0.40);
  EXPECT_LT(ChannelShare(p, Persona::kBranchLoyal, {CHANNEL_MOBILE_APP}), 0.01);
  EXPECT_GT(ChannelShare(p, Persona::kB2bAccount, {CHANNEL_VOICE}), 0.05);
  EXPECT_GT(ChannelShare(p, Persona::kB2bAccount, {CHANNEL_EMAIL}), 0.25);
  EXPECT_EQ(ChannelShare(p, Persona::kB2bAccount, {CHANNEL_BRANCH}), 0);
  EXPECT_GT(ChannelShare(p, Persona::kBargainHunter, {CHANNEL_WEB}), 0.45);
  // Every persona appears, new customers only in the last 45 days.
  std::map<Persona, int> count;
  for (const auto& c : p.customers) {
    ++count[c.persona];
    if (c.persona == Persona::kNewCustomer) {
      EXPECT_GE(c.first_seen, kNow - absl::Hours(24 * 46));
    }
  }
  EXPECT_EQ(count.size(), 5u);
  for (const auto& [persona, n] : count)
    EXPECT_GT(n, 200) << PersonaName(persona);
}

TEST(SimulationTest, PlantedPainPointFailsAtItsRateOthersAtBase) {
  const Population& p = Planted();
  std::map<std::string, std::pair<int64_t, int64_t>> failed;  // failed, all
  int64_t complaints = 0, planted_complaints = 0;
  for (const auto& e : p.events) {
    if (e.type() == "delivery" || e.type() == "renewal") {
      auto& f = failed[e.type()];
      f.second++;
      f.first += e.outcome() == omnicx::v1::OUTCOME_FAILURE;
    }
    if (e.type() == "complaint") {
      ++complaints;
      planted_complaints += e.touchpoint() == "delivery";
    }
  }
  const double delivery =
      static_cast<double>(failed["delivery"].first) / failed["delivery"].second;
  const double renewal =
      static_cast<double>(failed["renewal"].first) / failed["renewal"].second;
  EXPECT_NEAR(delivery, 0.35, 0.03);
  EXPECT_NEAR(renewal, 0.03, 0.02);
  // The planted touchpoint dominates what customers complain about.
  EXPECT_GT(planted_complaints, complaints / 2);
  int64_t hit = 0;
  for (const auto& c : p.customers) hit += !c.planted_hits.empty();
  EXPECT_GT(hit, 200);
}

TEST(SimulationTest, ChurnHazardRisesWithDamage) {
  EXPECT_DOUBLE_EQ(DailyChurnHazard(Persona::kDigitalFirst, 0), 0.0001);
  EXPECT_DOUBLE_EQ(DailyChurnHazard(Persona::kDigitalFirst, 3),
                   0.0001 * std::exp(1.2 * 3));
  EXPECT_DOUBLE_EQ(DailyChurnHazard(Persona::kBargainHunter, 100), 0.05);
  EXPECT_GT(TouchpointImportance("checkout"), TouchpointImportance("login"));
}

TEST(SimulationTest, SevereBadExperiencesChurnMoreInTheHeldOutHorizon) {
  const Population& p = Planted();
  const absl::Time end = kNow + p.config.horizon;
  int64_t severe = 0, severe_churned = 0, clean = 0, clean_churned = 0;
  for (const auto& c : p.customers) {
    if (c.ChurnedBy(kNow)) continue;
    const bool churned = c.ChurnedBy(end);
    if (c.severe_experiences > 0 && c.damage_at_now > 2) {
      ++severe;
      severe_churned += churned;
    } else if (c.severe_experiences == 0 && c.damage_at_now < 0.5) {
      ++clean;
      clean_churned += churned;
    }
  }
  ASSERT_GT(severe, 100);
  ASSERT_GT(clean, 100);
  const double severe_rate = static_cast<double>(severe_churned) / severe;
  const double clean_rate = static_cast<double>(clean_churned) / clean;
  EXPECT_GT(severe_rate, 2 * clean_rate)
      << "severe " << severe_rate << " clean " << clean_rate;
}

TEST(SimulationTest, ChurnedCustomersStopGeneratingEvents) {
  const Population& p = Planted();
  std::vector<int64_t> last(p.customers.size(), 0);
  for (size_t k = 0; k < p.events.size(); ++k) {
    last[p.event_customer[k]] = p.events[k].occurred_at().seconds();
  }
  int64_t churned = 0;
  for (size_t i = 0; i < p.customers.size(); ++i) {
    if (!p.customers[i].ChurnedBy(kNow)) continue;
    ++churned;
    EXPECT_LE(last[i], absl::ToUnixSeconds(p.customers[i].churned_at));
  }
  EXPECT_GT(churned, 100);
}

TEST(SimulationTest, GroundTruthRoundTrips) {
  const Population& p = Planted();
  std::istringstream in(TruthText(p));
  ASSERT_OK_AND_ASSIGN(GroundTruth truth, ReadGroundTruth(in));
  EXPECT_EQ(truth.now, kNow);
  EXPECT_EQ(truth.horizon, absl::Hours(24 * 30));
  ASSERT_EQ(truth.planted.size(), 1u);
  EXPECT_EQ(truth.planted[0].touchpoint, "delivery");
  EXPECT_DOUBLE_EQ(truth.planted[0].failure_rate, 0.35);
  ASSERT_EQ(truth.customers.size(), p.customers.size());
  for (size_t i = 0; i < p.customers.size(); ++i) {
    EXPECT_EQ(truth.customers[i].phone, p.customers[i].phone);
    EXPECT_EQ(truth.customers[i].persona, p.customers[i].persona);
    EXPECT_EQ(truth.customers[i].churned, p.customers[i].churned);
    EXPECT_EQ(truth.customers[i].churned_at, p.customers[i].churned_at);
    EXPECT_EQ(truth.customers[i].planted_hits, p.customers[i].planted_hits);
  }
}

TEST(SimulationTest, PlantSpecsAreValidated) {
  ASSERT_OK_AND_ASSIGN(PlantedPain a, ParsePlant("touchpoint=checkout"));
  EXPECT_EQ(a.touchpoint, "checkout");
  EXPECT_DOUBLE_EQ(a.failure_rate, 0.25);
  ASSERT_OK_AND_ASSIGN(PlantedPain b,
                       ParsePlant("touchpoint=branch_counter,rate=0.5"));
  EXPECT_DOUBLE_EQ(b.failure_rate, 0.5);
  EXPECT_THAT(ParsePlant("touchpoint=nowhere"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePlant("touchpoint=delivery,rate=2"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePlant("where=delivery"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace omnicx::journeysim
