#include "hdl/family.h"

#include "hdl/registry.h"

namespace chipgym::hdl {

std::string Rtl::source() const {
  std::string out;
  // Names and lengths are part of the text: tools' results depend on file names, and moving
  // text between files must not look like the same design.
  for (const auto& [name, text] : files) out += "// file " + name + " (" + std::to_string(text.size()) + " bytes)\n" + text;
  return out;
}

std::vector<const Family*> families() {
  std::vector<const Family*> out;
  for (const FamilyEntry* e : Registry<FamilyEntry>::instance().entries()) out.push_back(&e->get());
  return out;
}

const Family& family(const std::string& name) {
  return Registry<FamilyEntry>::instance().get(name, "design family").get();
}

std::shared_ptr<const Family> family_for(const std::string& name, const json& workload) {
  if (const auto* e = Registry<WorkloadFamilyEntry>::instance().find(name)) return e->build(workload);
  return std::shared_ptr<const Family>(&family(name), [](const Family*) {});  // registered: lives forever
}

}  // namespace chipgym::hdl
