// The synthetic instruction suite: four task families with distinct input
// domains (uppercase letters, digits, short lowercase words, brackets), each
// with 6 held-in and 3 held-out tasks built from shared operations
// (primitives.h). A task is a list of operations applied in order, an input
// sampler, and its own instruction templates; the instruction never names
// the task. Held-out tasks are compositions or close variants of held-in ones
// and declare which held-in tasks they are related to.
//
// The same operations, under opaque codes and without instructions, make the
// pretraining corpus (pretrain_corpus.h): "qz|QMBXT=" -> "TXBMQ".
//
//   for (const Task& task : AllTasks()) {
//     Rng rng(StableHash(task.spec.name, seed));
//     Items input = task.sample(rng);
//     TaskExample example = RenderExample(task, input, rng);  // source, target
//   }
#ifndef LIBRA_DATA_SYNTHETIC_TASKS_H_
#define LIBRA_DATA_SYNTHETIC_TASKS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/data/synthetic/primitives.h"
#include "src/data/synthetic/rng.h"

namespace libra::data::synthetic {

struct Family {
  std::string name;       // "letters"
  std::string domain;     // what its inputs are, in words
  std::string separator;  // between items in text: "" or " "
};

// An operation of one family: a primitive with its input distribution.
struct Operation {
  std::string name;    // "reverse"; the same name means the same primitive in every family
  std::string code;    // opaque two-letter code used by the pretraining corpus
  std::string family;
  std::function<Items(const Items&)> apply;
  std::function<Items(Rng&)> sample;  // inputs this operation is shown on
  bool keeps_domain;   // output is a sequence of the same domain (composable)
};

struct TaskSpec {
  std::string name;
  std::string family;
  bool held_out = false;
  std::vector<std::string> operations;  // applied in order
  std::vector<std::string> related;     // held-in tasks a held-out task derives from
  std::vector<std::string> templates;   // each holds "{x}" once
};

struct Task {
  TaskSpec spec;
  std::string separator;
  std::function<Items(Rng&)> sample;             // the first operation's sampler
  std::function<Items(const Items&)> answer;     // the operations composed
};

struct TaskExample {
  std::string input;   // the raw input as it appears in the source
  std::string source;  // instruction with the input
  std::string target;  // the answer
};

std::vector<Family> Families();
// Every family's operations, in a fixed order.
std::vector<Operation> Operations();
// All tasks: held-in first, in family order, then held-out.
std::vector<Task> AllTasks();
absl::StatusOr<Task> FindTask(absl::string_view name);

// Fills a random template of `task` with `input`.
TaskExample RenderExample(const Task& task, const Items& input, Rng& rng);

}  // namespace libra::data::synthetic

#endif  // LIBRA_DATA_SYNTHETIC_TASKS_H_
