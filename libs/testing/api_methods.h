// Every method of every omnicx.v1 service, as gRPC full names
// ("/omnicx.v1.ProfileService/GetProfile"), read from the generated
// descriptors, so tests that walk the API (authorisation tables) cover a new
// method the moment it is added to a .proto.
//
//   for (const std::string& method : AllApiMethods()) { ... }
#ifndef OMNICX_LIBS_TESTING_API_METHODS_H_
#define OMNICX_LIBS_TESTING_API_METHODS_H_

#include <string>
#include <vector>

namespace omnicx::testing {

// The four services, in a stable order.
inline constexpr const char* kApiServices[] = {
    "omnicx.v1.IngestionService", "omnicx.v1.ProfileService",
    "omnicx.v1.JourneyService", "omnicx.v1.RecommendationService",
    "omnicx.v1.DeadLetterService"};

// Aborts if a service's descriptor is missing (a build problem, not a test
// outcome).
std::vector<std::string> AllApiMethods();

}  // namespace omnicx::testing

#endif  // OMNICX_LIBS_TESTING_API_METHODS_H_
