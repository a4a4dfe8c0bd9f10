#include "libs/config/proto_loader.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "yaml-cpp/yaml.h"

namespace omnicx::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status Bad(absl::string_view where, absl::string_view path,
                 absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, "setting ", path, ": ", why));
}

// Sets (or, for repeated fields, adds) one scalar value.
absl::Status SetScalar(Message* message, const FieldDescriptor* field,
                       absl::string_view text, absl::string_view where,
                       absl::string_view path) {
  const Reflection* r = message->GetReflection();
  const bool repeated = field->is_repeated();
  const std::string value(text);
  auto fail = [&](absl::string_view want) {
    return Bad(where, path,
               absl::StrCat("\"", absl::CHexEscape(value), "\" is not ", want));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      repeated ? r->AddString(message, field, value)
               : r->SetString(message, field, value);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(value, &v)) return fail("a 32-bit integer");
      repeated ? r->AddInt32(message, field, v)
               : r->SetInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(value, &v)) return fail("an integer");
      repeated ? r->AddInt64(message, field, v)
               : r->SetInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(value, &v)) return fail("a non-negative integer");
      repeated ? r->AddUInt32(message, field, v)
               : r->SetUInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(value, &v)) return fail("a non-negative integer");
      repeated ? r->AddUInt64(message, field, v)
               : r->SetUInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v;
      if (!absl::SimpleAtod(value, &v) || !std::isfinite(v)) {
        return fail("a finite number");
      }
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        repeated ? r->AddDouble(message, field, v)
                 : r->SetDouble(message, field, v);
      } else {
        repeated ? r->AddFloat(message, field, static_cast<float>(v))
                 : r->SetFloat(message, field, static_cast<float>(v));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      const std::string lower = absl::AsciiStrToLower(value);
      bool v;
      if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") {
        v = true;
      } else if (lower == "false" || lower == "0" || lower == "no" ||
                 lower == "off") {
        v = false;
      } else {
        return fail("true or false");
      }
      repeated ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* e = field->enum_type()->FindValueByName(value);
      if (e == nullptr) {
        std::string names;
        for (int i = 0; i < field->enum_type()->value_count(); ++i) {
          absl::StrAppend(&names, i ? ", " : "",
                          field->enum_type()->value(i)->name());
        }
        return fail(absl::StrCat("one of ", names));
      }
      repeated ? r->AddEnum(message, field, e) : r->SetEnum(message, field, e);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return Bad(where, path, "a group of settings, not a single value");
  }
  return Bad(where, path, "unsupported type");
}

std::string Where(absl::string_view source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return absl::StrCat(source, ": ");
  return absl::StrCat(source, ":", mark.line + 1, ": ");
}

std::string Join(absl::string_view path, absl::string_view name) {
  return path.empty() ? std::string(name) : absl::StrCat(path, ".", name);
}

absl::Status MergeNode(const YAML::Node& node, absl::string_view source,
                       absl::string_view path, Message* message);

absl::Status MergeValue(const YAML::Node& node, absl::string_view source,
                        const std::string& path, Message* message,
                        const FieldDescriptor* field) {
  const Reflection* r = message->GetReflection();
  if (field->is_map()) {
    if (!node.IsMap()) return Bad(Where(source, node), path, "must be a map");
    const FieldDescriptor* key_field = field->message_type()->map_key();
    const FieldDescriptor* value_field = field->message_type()->map_value();
    for (const auto& kv : node) {
      Message* entry = r->AddMessage(message, field);
      const std::string key = kv.first.as<std::string>();
      const std::string entry_path = absl::StrCat(path, "[", key, "]");
      absl::Status s =
          SetScalar(entry, key_field, key, Where(source, kv.first), entry_path);
      if (!s.ok()) return s;
      s = MergeValue(kv.second, source, entry_path, entry, value_field);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (field->is_repeated()) {
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsSequence()) {
      return Bad(Where(source, node), path, "must be a list");
    }
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = absl::StrCat(path, "[", i, "]");
      const YAML::Node item = node[i];
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        absl::Status s =
            MergeNode(item, source, item_path, r->AddMessage(message, field));
        if (!s.ok()) return s;
      } else {
        if (!item.IsScalar()) {
          return Bad(Where(source, item), item_path, "must be a single value");
        }
        absl::Status s = SetScalar(message, field, item.Scalar(),
                                   Where(source, item), item_path);
        if (!s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    return MergeNode(node, source, path, r->MutableMessage(message, field));
  }
  if (!node.IsScalar()) {
    return Bad(Where(source, node), path, "must be a single value");
  }
  return SetScalar(message, field, node.Scalar(), Where(source, node), path);
}

absl::Status MergeNode(const YAML::Node& node, absl::string_view source,
                       absl::string_view path, Message* message) {
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) {
    return Bad(Where(source, node), path.empty() ? "(top level)" : path,
               "must be a map of settings");
  }
  const Descriptor* d = message->GetDescriptor();
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      return Bad(Where(source, kv.first), path, "non-text key");
    }
    const std::string name = kv.first.Scalar();
    const std::string field_path = Join(path, name);
    const FieldDescriptor* field = d->FindFieldByName(name);
    if (field == nullptr) {
      return Bad(Where(source, kv.first), field_path, "not a known setting");
    }
    absl::Status s = MergeValue(kv.second, source, field_path, message, field);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

void CollectEnvironmentNames(
    absl::string_view prefix, const Descriptor& d, const std::string& path,
    std::vector<std::pair<std::string, std::string>>* out) {
  for (int i = 0; i < d.field_count(); ++i) {
    const FieldDescriptor* f = d.field(i);
    if (f->is_repeated()) continue;
    const std::string p = Join(path, f->name());
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      CollectEnvironmentNames(prefix, *f->message_type(), p, out);
      continue;
    }
    out->emplace_back(absl::StrCat(prefix, "_",
                                   absl::AsciiStrToUpper(
                                       absl::StrReplaceAll(p, {{".", "_"}}))),
                      p);
  }
}

}  // namespace

absl::Status SetFieldFromText(Message* message, absl::string_view path,
                              absl::string_view text) {
  Message* current = message;
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* field =
        current->GetDescriptor()->FindFieldByName(parts[i]);
    if (field == nullptr) return Bad("", path, "not a known setting");
    if (i + 1 == parts.size()) {
      if (field->is_repeated()) {
        return Bad("", path, "a list; set it in the YAML file");
      }
      return SetScalar(current, field, text, "", path);
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        field->is_repeated()) {
      return Bad("", path, "not a known setting");
    }
    current = current->GetReflection()->MutableMessage(current, field);
  }
  return Bad("", path, "empty");
}

absl::Status MergeYaml(absl::string_view yaml, absl::string_view source,
                       Message* message) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports parse errors only by exception; contained here.
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  try {
    return MergeNode(root, source, "", message);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ": ", e.msg));
  }
}

absl::Status MergeYamlFile(const std::string& path, Message* message) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read config file \"", path, "\""));
  }
  std::stringstream text;
  text << in.rdbuf();
  return MergeYaml(text.str(), path, message);
}

std::vector<std::pair<std::string, std::string>> EnvironmentNames(
    absl::string_view prefix, const Descriptor& descriptor) {
  std::vector<std::pair<std::string, std::string>> out;
  CollectEnvironmentNames(prefix, descriptor, "", &out);
  return out;
}

absl::Status MergeEnvironment(absl::string_view prefix, Message* message,
                              const EnvLookup& lookup) {
  for (const auto& [env, path] :
       EnvironmentNames(prefix, *message->GetDescriptor())) {
    const char* value = lookup(env.c_str());
    if (value == nullptr) continue;
    absl::Status s = SetFieldFromText(message, path, value);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment ", env, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status MergeFlags(const std::vector<std::string>& args,
                        Message* message) {
  for (const std::string& arg : args) {
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", arg,
                       "\" (flags look like --redis.address=host:port)"));
    }
    absl::string_view body = absl::string_view(arg).substr(2);
    const size_t eq = body.find('=');
    absl::Status s;
    if (eq == absl::string_view::npos) {
      s = SetFieldFromText(message, body, "true");
    } else {
      s = SetFieldFromText(message, body.substr(0, eq), body.substr(eq + 1));
    }
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "flag ", arg.substr(0, arg.find('=')), ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace omnicx::config
