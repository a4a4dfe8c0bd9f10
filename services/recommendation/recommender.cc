#include "services/recommendation/recommender.h"

#include <atomic>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/keys/random_id.h"
#include "libs/logging/log.h"
#include "libs/status/error_details.h"
#include "libs/time/proto_time.h"
#include "services/recommendation/catalog.h"

namespace omnicx::recommendation {
namespace {

using omnicx::v1::Action;
using omnicx::v1::JourneySummary;
using omnicx::v1::Profile;
using omnicx::v1::RecommendResponse;
using omnicx::v1::SectionStatus;

SectionStatus Section(const std::string& name, absl::StatusCode code,
                      const std::string& message, absl::Duration latency) {
  SectionStatus s;
  s.set_section(name);
  s.set_code(static_cast<int>(code));
  s.set_message(message);
  *s.mutable_latency() = time::ToProto(latency);
  return s;
}

std::string NewDecisionId() { return keys::RandomId("d_"); }

// "consent", "cap", ... (what the metrics count suppressions by).
std::string ReasonClass(const std::string& reason) {
  const size_t colon = reason.find(':');
  return colon == std::string::npos ? reason : reason.substr(0, colon);
}

}  // namespace

// One Recommend in flight. The reads and the decision run on the Redis
// executor; the decision or the budget watchdog, whichever comes first,
// answers.
struct Recommender::Call {
  std::shared_ptr<void> in_flight;
  // When the concurrency limiter admitted it (unset: refused).
  std::optional<absl::Time> admitted;
  omnicx::v1::RecommendRequest request;
  RecommendDone done;
  absl::Time start;
  absl::Time budget_end;
  std::atomic<bool> finished{false};

  absl::Mutex mu;
  // The live customer, once read.
  std::string customer_id ABSL_GUARDED_BY(mu);
  std::optional<absl::StatusOr<Profile>> profile ABSL_GUARDED_BY(mu);
  absl::Duration profile_latency ABSL_GUARDED_BY(mu);
  std::optional<absl::StatusOr<JourneySummary>> journey ABSL_GUARDED_BY(mu);
  absl::Duration journey_latency ABSL_GUARDED_BY(mu);
  // The journey was not asked for (the customer could not be resolved).
  bool journey_skipped ABSL_GUARDED_BY(mu) = false;

  int max_actions() const {
    return request.max_actions() > 0 ? request.max_actions() : 3;
  }

  // Sections for the inputs as they stand now.
  void AddSections(RecommendResponse* r) {
    absl::MutexLock lock(&mu);
    if (!profile.has_value()) {
      *r->add_sections() =
          Section("profile", absl::StatusCode::kDeadlineExceeded,
                  "not read within the decision budget", absl::Now() - start);
    } else {
      *r->add_sections() =
          Section("profile", profile->status().code(),
                  status::CallerMessage(profile->status()), profile_latency);
    }
    if (journey_skipped) {
      *r->add_sections() =
          Section("journey", absl::StatusCode::kFailedPrecondition,
                  "not requested: customer not resolved", absl::ZeroDuration());
    } else if (!journey.has_value()) {
      *r->add_sections() =
          Section("journey", absl::StatusCode::kDeadlineExceeded,
                  "not read within the decision budget", absl::Now() - start);
    } else if (journey->ok()) {
      *r->add_sections() =
          Section("journey", absl::StatusCode::kOk, "", journey_latency);
    } else {
      *r->add_sections() =
          Section("journey", journey->status().code(),
                  absl::StrCat(status::CallerMessage(journey->status()),
                               "; decided on rules without journey features"),
                  journey_latency);
    }
  }
};

Recommender::Recommender(RecommendationStore& store, CatalogWatcher& watcher,
                         CustomerReader& reader, DeadlineTimer& timer,
                         metrics::Registry& registry,
                         RecommenderOptions options)
    : store_(store),
      watcher_(watcher),
      reader_(reader),
      timer_(timer),
      options_(std::move(options)),
      limiter_([this] {
        server::ConcurrencyLimiterOptions o;
        o.max_limit = std::max(1, options_.max_in_flight);
        o.min_limit = std::min(o.min_limit, o.max_limit);
        return o;
      }()),
      rng_(options_.seed != 0 ? options_.seed : std::random_device{}()),
      decisions_(registry.Counter(
          "omnicx_recommendation_decisions_total",
          "Recommend answers by kind (decided or fallback).", {"kind"})),
      suppressions_(registry.Counter(
          "omnicx_recommendation_suppressions_total",
          "Actions kept out of decisions, by reason class (consent, "
          "eligibility, policy, cap, global_cap, cooldown, channel, "
          "disabled).",
          {"reason"})),
      outcomes_(registry.Counter(
          "omnicx_recommendation_outcomes_total",
          "RecordOutcome calls by response and result (recorded, duplicate, "
          "not_found, error).",
          {"response", "result"})),
      fallbacks_(registry.Counter(
          "omnicx_recommendation_fallbacks_total",
          "Fallback answers by cause (budget, customer, redis, catalog, busy).",
          {"cause"})),
      inputs_status_(registry.Counter(
          "omnicx_recommendation_inputs_total",
          "Profile and journey reads by input and status code.",
          {"input", "code"})) {}

Recommender::~Recommender() {
  absl::MutexLock lock(&in_flight_mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(in_flight_mu_) {
    return in_flight_ == 0;
  };
  in_flight_mu_.AwaitWithTimeout(absl::Condition(&idle), absl::Seconds(5));
}

std::shared_ptr<void> Recommender::InFlight() {
  {
    absl::MutexLock lock(&in_flight_mu_);
    ++in_flight_;
  }
  return std::shared_ptr<void>(nullptr, [this](void*) {
    absl::MutexLock lock(&in_flight_mu_);
    --in_flight_;
  });
}

uint64_t Recommender::NextSeed() {
  absl::MutexLock lock(&rng_mu_);
  return rng_();
}

bool Recommender::Admit(const std::shared_ptr<Call>& call) {
  call->admitted = limiter_.TryAcquire();
  call->start = call->admitted.value_or(absl::Now());
  if (call->admitted.has_value()) return true;
  fallbacks_.WithLabels({"busy"}).Increment();
  Fallback(call, absl::StatusCode::kResourceExhausted,
           absl::StrCat("making as many decisions as can be made in time (",
                        limiter_.limit(), " at once)"));
  return false;
}

void Recommender::StartBudget(const std::shared_ptr<Call>& call,
                              absl::Time deadline) {
  // Leave part of the caller's deadline for the answer to travel and for a
  // busy machine to schedule the watchdog.
  const absl::Duration left = deadline - call->start;
  const absl::Duration margin = std::min(absl::Milliseconds(20), left / 5);
  call->budget_end = std::min(call->start + options_.budget, deadline - margin);
  timer_.Schedule(call->budget_end, [this, call] {
    if (call->finished.load()) return;
    fallbacks_.WithLabels({"budget"}).Increment();
    Fallback(call, absl::StatusCode::kDeadlineExceeded,
             absl::StrCat("no decision within the ",
                          absl::FormatDuration(call->budget_end - call->start),
                          " budget"));
  });
}

void Recommender::OffThread(const std::shared_ptr<Call>& call,
                            std::function<void()> work) {
  if (options_.redis_work == nullptr) {
    work();
    return;
  }
  if (!options_.redis_work->Submit(std::move(work))) {
    fallbacks_.WithLabels({"busy"}).Increment();
    Fallback(call, absl::StatusCode::kResourceExhausted,
             "too many decisions waiting for Redis");
  }
}

void Recommender::ReadAndDecide(const std::shared_ptr<Call>& call,
                                bool context) {
  if (call->finished.load()) return;
  auto count = [this](const char* input, const absl::Status& s) {
    inputs_status_
        .WithLabels({input, status::StatusCodeName(static_cast<int>(s.code()))})
        .Increment();
  };
  if (context) {
    // The profile came with the request: the journey alone.
    std::string cid;
    {
      absl::MutexLock lock(&call->mu);
      cid = call->customer_id;
    }
    absl::StatusOr<JourneySummary> j = reader_.ReadJourney(cid);
    count("journey", j.status());
    absl::MutexLock lock(&call->mu);
    call->journey = std::move(j);
    call->journey_latency = absl::Now() - call->start;
  } else {
    absl::StatusOr<CustomerInputs> in =
        reader_.Read(call->request.customer(), /*journey=*/true);
    const absl::Duration latency = absl::Now() - call->start;
    absl::MutexLock lock(&call->mu);
    call->profile_latency = latency;
    call->journey_latency = latency;
    if (!in.ok()) {
      count("profile", in.status());
      call->profile = in.status();
      call->journey_skipped = true;
    } else {
      count("profile", in->profile.status());
      count("journey", in->journey.status());
      call->customer_id = std::move(in->customer_id);
      call->profile = std::move(in->profile);
      call->journey = std::move(in->journey);
    }
  }
  Decide(call);
}

void Recommender::DecideForContext(
    const omnicx::v1::DecideForContextRequest& request, absl::Time deadline,
    ContextDone done) {
  auto call = std::make_shared<Call>();
  call->in_flight = InFlight();
  call->request = request.request();
  // The answer carries the journey the decision used. `c` is alive while
  // Finish runs `done` (Finish holds the call).
  call->done = [c = call.get(),
                done = std::move(done)](absl::StatusOr<RecommendResponse> r) {
    if (!r.ok()) {
      done(r.status());
      return;
    }
    omnicx::v1::DecideForContextResponse out;
    for (const SectionStatus& s : r->sections()) {
      if (s.section() == "journey") *out.mutable_journey_section() = s;
    }
    {
      absl::MutexLock lock(&c->mu);
      if (c->journey.has_value() && c->journey->ok()) {
        *out.mutable_journey() = **c->journey;
      }
    }
    *out.mutable_decision() = std::move(*r);
    done(std::move(out));
  };
  Profile profile;
  profile.set_customer_id(request.profile().customer_id());
  profile.set_lifetime_value(request.profile().lifetime_value());
  for (const std::string& purpose : request.profile().consented_purposes()) {
    omnicx::v1::Consent* c = profile.add_consents();
    c->set_purpose(purpose);
    c->set_granted(true);
  }
  {
    absl::MutexLock lock(&call->mu);
    call->customer_id = request.profile().customer_id();
    call->profile = std::move(profile);
    call->profile_latency = absl::ZeroDuration();
  }
  if (!Admit(call)) return;
  StartBudget(call, deadline);
  OffThread(call, [this, call] { ReadAndDecide(call, /*context=*/true); });
}

void Recommender::Recommend(const omnicx::v1::RecommendRequest& request,
                            absl::Time deadline, RecommendDone done) {
  auto call = std::make_shared<Call>();
  call->in_flight = InFlight();
  call->request = request;
  call->done = std::move(done);
  if (!Admit(call)) return;
  StartBudget(call, deadline);
  OffThread(call, [this, call] { ReadAndDecide(call, /*context=*/false); });
}

void Recommender::Decide(const std::shared_ptr<Call>& call) {
  if (call->finished.load()) return;
  const omnicx::v1::RecommendRequest& request = call->request;
  std::string cid;
  // The inputs are written once, before Decide runs on this thread, and only
  // read afterwards (by the watchdog's sections, the context's answer): they
  // are used in place, not copied.
  const Profile* profile = nullptr;
  const JourneySummary* journey = nullptr;
  absl::Status profile_status;
  {
    absl::MutexLock lock(&call->mu);
    cid = call->customer_id;
    if (call->profile.has_value()) {
      profile_status = call->profile->status();
      if (call->profile->ok()) profile = &**call->profile;
    }
    if (call->journey.has_value() && call->journey->ok()) {
      journey = &**call->journey;
    }
  }
  if (cid.empty()) {
    fallbacks_.WithLabels({"customer"}).Increment();
    Fallback(call,
             absl::IsNotFound(profile_status) ||
                     absl::IsDeadlineExceeded(profile_status)
                 ? profile_status.code()
                 : absl::StatusCode::kUnavailable,
             absl::StrCat("customer not resolved: ",
                          status::CallerMessage(profile_status)));
    return;
  }
  std::shared_ptr<const Catalog> catalog = watcher_.catalog();
  if (catalog->actions.empty()) {
    fallbacks_.WithLabels({"catalog"}).Increment();
    Fallback(call, absl::StatusCode::kUnavailable,
             "action catalog not loaded yet");
    return;
  }
  std::shared_ptr<const StatsTable> stats = watcher_.stats();
  const absl::Time now = options_.clock();
  CustomerFeatures features =
      ExtractFeatures(profile, journey, now, options_.features);
  features.intent = request.intent();
  std::mt19937_64 rng(NextSeed());
  Arbitration arbitration =
      Arbitrate(catalog->actions, features, request.channel(), *stats,
                options_.arbitration, rng, request.explain());

  ReserveRequest reserve;
  reserve.customer_id = cid;
  reserve.decision_id = NewDecisionId();
  reserve.segment = arbitration.segment;
  reserve.catalog_version = catalog->snapshot.version;
  reserve.now = now;
  reserve.retention = catalog->snapshot.retention;
  // The script walks the ranking in batches: most decisions are settled by
  // the first few candidates, and a batch only grows the script's input.
  absl::StatusOr<Reservation> reservation = Reservation();
  const size_t batch =
      std::max<size_t>(16, 4 * static_cast<size_t>(call->max_actions()));
  size_t next = 0;
  std::string full;  // the global-cap reason, once reached
  while (next < arbitration.ranked.size()) {
    const int wanted =
        call->max_actions() - static_cast<int>(reservation->chosen.size());
    if (wanted <= 0) break;
    reserve.ranked.clear();
    for (; next < arbitration.ranked.size() && reserve.ranked.size() < batch;
         ++next) {
      reserve.ranked.push_back(arbitration.ranked[next].action);
    }
    reserve.max_actions = wanted;
    absl::StatusOr<Reservation> part = store_.Reserve(reserve);
    if (!part.ok()) {
      reservation = part.status();
      break;
    }
    for (std::string& id : part->chosen) {
      reservation->chosen.push_back(std::move(id));
    }
    for (Suppression& s : part->suppressed) {
      if (absl::StartsWith(s.reason, "global_cap")) full = s.reason;
      reservation->suppressed.push_back(std::move(s));
    }
    // Past the global cap every further candidate is refused too.
    if (!full.empty()) break;
  }
  if (reservation.ok() && !full.empty()) {
    for (; next < arbitration.ranked.size(); ++next) {
      reservation->suppressed.push_back(
          {arbitration.ranked[next].action->action_id(), full});
    }
  }
  if (arbitration.ranked.empty()) {
    // Nothing eligible: the decision is still recorded (no slots taken).
    reservation = store_.Reserve(reserve);
  }
  if (absl::IsNotFound(reservation.status())) {
    // Erased: generic actions only, and nothing written for them.
    fallbacks_.WithLabels({"customer"}).Increment();
    Fallback(call, absl::StatusCode::kNotFound,
             status::CallerMessage(reservation.status()));
    return;
  }
  if (!reservation.ok()) {
    fallbacks_.WithLabels({"redis"}).Increment();
    Fallback(call, absl::StatusCode::kUnavailable,
             absl::StrCat("contact state unavailable: ",
                          status::CallerMessage(reservation.status())));
    return;
  }

  RecommendResponse response;
  response.set_decision_id(reserve.decision_id);
  response.set_segment(arbitration.segment);
  response.set_human_touch(arbitration.human_touch);
  response.set_catalog_version(catalog->snapshot.version);
  absl::flat_hash_map<std::string, const Candidate*> by_id;
  for (const Candidate& c : arbitration.ranked) {
    by_id[c.action->action_id()] = &c;
  }
  for (const std::string& id : reservation->chosen) {
    const Candidate& c = *by_id[id];
    omnicx::v1::RecommendedAction* a = response.add_actions();
    a->set_action_id(id);
    a->set_kind(KindName(c.action->kind()));
    a->set_score(c.score);
    a->set_propensity(c.propensity);
    a->set_value(c.action->value());
    for (const std::string& r :
         c.reasons.empty() ? CandidateReasons(c, features, request.channel(),
                                              arbitration.segment)
                           : c.reasons) {
      a->add_reasons(r);
    }
    a->set_talking_points(c.action->talking_points());
  }
  for (const auto& [reason_class, count] : arbitration.suppressed_by_class) {
    suppressions_.WithLabels({reason_class}).Increment(count);
  }
  for (const Suppression& s : reservation->suppressed) {
    suppressions_.WithLabels({ReasonClass(s.reason)}).Increment();
  }
  if (request.explain()) {
    for (const auto* list :
         {&arbitration.suppressed, &reservation->suppressed}) {
      for (const Suppression& s : *list) {
        omnicx::v1::SuppressedAction* out = response.add_suppressed();
        out->set_action_id(s.action_id);
        out->set_reason(s.reason);
      }
    }
    // Eligible candidates below the top max_actions.
    absl::flat_hash_set<std::string> examined(reservation->chosen.begin(),
                                              reservation->chosen.end());
    for (const Suppression& s : reservation->suppressed) {
      examined.insert(s.action_id);
    }
    for (const Candidate& c : arbitration.ranked) {
      if (examined.contains(c.action->action_id())) continue;
      omnicx::v1::SuppressedAction* out = response.add_suppressed();
      out->set_action_id(c.action->action_id());
      out->set_reason(absl::StrFormat("rank:below the top %d (priority %.4g)",
                                      call->max_actions(), c.score));
    }
  }
  call->AddSections(&response);
  Finish(call, std::move(response), false);
}

void Recommender::Fallback(const std::shared_ptr<Call>& call,
                           absl::StatusCode code, const std::string& why) {
  if (call->finished.load()) return;
  std::shared_ptr<const Catalog> catalog = watcher_.catalog();
  std::vector<const Action*> actions = catalog->actions;
  if (actions.empty()) {
    // Never loaded (Redis down since start-up): the built-in catalog.
    for (const Action& a : DefaultCatalog().actions()) actions.push_back(&a);
  }
  RecommendResponse response;
  response.set_fallback(true);
  response.set_catalog_version(catalog->snapshot.version);
  int n = 0;
  for (const Action* a : FallbackActions(actions, call->request.channel())) {
    if (n++ >= call->max_actions()) break;
    omnicx::v1::RecommendedAction* out = response.add_actions();
    out->set_action_id(a->action_id());
    out->set_kind(KindName(a->kind()));
    out->set_value(a->value());
    out->set_score(a->value() * EffectiveLever(*a));
    out->set_fallback(true);
    out->set_talking_points(a->talking_points());
    out->add_reasons(absl::StrCat("fallback: ", why));
  }
  call->AddSections(&response);
  *response.add_sections() =
      Section("decision", code, why, absl::Now() - call->start);
  Finish(call, std::move(response), true);
}

void Recommender::Finish(const std::shared_ptr<Call>& call,
                         RecommendResponse response, bool fallback) {
  if (call->finished.exchange(true)) return;
  if (call->admitted.has_value()) limiter_.Release(*call->admitted);
  decisions_.WithLabels({fallback ? "fallback" : "decided"}).Increment();
  call->done(std::move(response));
}

void Recommender::RecordOutcome(const omnicx::v1::RecordOutcomeRequest& request,
                                absl::Time /*deadline*/, OutcomeDone done) {
  const absl::Time now = options_.clock();
  std::shared_ptr<const Catalog> catalog = watcher_.catalog();
  OutcomeRequest outcome;
  outcome.decision_id = request.decision_id();
  outcome.action_id = request.action_id();
  outcome.response = request.response();
  outcome.now = now;
  outcome.occurred_at =
      request.has_occurred_at() ? time::FromProto(request.occurred_at()) : now;
  outcome.retention = catalog->snapshot.retention;
  if (const Action* a = catalog->Find(request.action_id())) {
    outcome.cooldown = absl::Seconds(a->policy().cooldown_seconds());
    outcome.retention =
        std::max(outcome.retention, absl::Seconds(EffectiveWindowSeconds(*a)));
  }
  const std::string response_name = ResponseName(request.response());
  auto record = [this, response_name](const OutcomeRequest& o)
      -> absl::StatusOr<omnicx::v1::RecordOutcomeResponse> {
    absl::StatusOr<OutcomeResult> r = store_.RecordOutcome(o);
    if (!r.ok()) {
      outcomes_
          .WithLabels({response_name,
                       absl::IsNotFound(r.status()) ? "not_found" : "error"})
          .Increment();
      return r.status();
    }
    outcomes_
        .WithLabels({response_name, r->recorded ? "recorded" : "duplicate"})
        .Increment();
    omnicx::v1::RecordOutcomeResponse out;
    out.set_recorded(r->recorded);
    return out;
  };
  // The outcome's reads and script block: they run on options_.redis_work.
  auto run = [this, outcome, record, done, in_flight = InFlight(),
              ref = request.customer()]() mutable {
    absl::StatusOr<CustomerInputs> in = reader_.Read(ref, /*journey=*/false);
    std::vector<std::string> owners;
    if (in.ok()) {
      outcome.customer_id = in->customer_id;
      owners.push_back(in->customer_id);
      // Decisions made before a merge stay under the merged id.
      if (in->profile.ok()) {
        for (const std::string& m : in->profile->merged_ids()) {
          owners.push_back(m);
        }
      }
    } else if (absl::IsNotFound(in.status())) {
      done(absl::NotFoundError("customer not found"));
      return;
    } else {
      done(status::WithRetryDelay(
          absl::UnavailableError(absl::StrCat("cannot resolve the customer: ",
                                              in.status().message())),
          absl::Seconds(1)));
      return;
    }
    absl::StatusOr<omnicx::v1::RecordOutcomeResponse> result =
        absl::NotFoundError("decision not found");
    for (const std::string& owner : owners) {
      outcome.decision_customer_id = owner;
      result = record(outcome);
      if (!absl::IsNotFound(result.status())) break;
    }
    done(std::move(result));
  };
  if (options_.redis_work == nullptr) {
    run();
    return;
  }
  if (!options_.redis_work->Submit(std::move(run))) {
    done(status::WithRetryDelay(
        absl::ResourceExhaustedError(
            "too many outcomes waiting for Redis; retry shortly"),
        absl::Milliseconds(100)));
  }
}

}  // namespace omnicx::recommendation
