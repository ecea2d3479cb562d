#include "farm/containment.h"

#include <string>

namespace vmhive::farm {

Result<Containment> containment_from_name(std::string_view name) {
  if (name == "drop") return Containment::kDrop;
  if (name == "replies") return Containment::kReplies;
  if (name == "reflect") return Containment::kReflect;
  return make_error("\"" + std::string(name) + "\" is not a containment policy (drop, replies or reflect)");
}

const char* containment_name(Containment containment) {
  switch (containment) {
    case Containment::kDrop: return "drop";
    case Containment::kReplies: return "replies";
    case Containment::kReflect: return "reflect";
  }
  return "?";
}

}  // namespace vmhive::farm
