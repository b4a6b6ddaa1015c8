// The generic pretraining corpus: the suite's operations applied to inputs of
// every domain, written with opaque operation codes instead of instructions,
// so a base model trained on it is a competent sequence model but has never
// seen an instruction:
//   source "qz|QMBXT="      target "TXBMQ"    (one operation)
//   source "qz.jk|QMBXT="   target "UYCNR"    (two, applied left to right)
// "|" and "=" occur in no input domain, so the input is delimited even for
// brackets. Compositions chain an operation that keeps the domain with any
// other operation of the same family. task_name is "pretrain/<family>/<codes>".
//
// A share of the lines (framed_fraction) is laid out like an instruction, but
// with meaningless capitalised filler words in place of English: the input at
// the end, the start or in the middle, the codes somewhere else:
//   "Tami qz Bo: QMBXT"   "QMBXT\nLu qz"   "Ra QMBXT Sefo qz.jk"
// The base model then learns to find the input wherever it sits and to take
// the operation from a word elsewhere in the source, so a task's LoRA only has
// to map the instruction's words to an operation it already knows.
//
//   PretrainOptions options;
//   options.seed = 3;
//   std::vector<FlanExample> corpus = GeneratePretrainCorpus(options);
#ifndef LIBRA_DATA_SYNTHETIC_PRETRAIN_CORPUS_H_
#define LIBRA_DATA_SYNTHETIC_PRETRAIN_CORPUS_H_

#include <cstdint>
#include <vector>

#include "src/data/flan_example.h"

namespace libra::data::synthetic {

struct PretrainOptions {
  uint64_t seed = 0;
  int examples = 50000;
  double composition_fraction = 0.3;
  double framed_fraction = 0.5;
  double validation_fraction = 0.02;  // by content hash; the rest is train
};

std::vector<FlanExample> GeneratePretrainCorpus(const PretrainOptions& options);

}  // namespace libra::data::synthetic

#endif  // LIBRA_DATA_SYNTHETIC_PRETRAIN_CORPUS_H_
