#include "src/data/task_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "src/core/status_macros.h"
#include "src/data/flan_jsonl_reader.h"

namespace libra::data {
namespace {

constexpr char kManifest[] = "suite.json";

// A task as listed, before its examples are read.
struct Listed {
  FolderTask task;
  std::string file;  // relative to the folder; "" reads every .jsonl file
};

absl::StatusOr<std::vector<std::string>> JsonlFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code error;
  std::filesystem::recursive_directory_iterator it(dir, error), end;
  if (error) return absl::NotFoundError(absl::StrCat(dir, ": cannot read folder: ", error.message()));
  for (; it != end; it.increment(error)) {
    if (error) return absl::InternalError(absl::StrCat(dir, ": ", error.message()));
    if (it->is_regular_file() && absl::EndsWith(it->path().string(), ".jsonl")) {
      files.push_back(std::filesystem::relative(it->path(), dir).string());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) return absl::NotFoundError(absl::StrCat(dir, ": no .jsonl files"));
  return files;
}

absl::StatusOr<std::optional<nlohmann::json>> ReadManifest(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kManifest);
  std::ifstream in(path);
  if (!in) return std::optional<nlohmann::json>();
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  return std::optional<nlohmann::json>(std::move(doc));
}

absl::Status CheckType(const nlohmann::json& value, bool ok, const std::string& where,
                       const char* expected) {
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(where, ": expected ", expected, ", got ", value.dump()));
}

absl::StatusOr<std::vector<std::string>> StringList(const nlohmann::json& value,
                                                    const std::string& where) {
  LIBRA_RETURN_IF_ERROR(CheckType(value, value.is_array(), where, "a list of names"));
  std::vector<std::string> names;
  for (const nlohmann::json& v : value) {
    LIBRA_RETURN_IF_ERROR(CheckType(v, v.is_string(), where, "a list of names"));
    names.push_back(v.get<std::string>());
  }
  return names;
}

absl::StatusOr<Listed> ListedTask(const nlohmann::json& entry, const std::string& where) {
  LIBRA_RETURN_IF_ERROR(CheckType(entry, entry.is_object(), where, "an object"));
  Listed listed;
  auto string_field = [&](const char* key, std::string& out) -> absl::Status {
    auto it = entry.find(key);
    if (it == entry.end()) return absl::OkStatus();
    LIBRA_RETURN_IF_ERROR(CheckType(*it, it->is_string(), absl::StrCat(where, ".", key), "a string"));
    out = it->get<std::string>();
    return absl::OkStatus();
  };
  LIBRA_RETURN_IF_ERROR(string_field("name", listed.task.name));
  if (listed.task.name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": a task needs a non-empty \"name\""));
  }
  LIBRA_RETURN_IF_ERROR(string_field("family", listed.task.family));
  LIBRA_RETURN_IF_ERROR(string_field("file", listed.file));
  if (auto it = entry.find("held_out"); it != entry.end()) {
    LIBRA_RETURN_IF_ERROR(CheckType(*it, it->is_boolean(), absl::StrCat(where, ".held_out"), "true or false"));
    listed.task.held_out = it->get<bool>();
  }
  if (auto it = entry.find("related"); it != entry.end()) {
    LIBRA_ASSIGN_OR_RETURN(listed.task.related, StringList(*it, absl::StrCat(where, ".related")));
  }
  return listed;
}

// Task names found in the folder's files, in name order.
absl::StatusOr<std::vector<Listed>> DiscoverTasks(const std::string& dir,
                                                  const std::vector<std::string>& files,
                                                  const FlanReadOptions& read) {
  std::set<std::string> names;
  for (const std::string& file : files) {
    LIBRA_ASSIGN_OR_RETURN(FlanJsonlReader reader, FlanJsonlReader::Open(absl::StrCat(dir, "/", file), read));
    while (true) {
      LIBRA_ASSIGN_OR_RETURN(std::optional<FlanExample> example, reader.Next());
      if (!example) break;
      names.insert(example->task_name);
    }
  }
  std::vector<Listed> listed;
  for (const std::string& name : names) listed.push_back({FolderTask{name}, ""});
  return listed;
}

bool Keep(std::vector<FlanExample>& into, int max) { return max <= 0 || static_cast<int>(into.size()) < max; }

}  // namespace

absl::StatusOr<std::vector<FolderTask>> ReadTaskFolder(const std::string& dir,
                                                       const TaskFolderOptions& options) {
  LIBRA_ASSIGN_OR_RETURN(std::optional<nlohmann::json> manifest, ReadManifest(dir));
  const std::string manifest_path = absl::StrCat(dir, "/", kManifest);
  LIBRA_ASSIGN_OR_RETURN(std::vector<std::string> all_files, JsonlFiles(dir));
  FlanReadOptions read;
  read.split = options.split;

  std::vector<Listed> listed;
  const bool has_list = manifest && manifest->contains("tasks");
  if (has_list) {
    const nlohmann::json& list = (*manifest)["tasks"];
    LIBRA_RETURN_IF_ERROR(CheckType(list, list.is_array(), manifest_path + ": tasks", "a list"));
    for (size_t i = 0; i < list.size(); ++i) {
      LIBRA_ASSIGN_OR_RETURN(Listed l, ListedTask(list[i], absl::StrCat(manifest_path, ": tasks[", i, "]")));
      listed.push_back(std::move(l));
    }
  } else {
    // Grouping by task_name needs one on every line.
    FlanReadOptions named = read;
    named.require_task_name = true;
    LIBRA_ASSIGN_OR_RETURN(listed, DiscoverTasks(dir, all_files, named));
  }

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < listed.size(); ++i) {
    if (!index.emplace(listed[i].task.name, i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(manifest_path, ": task \"", listed[i].task.name, "\" is listed twice"));
    }
  }
  auto unknown = [&](const std::string& name, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(manifest_path, ": ", what, " names \"", name,
                                                   "\", which is not a task of ", dir));
  };
  if (manifest && manifest->contains("held_out")) {
    LIBRA_ASSIGN_OR_RETURN(std::vector<std::string> held_out,
                           StringList((*manifest)["held_out"], manifest_path + ": held_out"));
    for (const std::string& name : held_out) {
      auto it = index.find(name);
      if (it == index.end()) return unknown(name, "held_out");
      listed[it->second].task.held_out = true;
    }
  }
  for (const Listed& l : listed) {
    for (const std::string& r : l.task.related) {
      if (!index.count(r)) return unknown(r, absl::StrCat("task \"", l.task.name, "\": related"));
    }
  }

  // The family filter, before any example is read.
  if (!options.families.empty()) {
    std::vector<Listed> kept;
    for (Listed& l : listed) {
      if (std::find(options.families.begin(), options.families.end(), l.task.family) !=
          options.families.end()) {
        kept.push_back(std::move(l));
      }
    }
    if (kept.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(dir, ": no task of families [",
                                                     absl::StrJoin(options.families, ", "), "]"));
    }
    listed = std::move(kept);
    index.clear();
    for (size_t i = 0; i < listed.size(); ++i) index[listed[i].task.name] = i;
  }

  // One pass per file: a file serves the tasks that name it and the tasks
  // that read every file.
  std::map<std::string, std::vector<size_t>> readers;  // file -> tasks
  for (size_t i = 0; i < listed.size(); ++i) {
    if (listed[i].file.empty()) {
      for (const std::string& f : all_files) readers[f].push_back(i);
    } else {
      readers[listed[i].file].push_back(i);
    }
  }
  for (const auto& [file, tasks] : readers) {
    const std::string path = absl::StrCat(dir, "/", file);
    LIBRA_ASSIGN_OR_RETURN(FlanJsonlReader reader, FlanJsonlReader::Open(path, read));
    while (true) {
      LIBRA_ASSIGN_OR_RETURN(std::optional<FlanExample> example, reader.Next());
      if (!example) break;
      std::optional<size_t> owner;
      for (size_t t : tasks) {
        const Listed& l = listed[t];
        // A task's own file may leave task_name out.
        if (example->task_name == l.task.name || (example->task_name.empty() && l.file == file)) {
          owner = t;
          break;
        }
      }
      if (!owner) continue;
      FolderTask& task = listed[*owner].task;
      if (example->split == kTrainSplit) {
        if (Keep(task.train, options.max_train)) task.train.push_back(std::move(*example));
      } else if (example->split == kValidationSplit) {
        if (Keep(task.validation, options.max_validation)) task.validation.push_back(std::move(*example));
      } else if (Keep(task.test, options.max_test)) {
        task.test.push_back(std::move(*example));
      }
    }
  }

  std::vector<FolderTask> out;
  for (Listed& l : listed) {
    if (l.task.test.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir, ": task \"", l.task.name, "\" has no test examples",
          l.file.empty() ? "" : absl::StrCat(" in ", l.file)));
    }
    out.push_back(std::move(l.task));
  }
  return out;
}

}  // namespace libra::data
