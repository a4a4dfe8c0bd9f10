// omnicx-journey: wiring only (see libs/server/service_main.h).
#include "libs/server/service_main.h"
#include "services/journey/journey_service.h"

int main(int argc, char** argv) {
  using omnicx::server::ServiceBundle;
  using omnicx::server::ServiceContext;
  return omnicx::server::ServiceMain(
      omnicx::config::Service::kJourney, argc, argv,
      [](ServiceContext& context) -> absl::StatusOr<ServiceBundle> {
        ServiceBundle bundle;
        bundle.services.push_back(
            std::make_unique<omnicx::journey::JourneyServiceImpl>());
        bundle.service_names.push_back(
            omnicx::v1::JourneyService::service_full_name());
        return bundle;
      });
}
