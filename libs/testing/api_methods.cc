#include "libs/testing/api_methods.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "omnicx/v1/dead_letters.pb.h"
#include "omnicx/v1/ingestion.pb.h"
#include "omnicx/v1/journey.pb.h"
#include "omnicx/v1/profile.pb.h"
#include "omnicx/v1/recommendation.pb.h"

namespace omnicx::testing {

std::vector<std::string> AllApiMethods() {
  // Touch each generated file so its descriptors are in the pool.
  (void)omnicx::v1::TrackRequest::descriptor();
  (void)omnicx::v1::GetProfileRequest::descriptor();
  (void)omnicx::v1::GetJourneyRequest::descriptor();
  (void)omnicx::v1::RecommendRequest::descriptor();
  (void)omnicx::v1::DeadLetterRef::descriptor();
  std::vector<std::string> out;
  for (const char* name : kApiServices) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            name);
    if (service == nullptr) {
      std::fprintf(stderr, "AllApiMethods: no descriptor for %s\n", name);
      std::abort();
    }
    for (int i = 0; i < service->method_count(); ++i) {
      out.push_back(absl::StrCat("/", service->full_name(), "/",
                                 service->method(i)->name()));
    }
  }
  return out;
}

}  // namespace omnicx::testing
