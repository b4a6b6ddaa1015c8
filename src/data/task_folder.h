// A folder of Flan-style JSONL read as a list of tasks: what the paper labs
// read at both scales. The synthetic suite writes one (with suite.json); a
// full-scale run brings its own (for example a Flan or SNI export).
//
//   DIR/suite.json   optional manifest, every field optional:
//     {"tasks": [{"name": "cola", "file": "tasks/cola.jsonl", "held_out": false,
//                 "family": "glue", "related": ["sst2"]}, ...],
//      "held_out": ["rte", ...]}
//   DIR/**/*.jsonl   the examples, grouped by their "task_name"
//
// With a "tasks" list, tasks come in its order; a task with "file" reads that
// file (lines of another task_name are skipped), one without reads every
// .jsonl file of the folder. Without a list, every task_name found in the
// folder's .jsonl files is a task, in name order. "held_out" (top level)
// marks tasks as held out by name. Lines without "split" are assigned one
// deterministically (split.h).
//
//   LIBRA_ASSIGN_OR_RETURN(std::vector<FolderTask> tasks, ReadTaskFolder("data/flan", {}));
#ifndef LIBRA_DATA_TASK_FOLDER_H_
#define LIBRA_DATA_TASK_FOLDER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/data/flan_example.h"
#include "src/data/split.h"

namespace libra::data {

struct FolderTask {
  std::string name;
  std::string family;  // "" when the manifest gives none
  bool held_out = false;
  std::vector<std::string> related;  // names of other tasks of the folder
  std::vector<FlanExample> train, validation, test;
};

struct TaskFolderOptions {
  // Only tasks of these families (empty: all).
  std::vector<std::string> families;
  // Keep at most this many examples per task and split, the first in file
  // order (0: all): a full-scale folder may hold millions of lines.
  int max_train = 0;
  int max_validation = 0;
  int max_test = 0;
  SplitOptions split;  // for lines without "split"
};

// Errors name the folder or file: no .jsonl files, a manifest that is not
// JSON or has a field of the wrong type, a task listed twice, "held_out" or
// "related" naming an unknown task, a task without test examples, no task
// left after the family filter, and any bad JSONL line (file:line).
absl::StatusOr<std::vector<FolderTask>> ReadTaskFolder(const std::string& dir,
                                                       const TaskFolderOptions& options);

}  // namespace libra::data

#endif  // LIBRA_DATA_TASK_FOLDER_H_
